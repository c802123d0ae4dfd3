using System.Collections.Frozen;
using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Risk.Features;

/// <summary>
/// The layout of the feature vector: static patient facts, then per patient measure (in <see cref="Measures.Patient"/>
/// order) the same block, then the zone environment over lags, then the season. Missing values are NaN.
/// </summary>
public static class FeatureSchema
{
    /// <summary>The per-measure block, in order.</summary>
    public static readonly IReadOnlyList<string> MeasureBlock =
    [
        "last",           // latest value by measurement time
        "hours-since",    // hours since that value was measured
        "mean-24h",       // mean of the readings of the last 24 h
        "baseline",       // personal baseline: median of the daily means of days d−30..d−3 (at least 10 days)
        "baseline-mad",   // median absolute deviation of those daily means
        "deviation",      // (mean-24h − baseline) / max(1.4826·MAD, floor): a robust z-score
        "slope-24h",      // least-squares slope of the hourly means of the last 24 h, per day
        "slope-72h",      // same over 72 h
        "sd-7d",          // SD of the daily means of the last 7 days (at least 3)
        "completeness-7d", // fraction of the last 7 days with at least one reading
        "change-3d",      // latest value − daily mean 3 days before
        "deviation-72h",  // (mean of the last 72 h − baseline) / the same robust scale: a slower prodrome, less noise
        "max-deviation-3d", // the daily mean of the last 3 days furthest from the baseline, as a robust z-score (signed)
    ];

    /// <summary>
    /// Deviations of all vitals taken together, each turned the way illness moves it (<see cref="IllnessDirection"/>):
    /// prodromes shift several vitals at once by 1–2 SD each (Hurst 2010, Yañez 2012, Alahmari 2014), which one
    /// measure's noise hides and their sum shows.
    /// </summary>
    public static readonly IReadOnlyList<string> VitalsBlock = ["vitals-deviation-24h", "vitals-deviation-72h", "vitals-deviating-24h"];

    /// <summary>
    /// The patient's exacerbation history as the programme knows it (online: alerts nurses resolved as confirmed
    /// exacerbation or hospitalised; offline: the cohort's past exacerbation onsets), before the scoring time only:
    /// onsets in the last 365 days, days since the latest, and whether one began within the last
    /// <see cref="PatientFeatureState.RecentExacerbationDays"/> days (the 8 weeks of raised risk after an episode of
    /// about a week, Hurst 2009); and the exacerbations of the year before enrolment. Frequent exacerbators stay
    /// frequent (Hurst 2010, ECLIPSE).
    /// </summary>
    public static readonly IReadOnlyList<string> HistoryBlock = ["exacerbations-365d", "days-since-exacerbation", "exacerbation-within-9w", PriorYearExacerbations];

    /// <summary>
    /// The exacerbations of the 12 months before enrolment, as recorded at enrolment (<see cref="PatientFacts.PriorYearExacerbations"/>;
    /// missing when not recorded): the history GOLD's assessment asks for, which the programme's own outcomes take a
    /// year to match.
    /// </summary>
    public const string PriorYearExacerbations = "exacerbations-year-before-enrolment";

    /// <summary>
    /// How the patient's readings are missing, across devices: readings of the last 24 h over the usual daily count
    /// (median of the baseline days with readings), and how many measures read in the last 7 days fell silent for
    /// the last 24 h. Ill patients miss readings more often (models/README.md, "Adherence").
    /// </summary>
    public static readonly IReadOnlyList<string> MissingDataBlock = ["readings-24h-vs-usual", "measures-silent-24h"];

    /// <summary>Per measure of <see cref="Measures.Patient"/>: +1 when illness raises it, −1 when it lowers it, 0 when it says nothing of a prodrome.</summary>
    public static readonly IReadOnlyList<int> IllnessDirection = [1, 1, -1, 0, 0, 1, 1, -1, 1];

    public static readonly IReadOnlyList<string> StaticBlock = ["age", "male", "copd", "heart-failure", "diabetes", "frail-elderly", "severity"];

    public static readonly IReadOnlyList<string> EnvironmentBlock = ["lag0", "mean-lag0-2", "mean-lag0-7", "max-lag0-7"];

    public static readonly IReadOnlyList<string> Names = BuildNames();

    /// <summary>
    /// What the explanations need besides the model's features, computed by the same state after them (not model
    /// inputs, so a model trained before they existed still loads): per patient measure, the hours its current
    /// deviation from the usual has lasted; per environment variable, the days in a row beyond its level
    /// (<see cref="ZoneEnvironmentState.Levels"/>). NaN when there is none.
    /// </summary>
    public static readonly IReadOnlyList<string> ExplanationNames =
        [.. Measures.Patient.Select(m => $"{m}:deviation-hours"), .. Measures.Environment.Select(v => $"{v}:days-beyond-level")];

    /// <summary>The model's features.</summary>
    public static int Count => Names.Count;

    /// <summary>The length of a computed vector: the model's features, then <see cref="ExplanationNames"/>.</summary>
    public static int VectorLength => Names.Count + ExplanationNames.Count;

    public static int DeviationHoursOffset(int measure) => Count + measure;

    public static int DaysBeyondLevelOffset(int variable) => Count + Measures.Patient.Count + variable;

    public static int MeasureOffset(int measure) => StaticBlock.Count + (measure * MeasureBlock.Count);

    /// <summary>
    /// Whether the features (of <see cref="PatientFeatureState.Compute"/>) give at least one measure a personal baseline
    /// (<see cref="PatientFeatureState.BaselineMinimumDays"/> days with readings among the baseline days; the baseline is
    /// NaN otherwise): before that the model sees a patient it does not know yet.
    /// </summary>
    public static bool HasBaseline(ReadOnlySpan<float> features)
    {
        foreach (var position in BaselinePositions)
        {
            if (!float.IsNaN(features[position]))
            {
                return true;
            }
        }

        return false;
    }

    public static int EnvironmentOffset(int variable) => StaticBlock.Count + (Measures.Patient.Count * MeasureBlock.Count) + (variable * EnvironmentBlock.Count);

    public static int VitalsOffset => SeasonOffset + 3;

    public static int HistoryOffset => VitalsOffset + VitalsBlock.Count;

    public static int MissingDataOffset => HistoryOffset + HistoryBlock.Count;

    public static int SeasonOffset => StaticBlock.Count + (Measures.Patient.Count * MeasureBlock.Count) + (Measures.Environment.Count * EnvironmentBlock.Count);

    /// <summary>The position of a feature (or of an explanation value) in the computed vector.</summary>
    public static int Index(string name) =>
        Positions.TryGetValue(name, out var index) ? index : throw new KeyNotFoundException($"no feature '{name}'");

    private static readonly FrozenDictionary<string, int> Positions =
        Names.Concat(ExplanationNames).Select((n, i) => (n, i)).ToFrozenDictionary(x => x.n, x => x.i, StringComparer.Ordinal);

    /// <summary>Each measure's baseline (after <see cref="Positions"/>, which it reads: static fields start in order).</summary>
    private static readonly int[] BaselinePositions = [.. Measures.Patient.Select(m => Index($"{m}:baseline"))];

    private static List<string> BuildNames()
    {
        var names = new List<string>(StaticBlock);
        foreach (var measure in Measures.Patient)
        {
            names.AddRange(MeasureBlock.Select(f => $"{measure}:{f}"));
        }

        foreach (var variable in Measures.Environment)
        {
            names.AddRange(EnvironmentBlock.Select(f => $"{variable}:{f}"));
        }

        names.Add("season-sin");
        names.Add("season-cos");
        names.Add("hours-since-any-reading");
        names.AddRange(VitalsBlock);
        names.AddRange(HistoryBlock);
        names.AddRange(MissingDataBlock);
        return names;
    }
}
