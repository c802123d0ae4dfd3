using System.Collections.Frozen;
using Hl7.Fhir.Model;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Server.Risk;

/// <summary>One value the risk features take: a patient measure (<see cref="Measures.Patient"/>) or an environment variable.</summary>
public readonly record struct RiskReading(string Measure, DateTimeOffset Time, double Value);

/// <summary>
/// Turns stored Observations into the readings the features were trained on: the measure keys of
/// <see cref="Measures.Patient"/> and <see cref="Measures.Environment"/>, found by the primary code the measure
/// catalogue writes (a blood-pressure panel gives its systolic and diastolic components), in the catalogue's
/// canonical UCUM unit. Anything else (other codes, other units, non-numeric values) is not a feature and is skipped.
/// </summary>
public static class RiskReadings
{
    private static readonly FrozenDictionary<string, string> MeasureByCode = Measures.Patient.Concat(Measures.Environment)
        .Select(MeasureCatalog.Get)
        .ToFrozenDictionary(d => $"{d.Code.System}|{d.Code.Code}", d => d.Key, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, string> UnitByMeasure = Measures.Patient.Concat(Measures.Environment)
        .ToFrozenDictionary(m => m, m => MeasureCatalog.Get(m).Unit, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, EnvironmentVariable> EnvironmentMeasures =
        Measures.Environment.Select((m, i) => (m, (EnvironmentVariable)i)).ToFrozenDictionary(x => x.m, x => x.Item2, StringComparer.Ordinal);

    private static readonly MeasureDefinition BloodPressure = MeasureCatalog.Get("blood-pressure");

    /// <summary>The environment variable of a measure key, or null for a patient measure.</summary>
    public static EnvironmentVariable? EnvironmentVariableOf(string measure) =>
        EnvironmentMeasures.TryGetValue(measure, out var variable) ? variable : null;

    /// <summary>
    /// The measure key of a value stored under <paramref name="code"/> (<c>system|code</c>, the component's for a panel)
    /// in <paramref name="unit"/>, or null when it is no feature (the pseudonymised export read back for training).
    /// </summary>
    public static string? MeasureOf(string code, string unit) =>
        MeasureByCode.TryGetValue(code, out var measure) && string.Equals(UnitByMeasure[measure], unit, StringComparison.Ordinal) ? measure : null;

    /// <summary>The feature readings of one Observation (none, one, or two for a blood-pressure panel).</summary>
    public static IEnumerable<RiskReading> Of(Observation observation)
    {
        ArgumentNullException.ThrowIfNull(observation);
        if (ObservationKeys.EffectiveTime(observation) is not { } time || observation.Code?.Coding.FirstOrDefault() is not { } coding)
        {
            yield break;
        }

        var code = $"{coding.System}|{coding.Code}";
        if (MeasureByCode.TryGetValue(code, out var measure))
        {
            if (Value(observation.Value as Quantity, measure) is { } value)
            {
                yield return new RiskReading(measure, time, value);
            }

            yield break;
        }

        if (coding.System != BloodPressure.Code.System || coding.Code != BloodPressure.Code.Code)
        {
            yield break;
        }

        foreach (var component in observation.Component)
        {
            var componentCoding = component.Code?.Coding.FirstOrDefault();
            if (componentCoding is not null
                && MeasureByCode.TryGetValue($"{componentCoding.System}|{componentCoding.Code}", out var componentMeasure)
                && Value(component.Value as Quantity, componentMeasure) is { } value)
            {
                yield return new RiskReading(componentMeasure, time, value);
            }
        }
    }

    private static double? Value(Quantity? quantity, string measure) =>
        quantity?.Value is { } value && string.Equals(quantity.Code, UnitByMeasure[measure], StringComparison.Ordinal) ? (double)value : null;
}
