using TeleSuivi.Server.Security;
using System.Globalization;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Board;

/// <summary>
/// The physician's patient API under <c>/api/patients/{id}</c>: who the patient is with the limits in force, vital
/// trends over 24 h / 7 d / 30 d / 90 d, the timeline of readings, alerts and actions, and the per-patient thresholds.
/// </summary>
public static class PatientEndpoints
{
    /// <summary>The charts of the patient page: the vital, the Observation code, the series (null: the value; else a component).</summary>
    private static readonly (string Id, LocalizedText Name, string Code, string Unit, string?[] Series)[] Charts =
    [
        ("spo2", new("SpO2", "SpO2"), "http://loinc.org|59408-5", "%", [null]),
        ("heart-rate", new("Heart rate", "Fréquence cardiaque"), "http://loinc.org|8867-4", "/min", [null]),
        ("blood-pressure", new("Blood pressure", "Pression artérielle"), "http://loinc.org|85354-9", "mmHg", ["8480-6", "8462-4"]),
        ("respiratory-rate", new("Respiratory rate", "Fréquence respiratoire"), "http://loinc.org|9279-1", "/min", [null]),
        ("temperature", new("Temperature", "Température"), "http://loinc.org|8310-5", "°C", [null]),
        ("weight", new("Weight", "Poids"), "http://loinc.org|29463-7", "kg", [null]),
        ("glucose", new("Glucose", "Glycémie"), "http://loinc.org|14743-9", "mmol/L", [null]),
    ];

    private static readonly Dictionary<string, (TimeSpan Span, TrendResolution Resolution)> Ranges = new(StringComparer.Ordinal)
    {
        ["24h"] = (TimeSpan.FromHours(24), TrendResolution.Raw),
        ["7d"] = (TimeSpan.FromDays(7), TrendResolution.Hour),
        ["30d"] = (TimeSpan.FromDays(30), TrendResolution.Hour),
        ["90d"] = (TimeSpan.FromDays(90), TrendResolution.Day),
    };

    public static RouteGroupBuilder MapPatientApi(this IEndpointRouteBuilder app)
    {
        // One group: authorization and the per-patient access check are added here once authentication exists.
        var group = app.MapGroup("/api/patients/{id}").WithTags("Patients").RequirePatientAccess("id", "patient.view");
        group.MapGet("/", (string id, PatientDirectory patients, ThresholdBook thresholds, TimeProvider time) =>
        {
            if (patients.Find(id) is not { } patient)
            {
                return UnknownPatient(id);
            }

            var devices = patients.AssignedDevices(time.GetUtcNow()).GetValueOrDefault(id) ?? [];
            return Results.Ok(new
            {
                patient.Id, patient.Name, patient.Zone, patient.Team, patient.Physician, patient.BirthDate,
                Conditions = patient.Conditions.Select(c => new { code = ClinicalConditions.SnomedCodeOf(c), display = ClinicalConditions.DisplayOf(c) }),
                Devices = devices,
                Thresholds = VitalSigns.All.Select(vital => LimitsView(vital, patient, thresholds.Find(id, vital.Id))),
            });
        });

        group.MapGet("/trends", async (string id, string? range, PatientDirectory patients, IObservationStore store, TimeProvider time, CancellationToken ct) =>
        {
            if (patients.Find(id) is not { } patient)
            {
                return UnknownPatient(id);
            }

            range ??= "7d";
            if (!Ranges.TryGetValue(range, out var window))
            {
                return Results.Problem(statusCode: 400, detail: $"range must be one of {string.Join(", ", Ranges.Keys)}");
            }

            var through = time.GetUtcNow();
            var from = through - window.Span;
            var charts = new List<object>();
            foreach (var chart in Charts)
            {
                var trend = await store.ReadTrendAsync("Patient/" + id, chart.Code, from, through, window.Resolution, ct);
                charts.Add(new
                {
                    chart.Id, chart.Name, chart.Unit,
                    Series = chart.Series.Select(component => new
                    {
                        Component = component,
                        Points = trend.Of(component)?.Points.Select(p => new { t = p.Time.ToUnixTimeMilliseconds(), mean = p.Mean, min = p.Min, max = p.Max }) ?? [],
                    }),
                });
            }

            var environment = patient.Zone is { } zone
                ? (await store.ReadEnvironmentAsync(zone, from, through, window.Resolution == TrendResolution.Raw ? TrendResolution.Hour : window.Resolution, ct))
                    .Select(t => new { t.Code, Points = t.Of(null)?.Points.Select(p => new { t = p.Time.ToUnixTimeMilliseconds(), mean = p.Mean }) ?? [] })
                    .ToList<object>()
                : [];
            return Results.Ok(new { range, from, through, resolution = window.Resolution.ToString().ToLowerInvariant(), charts, environment });
        });

        group.MapGet("/timeline", async (string id, DateTimeOffset? from, DateTimeOffset? to, PatientDirectory patients, IObservationStore store, AlertStore alerts, TimeProvider time, CancellationToken ct) =>
        {
            if (patients.Find(id) is null)
            {
                return UnknownPatient(id);
            }

            var through = to ?? time.GetUtcNow();
            var start = from ?? through.AddDays(-7);
            if (start > through || through - start > TimeSpan.FromDays(366))
            {
                return Results.Problem(statusCode: 400, detail: "from must be before to, at most 366 days apart");
            }

            var entries = new List<TimelineEntry>();
            foreach (var observation in await store.ReadAsync("Patient/" + id, null, start, through, 2000, ct))
            {
                entries.Add(TimelineEntry.Reading(observation));
            }

            foreach (var alert in await alerts.ListAsync(new AlertQuery { IncludeClosed = true, PatientId = id, From = start, Through = through }, ct))
            {
                entries.Add(new TimelineEntry(alert.OpenedAt, "alert", alert.Severity.ToString().ToLowerInvariant(), alert.Reason.En, alert.Id, null));
            }

            foreach (var action in await alerts.ActionsAsync(null, id, start, through, ct))
            {
                entries.Add(new TimelineEntry(action.At, "action", action.Action, action.Detail ?? action.Action, action.AlertId, action.Actor));
            }

            return Results.Ok(new { from = start, to = through, entries = entries.OrderByDescending(e => e.Time).ToList() });
        });

        group.MapPut("/thresholds/{vital}", async (string id, string vital, ThresholdRequest body, HttpContext http, PatientDirectory patients, ThresholdBook thresholds, TimeProvider time, CancellationToken ct) =>
        {
            if (patients.Find(id) is not { } patient)
            {
                return UnknownPatient(id);
            }

            if (VitalSigns.Find(vital) is not { } sign)
            {
                return UnknownVital(vital);
            }

            var limits = new VitalLimits(body.CriticalLow, body.Low, body.High, body.CriticalHigh);
            if (limits.Problem() is { } problem)
            {
                return Results.Problem(statusCode: 400, detail: problem);
            }

            if (body.Reason is { Length: > 500 })
            {
                return Results.Problem(statusCode: 400, detail: "reason is limited to 500 characters");
            }

            await thresholds.SetAsync(new PatientThreshold(id, vital, limits, Actor.Of(http), time.GetUtcNow(), body.Reason?.Trim()), ct);
            return Results.Ok(LimitsView(sign, patient, thresholds.Find(id, vital)));
        }).RequireAuthorization(policy => policy.RequireRole(Roles.Physician, Roles.Admin));

        group.MapDelete("/thresholds/{vital}", async (string id, string vital, PatientDirectory patients, ThresholdBook thresholds, CancellationToken ct) =>
        {
            if (patients.Find(id) is not { } patient)
            {
                return UnknownPatient(id);
            }

            if (VitalSigns.Find(vital) is not { } sign)
            {
                return UnknownVital(vital);
            }

            await thresholds.RemoveAsync(id, vital, ct);
            return Results.Ok(LimitsView(sign, patient, null));
        }).RequireAuthorization(policy => policy.RequireRole(Roles.Physician, Roles.Admin));
        return group;
    }

    private static object LimitsView(VitalSign vital, PatientInfo patient, PatientThreshold? custom)
    {
        var defaults = VitalSigns.DefaultsFor(vital, patient.Conditions);
        var limits = custom?.Limits ?? defaults;
        return new
        {
            vital = vital.Id, name = vital.Name, unit = vital.Unit,
            limits.CriticalLow, limits.Low, limits.High, limits.CriticalHigh,
            source = custom is null ? "default" : "patient",
            defaults,
            setBy = custom?.SetBy, setAt = custom?.SetAt, reason = custom?.Reason,
        };
    }

    private static IResult UnknownPatient(string id) => Results.Problem(statusCode: 404, detail: $"no patient '{id}' in the registry");

    private static IResult UnknownVital(string vital) =>
        Results.Problem(statusCode: 400, detail: $"'{vital}' is not a vital with limits ({string.Join(", ", VitalSigns.All.Select(v => v.Id))})");

    /// <summary>One line of the patient timeline: a reading, an alert or an action on an alert.</summary>
    private sealed record TimelineEntry(DateTimeOffset Time, string Type, string What, string Text, long? AlertId, string? Actor)
    {
        public static TimelineEntry Reading(Hl7.Fhir.Model.Observation observation)
        {
            var time = Storage.Influx.ObservationKeys.EffectiveTime(observation) ?? DateTimeOffset.MinValue;
            var name = observation.Code?.Text ?? observation.Code?.Coding.FirstOrDefault()?.Display ?? "reading";
            var values = observation.Value is Hl7.Fhir.Model.Quantity q
                ? Format(q)
                : string.Join(" / ", observation.Component.Select(c => c.Value).OfType<Hl7.Fhir.Model.Quantity>().Select(Format));
            return new TimelineEntry(time, "reading", observation.Code?.Coding.FirstOrDefault()?.Code ?? string.Empty, $"{name}: {values}", null, null);
        }

        private static string Format(Hl7.Fhir.Model.Quantity quantity) =>
            $"{quantity.Value?.ToString(CultureInfo.InvariantCulture)} {quantity.Unit}".Trim();
    }
}

public sealed record ThresholdRequest(double? CriticalLow, double? Low, double? High, double? CriticalHigh, string? Reason);
