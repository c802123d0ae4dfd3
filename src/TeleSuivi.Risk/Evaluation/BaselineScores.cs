using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Scores;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The baselines scored from the same feature vector as the model, as a programme would apply them at the daily
/// scoring time: each measure's latest value when it was taken in the last 24 h (older values are not acted upon).
/// </summary>
public static class BaselineScores
{
    /// <summary>How old a reading may be and still count.</summary>
    public const double RecentHours = 24;

    private static readonly int Copd = FeatureSchema.Index("copd");
    private static readonly int Severity = FeatureSchema.Index("severity");
    private static readonly Dictionary<string, int> LastIndex =
        Measures.Patient.ToDictionary(m => m, m => FeatureSchema.Index($"{m}:last"), StringComparer.Ordinal);

    private static readonly int WeightChange = FeatureSchema.Index($"{Measures.BodyWeight}:change-3d");

    /// <summary>
    /// Partial NEWS2 (missing parameters score 0; consciousness is never measured at home). SpO2 scale 2 for COPD of
    /// severity 3–4 (the patients most likely to have a prescribed 88–92 % target), breathing air: a programme sets
    /// this per patient; severity is the best proxy the cohort has.
    /// </summary>
    public static int News2Total(ReadOnlySpan<float> features)
    {
        var scale = features[Copd] == 1 && features[Severity] >= 3 ? SpO2Scale.Scale2 : SpO2Scale.Scale1;
        return News2.Score(new News2Input(
            RespiratoryRate: Recent(features, Measures.RespiratoryRate),
            SpO2: Recent(features, Measures.OxygenSaturation),
            OnOxygen: false,
            Systolic: Recent(features, Measures.Systolic),
            Pulse: Recent(features, Measures.HeartRate),
            TemperatureC: Recent(features, Measures.BodyTemperature),
            Scale: scale)).Total;
    }

    /// <summary>How many of the classic threshold rules (<see cref="ThresholdRules.All"/>) fire.</summary>
    public static int RulesFired(ReadOnlySpan<float> features) => ThresholdRules.Evaluate(RuleInput(features)).Count;

    public static ThresholdInput RuleInput(ReadOnlySpan<float> features)
    {
        var change = features[WeightChange];
        return new ThresholdInput(
            SpO2: Recent(features, Measures.OxygenSaturation),
            HeartRate: Recent(features, Measures.HeartRate),
            RespiratoryRate: Recent(features, Measures.RespiratoryRate),
            Systolic: Recent(features, Measures.Systolic),
            TemperatureC: Recent(features, Measures.BodyTemperature),
            WeightChange3DaysKg: float.IsFinite(change) && Recent(features, Measures.BodyWeight) is not null ? change : null,
            GlucoseMmolL: Recent(features, Measures.Glucose));
    }

    /// <summary>The latest value of a measure if it was taken in the last <see cref="RecentHours"/>, else null.</summary>
    private static double? Recent(ReadOnlySpan<float> features, string measure)
    {
        var o = LastIndex[measure];
        var last = features[o];
        var hours = features[o + 1];
        return float.IsFinite(last) && float.IsFinite(hours) && hours <= RecentHours ? last : null;
    }
}
