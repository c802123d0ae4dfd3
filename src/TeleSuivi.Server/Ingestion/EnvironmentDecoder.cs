using System.Globalization;
using System.Text.Json;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.DeadLetters;

namespace TeleSuivi.Server.Ingestion;

/// <summary>
/// The environment contract: <c>telesuivi/v1/environment/{zoneId}</c> with one JSON object or an array of them,
/// <c>{"time": ISO-8601, "pm25", "pm10", "no2", "o3" (µg/m³), "temperatureC", "humidity" (%), "pollenIndex" (0–5)}</c>,
/// any field but <c>time</c> optional. Stored as Observations whose subject is the zone (<c>Location/{zoneId}</c>).
/// </summary>
public sealed class EnvironmentDecoder(IOptions<IngestOptions> options)
{
    /// <summary>Contract field → measure key of the catalogue and the unit the contract fixes.</summary>
    private static readonly (string Field, string Measure, string Unit)[] Fields =
    [
        ("pm25", "ambient-pm25", "ug/m3"),
        ("pm10", "ambient-pm10", "ug/m3"),
        ("no2", "ambient-no2", "ug/m3"),
        ("o3", "ambient-o3", "ug/m3"),
        ("temperatureC", "ambient-temperature", "Cel"),
        ("humidity", "ambient-humidity", "%"),
        ("pollenIndex", "pollen-index", "{index}"),
    ];

    private const int MaxDepth = 8;

    private readonly ObservationFactory factory = new(new ObservationFactoryOptions { MaxFutureSkew = options.Value.MaxFutureSkew, MaxAge = options.Value.MaxAge });

    public NormalizeOutcome Normalize(string zoneId, byte[] payload, DateTimeOffset receivedAt)
    {
        if (!Hl7.Fhir.Model.Id.IsValidValue(zoneId))
        {
            return NormalizeOutcome.Reject(RejectionCodes.Topic, $"zone '{zoneId}' is not a valid id (letters, digits, '-' and '.', at most 64)");
        }

        // The JSON reader checks UTF-8 only where it must transcode (a string read later), too late for a clear reason.
        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            return NormalizeOutcome.Reject(RejectionCodes.Unparseable, $"environment/{zoneId}: the payload is not valid UTF-8 (JSON must be)");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException ex)
        {
            return NormalizeOutcome.Reject(RejectionCodes.Unparseable, $"environment/{zoneId}: invalid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            var items = root.ValueKind switch
            {
                JsonValueKind.Array => root.EnumerateArray().ToList(),
                JsonValueKind.Object => [root],
                _ => null,
            };
            if (items is null)
            {
                return NormalizeOutcome.Reject(RejectionCodes.Unparseable, $"environment/{zoneId}: expected a JSON object or an array of objects, got {root.ValueKind}");
            }

            var observations = new List<Observation>();
            var rejections = new List<(string Code, string Reason)>();
            for (var index = 0; index < items.Count; index++)
            {
                Decode(zoneId, items[index], index, receivedAt, observations, rejections);
            }

            if (rejections.Count > 0)
            {
                return new NormalizeOutcome(observations, rejections[0].Code, string.Join("; ", rejections.Select(r => r.Reason)));
            }

            return observations.Count == 0
                ? NormalizeOutcome.Reject(RejectionCodes.Unparseable, $"environment/{zoneId}: no known field (pm25, pm10, no2, o3, temperatureC, humidity, pollenIndex)")
                : NormalizeOutcome.Stored(observations);
        }
    }

    private void Decode(string zoneId, JsonElement item, int index, DateTimeOffset receivedAt, List<Observation> observations, List<(string Code, string Reason)> rejections)
    {
        var where = $"environment/{zoneId}[{index}]";
        if (item.ValueKind != JsonValueKind.Object)
        {
            rejections.Add((RejectionCodes.Unparseable, $"{where}: expected an object, got {item.ValueKind}"));
            return;
        }

        if (!item.TryGetProperty("time", out var timeElement) || timeElement.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(timeElement.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            || !(timeElement.GetString()!.EndsWith('Z') || timeElement.GetString()!.Contains('+', StringComparison.Ordinal) || timeElement.GetString()!.LastIndexOf('-') > 9))
        {
            rejections.Add((RejectionCodes.Unparseable, $"{where}: \"time\" must be an ISO-8601 date-time with an offset, e.g. 2026-01-15T08:00:00Z"));
            return;
        }

        var context = new ObservationContext($"zone-{zoneId}", null, receivedAt, "environment");
        foreach (var (field, measure, unit) in Fields)
        {
            if (!item.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            {
                rejections.Add((RejectionCodes.Unparseable, $"{where}: \"{field}\" must be a number"));
                continue;
            }

            var outcome = factory.Create(DecodedReading.OfValue(measure, time, number, unit), context);
            if (outcome.Observation is not { } observation)
            {
                rejections.Add((outcome.Kind == RejectionKind.Clock ? RejectionCodes.Clock : RejectionCodes.Implausible, $"{where}: {outcome.Error}"));
                continue;
            }

            // An environment reading belongs to a zone, not to a patient or a device.
            observation.Device = null;
            observation.Subject = new ResourceReference($"Location/{zoneId}");
            observations.Add(observation);
        }
    }
}
