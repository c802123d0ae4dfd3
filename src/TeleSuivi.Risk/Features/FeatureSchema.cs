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
    ];

    public static readonly IReadOnlyList<string> StaticBlock = ["age", "male", "copd", "heart-failure", "diabetes", "frail-elderly", "severity"];

    public static readonly IReadOnlyList<string> EnvironmentBlock = ["lag0", "mean-lag0-2", "mean-lag0-7", "max-lag0-7"];

    public static readonly IReadOnlyList<string> Names = BuildNames();

    public static int Count => Names.Count;

    public static int MeasureOffset(int measure) => StaticBlock.Count + (measure * MeasureBlock.Count);

    public static int EnvironmentOffset(int variable) => StaticBlock.Count + (Measures.Patient.Count * MeasureBlock.Count) + (variable * EnvironmentBlock.Count);

    public static int SeasonOffset => StaticBlock.Count + (Measures.Patient.Count * MeasureBlock.Count) + (Measures.Environment.Count * EnvironmentBlock.Count);

    public static int Index(string name)
    {
        for (var i = 0; i < Names.Count; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new KeyNotFoundException($"no feature '{name}'");
    }

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
        return names;
    }
}
