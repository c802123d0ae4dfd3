using Hl7.Fhir.Model;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Alerts;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Risk;

/// <summary>
/// A data folder as a programme that ran for some months leaves it, written by the platform's own classes: the
/// synthetic cohort's patients registered (birth date, sex, conditions, severity, zone), their readings stored as the
/// ingestion stores them (one Observation per device session, blood pressure as a panel), their zones' environment
/// (every 6 hours: the features keep daily means), and an alert at each exacerbation's onset that a nurse resolved as
/// <c>confirmed-exacerbation</c> (<c>hospitalised</c> for severe ones) and one at each flare resolved as a false alarm.
/// </summary>
public static class PlatformDataFolder
{
    /// <summary>Fills <paramref name="bed"/>'s folder with <paramref name="patients"/> patients over <paramref name="days"/> days ending yesterday; returns the onsets written.</summary>
    public static async Task<int> SeedAsync(AlertTestBed bed, int patients, int days, int seed)
    {
        var ct = TestContext.Current.CancellationToken;
        var d = CohortParameters.Default;
        var start = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-days - 1);
        var cohort = SyntheticCohort.Generate(
            d with { Patients = patients, Days = days, Start = start, Population = d.Population with { Zones = d.Population.Zones.Take(2).ToList() } }, seed);
        var end = cohort.Parameters.StartTime.AddDays(days);

        var entries = cohort.Patients.Select(p => $$"""
            { "fullUrl": "Patient/{{p.Profile.Id}}",
              "resource": { "resourceType": "Patient", "id": "{{p.Profile.Id}}", "gender": "{{(p.Profile.Sex == Sex.Male ? "male" : "female")}}",
                            "birthDate": "{{DateTime.UtcNow.Year - p.Profile.Age}}-01-01",
                            "extension": [ {{string.Concat(p.Profile.Conditions.Select(c => $$"""{ "url": "{{ClinicalConditions.ExtensionUrl}}", "valueCodeableConcept": { "coding": [{ "system": "http://snomed.info/sct", "code": "{{ClinicalConditions.SnomedCodeOf(c)}}" }] } },"""))}}
                                           {{(p.Profile.PriorYearExacerbations is { } prior ? $$"""{ "url": "{{PatientInfo.PriorYearExacerbationsExtensionUrl}}", "valueInteger": {{prior}} },""" : "")}}
                                           { "url": "{{PatientInfo.SeverityExtensionUrl}}", "valueInteger": {{p.Profile.Severity}} } ],
                            "address": [{ "use": "home", "postalCode": "{{p.Profile.Zone}}" }] },
              "request": { "method": "PUT", "url": "Patient/{{p.Profile.Id}}" } }
            """);
        var imported = await new RegistryBundleImporter(bed.Registry, TimeProvider.System).ImportAsync(
            $$"""{ "resourceType": "Bundle", "type": "transaction", "entry": [ {{string.Join(",", entries)}} ] }""", ct);
        Assert.NotNull(imported);

        var store = new SqliteObservationStore(Path.Combine(bed.DataDirectory, "telesuivi.db"));
        await store.InitializeAsync(ct);
        var factory = new ObservationFactory();
        var onsets = 0;
        foreach (var patient in cohort.Patients)
        {
            var observations = new List<Observation>();
            foreach (var session in patient.Readings().Where(r => r.Time < end).GroupBy(r => (r.Device, r.Time, r.ReceivedAt)))
            {
                var context = new ObservationContext($"{patient.Profile.Id}-{session.Key.Device}", patient.Profile.Id, session.Key.ReceivedAt, "test");
                observations.AddRange(factory.CreateAll(Decoded(session.Key.Time, session.ToList()), context).Observations);
            }

            await store.WriteAsync(observations, ct);
            foreach (var e in patient.Events.Where(e => e.Onset > cohort.Parameters.StartTime && e.Onset < end))
            {
                var outcome = e.Kind == EventKind.Flare ? AlertOutcomes.FalseAlarm : e.Hospitalised ? AlertOutcomes.Hospitalised : AlertOutcomes.ConfirmedExacerbation;
                onsets += e.Kind == EventKind.Exacerbation ? 1 : 0;
                await ResolveAsync(bed, patient.Profile.Id, e.Onset, outcome);
            }
        }

        foreach (var zone in cohort.Environment.Zones)
        {
            var context = new ObservationContext($"zone-{zone}", null, end, "environment");
            var observations = new List<Observation>();
            foreach (var hour in Enumerable.Range(-9, days + 9).SelectMany(day => cohort.Environment.Hourly(zone, day)).Where(h => h.Time.Hour % 6 == 0 && h.Time < end))
            {
                foreach (var (measure, value, unit) in new[]
                {
                    ("ambient-pm25", hour.Pm25, "ug/m3"), ("ambient-pm10", hour.Pm10, "ug/m3"), ("ambient-no2", hour.No2, "ug/m3"), ("ambient-o3", hour.O3, "ug/m3"),
                    ("ambient-temperature", hour.TemperatureC, "Cel"), ("ambient-humidity", hour.Humidity, "%"), ("pollen-index", hour.PollenIndex, "{index}"),
                })
                {
                    var observation = factory.Create(DecodedReading.OfValue(measure, hour.Time, value, unit), context).Observation!;
                    observation.Device = null;
                    observation.Subject = new ResourceReference($"Location/{zone}");
                    observations.Add(observation);
                }
            }

            await store.WriteAsync(observations, ct);
        }

        return onsets;
    }

    /// <summary>One device session as the device decoders give it: a blood-pressure pair as one panel, every other value alone.</summary>
    private static List<DecodedReading> Decoded(DateTimeOffset time, List<CohortReading> session)
    {
        var readings = new List<DecodedReading>();
        var systolic = session.FirstOrDefault(r => r.Measure == Measures.Systolic);
        var diastolic = session.FirstOrDefault(r => r.Measure == Measures.Diastolic);
        if (systolic.Measure is not null && diastolic.Measure is not null)
        {
            readings.Add(new DecodedReading("blood-pressure", time, [new(Measures.Systolic, systolic.Value, "mm[Hg]"), new(Measures.Diastolic, diastolic.Value, "mm[Hg]")]));
        }

        foreach (var reading in session.Where(r => r.Measure is not (Measures.Systolic or Measures.Diastolic)).GroupBy(r => r.Measure).Select(g => g.First()))
        {
            readings.Add(DecodedReading.OfValue(reading.Measure, time, reading.Value, MeasureCatalog.Get(reading.Measure).Unit));
        }

        return readings;
    }

    /// <summary>An alert opened at <paramref name="at"/>, resolved by a nurse a few hours later with <paramref name="outcome"/>, its condition ended a day later.</summary>
    private static async Task ResolveAsync(AlertTestBed bed, string patient, DateTimeOffset at, string outcome)
    {
        var ct = TestContext.Current.CancellationToken;
        bed.Clock.Now = at;
        var alert = await bed.RaiseAsync(AlertTestBed.Draft(patient: patient, kind: AlertKinds.Risk, subject: string.Empty));
        bed.Clock.Now = at + TimeSpan.FromHours(3);
        Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "nurse-1", ct)).Succeeded);
        Assert.True((await bed.Workflow.ResolveAsync(alert.Id, "nurse-1", outcome, null, ct)).Succeeded);

        // The risk falls back a day later: the next alert of the patient is a new one.
        await bed.Store.EndConditionAsync(new AlertKey(patient, AlertKinds.Risk, string.Empty), new LocalizedText("risk back to usual", "risque revenu à l'habitude"), at + TimeSpan.FromDays(1), ct);
    }
}
