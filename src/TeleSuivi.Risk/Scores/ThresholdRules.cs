namespace TeleSuivi.Risk.Scores;

/// <summary>
/// What the classic rules look at, as of one moment: the latest value of each measure (null: none recent) and the
/// weight change over three days (latest weight minus the weight about 72 h before it).
/// </summary>
public sealed record ThresholdInput(
    double? SpO2 = null,
    double? HeartRate = null,
    double? RespiratoryRate = null,
    double? Systolic = null,
    double? TemperatureC = null,
    double? WeightChange3DaysKg = null,
    double? GlucoseMmolL = null);

/// <summary>One fixed-threshold alert rule of home telemonitoring, with the source of its threshold.</summary>
public sealed record ThresholdRule(string Id, string Description, string Source, Func<ThresholdInput, bool> Fires);

/// <summary>
/// The classic threshold rules of home telemonitoring programmes: the baseline a personalised model must beat at the
/// same alert budget. Each rule fires on its own; the number of rules fired ranks patients when a budget allows
/// fewer alerts than rules fired.
/// </summary>
public static class ThresholdRules
{
    public static IReadOnlyList<ThresholdRule> All { get; } =
    [
        new("spo2-below-90", "SpO2 below 90 %",
            "Widely used alert threshold of COPD telemonitoring protocols (named in issue 5); 90 % is also the usual "
            + "definition of hypoxaemia (BTS guideline for oxygen use in adults, O'Driscoll et al., Thorax 2017).",
            i => i.SpO2 < 90),
        new("weight-gain-2kg-3d", "weight gain of more than 2 kg in 3 days",
            "ESC heart-failure guidelines, patient self-care advice: act on a sudden weight gain of > 2 kg in 3 days "
            + "(Ponikowski et al., Eur Heart J 2016; McDonagh et al., Eur Heart J 2021).",
            i => i.WeightChange3DaysKg > 2),
        new("heart-rate-above-110", "heart rate above 110 /min",
            "Named in issue 5; the NEWS2 pulse band 111–130 scores 2 (RCP 2017).",
            i => i.HeartRate > 110),
        new("respiratory-rate-25", "respiratory rate of 25 /min or more",
            "NEWS2 respiration band ≥ 25 scores 3, a 'red' single-parameter trigger (RCP 2017).",
            i => i.RespiratoryRate >= 25),
        new("systolic-90-or-less", "systolic pressure of 90 mmHg or less",
            "NEWS2 systolic band ≤ 90 scores 3, a 'red' single-parameter trigger (RCP 2017).",
            i => i.Systolic <= 90),
        new("temperature-38", "temperature of 38.0 °C or more",
            "Usual definition of fever; NEWS2 starts scoring at 38.1 °C (RCP 2017).",
            i => i.TemperatureC >= 38.0),
        new("glucose-below-3", "glucose below 3.0 mmol/L",
            "Level 2 (clinically significant) hypoglycaemia, ADA Standards of Care (American Diabetes Association, Diabetes Care 2018 onwards).",
            i => i.GlucoseMmolL < 3.0),
        new("glucose-above-16.7", "glucose above 16.7 mmol/L (300 mg/dL)",
            "Common alert threshold of diabetes telemonitoring programmes; no single guideline source (the ADA advises "
            + "checking ketones above 13.9 mmol/L / 250 mg/dL). Treat as a programme choice.",
            i => i.GlucoseMmolL > 16.7),
    ];

    /// <summary>The rules that fire for this input.</summary>
    public static IReadOnlyList<ThresholdRule> Evaluate(ThresholdInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return All.Where(rule => rule.Fires(input)).ToList();
    }
}
