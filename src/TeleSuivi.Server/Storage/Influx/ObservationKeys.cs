using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// What both stores index an Observation by, defined once so that they agree (kept here with the InfluxDB schema for
/// now; <see cref="SqliteObservationStore"/> uses it too).
/// </summary>
internal static class ObservationKeys
{
    /// <summary>Reads back what the stores wrote without validating it again: a stored Observation is returned as it was given.</summary>
    public static readonly FhirJsonDeserializer Deserializer = FhirJsonDeserializer.OSTRICH;

    public static readonly FhirJsonSerializer Serializer = new();

    /// <summary><c>system|code</c> of the first coding of <c>Observation.code</c> (the FHIR search token form), or empty.</summary>
    public static string CodeToken(Observation observation)
    {
        var coding = observation.Code?.Coding.FirstOrDefault();
        return coding is null ? string.Empty : $"{coding.System}|{coding.Code}";
    }

    /// <summary>The effective time in milliseconds since 1970: <c>effectiveDateTime</c>, the start of <c>effectivePeriod</c>, or <c>effectiveInstant</c>.</summary>
    public static long EffectiveMilliseconds(Observation observation) => observation.Effective switch
    {
        FhirDateTime dateTime when dateTime.TryToDateTimeOffset(out var value) => value.ToUnixTimeMilliseconds(),
        Period { StartElement: { } start } when start.TryToDateTimeOffset(out var value) => value.ToUnixTimeMilliseconds(),
        Instant { Value: { } value } => value.ToUnixTimeMilliseconds(),
        _ => throw new ArgumentException($"Observation {observation.Id} has no effective time", nameof(observation)),
    };

    public static Observation Parse(string json) => Deserializer.Deserialize<Observation>(json);
}
