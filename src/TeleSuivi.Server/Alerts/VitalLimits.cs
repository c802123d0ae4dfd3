using System.Globalization;
using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// The hard limits of one vital sign: below <see cref="CriticalLow"/> or above <see cref="CriticalHigh"/> is critical,
/// below <see cref="Low"/> or above <see cref="High"/> a warning; a null bound is not checked.
/// </summary>
public sealed record VitalLimits(double? CriticalLow, double? Low, double? High, double? CriticalHigh)
{
    public static readonly VitalLimits None = new(null, null, null, null);

    /// <summary>The severity of a value, or null when it is within the limits; and which limit it crossed.</summary>
    public (AlertSeverity? Severity, double? Limit, bool Below) Classify(double value) =>
        value < CriticalLow ? (AlertSeverity.Critical, CriticalLow, true)
        : value > CriticalHigh ? (AlertSeverity.Critical, CriticalHigh, false)
        : value < Low ? (AlertSeverity.Warning, Low, true)
        : value > High ? (AlertSeverity.Warning, High, false)
        : (null, null, false);

    /// <summary>Why the limits cannot be used, or null: each bound must be a number and they must be in order.</summary>
    public string? Problem()
    {
        double?[] bounds = [CriticalLow, Low, High, CriticalHigh];
        if (bounds.Any(b => b is { } v && (double.IsNaN(v) || double.IsInfinity(v))))
        {
            return "every limit must be a finite number";
        }

        if (bounds.All(b => b is null))
        {
            return "at least one limit is needed (remove the patient's thresholds to go back to the defaults)";
        }

        var present = bounds.Where(b => b is not null).Select(b => b!.Value).ToList();
        for (var i = 1; i < present.Count; i++)
        {
            if (present[i] <= present[i - 1])
            {
                return "limits must increase: critical low < low < high < critical high";
            }
        }

        return null;
    }

    public string Describe(string unit)
    {
        string Bound(double? value) => value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : "–";
        return $"critical < {Bound(CriticalLow)}, warning < {Bound(Low)} or > {Bound(High)}, critical > {Bound(CriticalHigh)} {unit}";
    }
}

/// <summary>A vital sign the engine watches, with the codes of the Observations that carry it.</summary>
/// <param name="Codes"><c>system|code</c> of the Observations (first coding), any of them.</param>
/// <param name="Component">The component code to read in a panel (systolic in the blood-pressure panel), or null for the value.</param>
/// <param name="WarningReadings">Debounce: consecutive readings beyond a warning limit before a warning is raised.</param>
/// <param name="WarningDuration">Debounce: how long those readings must span (motion artefacts and exertion pass).</param>
public sealed record VitalSign(
    string Id,
    LocalizedText Name,
    string Unit,
    IReadOnlyList<string> Codes,
    string? Component,
    int WarningReadings,
    TimeSpan WarningDuration);

/// <summary>
/// The vital signs with hard limits, and their default limits per condition. Sources: NEWS2 (Royal College of
/// Physicians 2017) bands for the general defaults; BTS oxygen guideline (O'Driscoll et al., Thorax 2017) target
/// 88–92 % for COPD at risk of hypercapnia; ESC heart-failure guidelines (McDonagh et al., 2021) for the 2 kg in
/// 3 days weight gain; ADA Standards of Care levels 1 and 2 hypoglycaemia (3.9 and 3.0 mmol/L); the lower fever
/// threshold of frail older adults (37.8 °C, IDSA guideline for long-term care, High et al., 2009).
/// </summary>
public static class VitalSigns
{
    private const string Loinc = "http://loinc.org|";

    public const string WeightGainId = "weight-gain-3d";

    public static readonly VitalSign SpO2 = new("spo2", new("SpO2", "SpO2"), "%", [Loinc + "59408-5", Loinc + "2708-6"], null, 2, TimeSpan.Zero);

    public static readonly VitalSign HeartRate = new("heart-rate", new("Heart rate", "Fréquence cardiaque"), "/min", [Loinc + "8867-4", Loinc + "76282-3"], null, 3, TimeSpan.FromMinutes(10));

    public static readonly VitalSign RespiratoryRate = new("respiratory-rate", new("Respiratory rate", "Fréquence respiratoire"), "/min", [Loinc + "9279-1"], null, 2, TimeSpan.Zero);

    public static readonly VitalSign Systolic = new("systolic", new("Systolic pressure", "Pression systolique"), "mmHg", [Loinc + "85354-9", Loinc + "8480-6"], "8480-6", 2, TimeSpan.Zero);

    public static readonly VitalSign Temperature = new("temperature", new("Temperature", "Température"), "°C", [Loinc + "8310-5"], null, 1, TimeSpan.Zero);

    public static readonly VitalSign Glucose = new("glucose", new("Glucose", "Glycémie"), "mmol/L",
        [Loinc + "14743-9", Loinc + "14749-6", Loinc + "15074-8", "https://telesuivi.org/fhir/CodeSystem/measure|glucose-interstitial-fluid"], null, 1, TimeSpan.Zero);

    /// <summary>The weight change over about three days (latest weight minus the weight ~72 h before), not a reading.</summary>
    public static readonly VitalSign WeightGain = new(WeightGainId, new("Weight gain in 3 days", "Prise de poids en 3 jours"), "kg", [Loinc + "29463-7"], null, 1, TimeSpan.Zero);

    public static readonly IReadOnlyList<VitalSign> All = [SpO2, HeartRate, RespiratoryRate, Systolic, Temperature, Glucose, WeightGain];

    private static readonly Dictionary<string, VitalSign> ById = All.ToDictionary(v => v.Id, StringComparer.Ordinal);

    private static readonly Dictionary<string, VitalSign> ByCode = All.SelectMany(v => v.Codes.Select(c => (c, v)))
        .GroupBy(p => p.c, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().v, StringComparer.Ordinal);

    public static VitalSign? Find(string id) => ById.GetValueOrDefault(id);

    /// <summary>The vital sign an Observation code carries, if any.</summary>
    public static VitalSign? ForCode(string code) => ByCode.GetValueOrDefault(code);

    /// <summary>
    /// The default limits of a vital for a patient's conditions: the general defaults, replaced vital by vital by
    /// the first of the patient's conditions (COPD, heart failure, diabetes, frail elderly, in that order) that
    /// sets that vital.
    /// </summary>
    public static VitalLimits DefaultsFor(VitalSign vital, IReadOnlyCollection<Condition> conditions)
    {
        ArgumentNullException.ThrowIfNull(vital);
        ArgumentNullException.ThrowIfNull(conditions);
        foreach (var condition in Enum.GetValues<Condition>())
        {
            if (conditions.Contains(condition) && ConditionLimits(condition, vital.Id) is { } limits)
            {
                return limits;
            }
        }

        return GeneralLimits(vital.Id);
    }

    private static VitalLimits GeneralLimits(string vital) => vital switch
    {
        "spo2" => new(88, 92, null, null),
        "heart-rate" => new(40, 50, 110, 130),
        "respiratory-rate" => new(8, null, 21, 25),
        "systolic" => new(90, 100, 180, 220),
        "temperature" => new(34, 35, 38, 39.5),
        "glucose" => new(3.0, 3.9, 13.9, 16.7),
        _ => VitalLimits.None,
    };

    private static VitalLimits? ConditionLimits(Condition condition, string vital) => (condition, vital) switch
    {
        (Condition.Copd, "spo2") => new(85, 88, null, null),
        (Condition.Copd, "respiratory-rate") => new(8, null, 24, 28),
        (Condition.HeartFailure, "heart-rate") => new(40, 50, 100, 120),
        (Condition.HeartFailure, "systolic") => new(85, 95, 160, 200),
        (Condition.HeartFailure, WeightGainId) => new(null, null, 2.0, 3.5),
        (Condition.FrailElderly, "temperature") => new(34, 35.5, 37.8, 39),
        (Condition.FrailElderly, "systolic") => new(95, 105, 180, 220),
        _ => null,
    };
}
