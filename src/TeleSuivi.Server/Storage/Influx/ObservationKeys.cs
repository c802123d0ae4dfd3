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

    /// <summary>The name of the Observation's own numeric value among its numeric fields.</summary>
    public const string ValueField = "value";

    /// <summary>The prefix of a component's numeric field: <c>c:</c> and the code of the component's first coding.</summary>
    public const string ComponentFieldPrefix = "c:";

    /// <summary>
    /// The numbers trends, aggregates and the board work on, as both stores keep them: <c>value</c> for
    /// <c>valueQuantity.value</c> (or <c>valueInteger</c>, or <c>valueBoolean</c> as 1 or 0), and <c>c:&lt;code&gt;</c> for the
    /// <c>valueQuantity.value</c> of the first component whose first coding has that code (a later component with the
    /// same code is not a field). The InfluxDB schema (SCHEMA.md) writes exactly these fields.
    /// </summary>
    public static IEnumerable<(string Field, double Value)> NumericFields(Observation observation)
    {
        if (ValueOf(observation.Value) is { } value)
        {
            yield return (ValueField, value);
        }

        HashSet<string>? claimed = null;
        foreach (var component in observation.Component)
        {
            var key = ComponentKey(component);
            if (key is null || !(claimed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key))
            {
                continue;
            }

            if (component.Value is Quantity { Value: { } number })
            {
                yield return (key, (double)number);
            }
        }
    }

    /// <summary>The field key of a component's value: <c>c:</c> and the code of its first coding (e.g. <c>c:8480-6</c>).</summary>
    public static string? ComponentKey(Observation.ComponentComponent component) =>
        component.Code?.Coding.FirstOrDefault()?.Code is { Length: > 0 } code ? ComponentFieldPrefix + code : null;

    /// <summary>The unit of <c>valueQuantity</c>: its UCUM code, or its text when it has no code; null otherwise.</summary>
    public static string? UnitOf(Observation observation) =>
        observation.Value is Quantity quantity ? (string.IsNullOrEmpty(quantity.Code) ? quantity.Unit : quantity.Code) : null;

    /// <summary>The Observation's own value as a number: a quantity's value, an integer, a boolean as 1 or 0; else null.</summary>
    public static double? ValueOf(DataType? value) => value switch
    {
        Quantity { Value: { } number } => (double)number,
        Integer { Value: { } number } => number,
        FhirBoolean { Value: { } flag } => flag ? 1 : 0,
        _ => null,
    };
}
