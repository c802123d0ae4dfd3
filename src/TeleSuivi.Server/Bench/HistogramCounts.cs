using System.Globalization;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// The cumulative bucket counts of one of the platform's Prometheus histograms as a poll of <c>/metrics</c> read them
/// (<c>name_bucket{le="…"}</c>), so that two polls can be subtracted to see the distribution during one load.
/// </summary>
public sealed class HistogramCounts
{
    private readonly SortedDictionary<double, long> cumulative = [];

    /// <summary>No poll yet: nothing observed.</summary>
    public static HistogramCounts Empty => new();

    /// <summary>Takes one bucket line's labels (<c>le="0.25"</c> or <c>le="+Inf"</c>) and value.</summary>
    public void Add(string labels, double value)
    {
        const string Le = "le=\"";
        var start = labels.IndexOf(Le, StringComparison.Ordinal);
        if (start < 0)
        {
            return;
        }

        start += Le.Length;
        var end = labels.IndexOf('"', start);
        var bound = labels[start..end];
        cumulative[bound == "+Inf" ? double.PositiveInfinity : double.Parse(bound, CultureInfo.InvariantCulture)] = (long)value;
    }

    /// <summary>What was observed after <paramref name="earlier"/> (a poll of the same histogram).</summary>
    public HistogramSummary Since(HistogramCounts earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        var bounds = cumulative.Keys.ToArray();
        var counts = bounds.Select(b => cumulative[b] - earlier.cumulative.GetValueOrDefault(b)).ToArray();
        var total = counts.Length == 0 ? 0 : counts[^1];

        // The upper bound of the bucket the q-th observation fell in: a histogram cannot say more.
        // Null above the highest finite bound.
        double? UpTo(double q)
        {
            var rank = Math.Max(1, (long)Math.Ceiling(q * total));
            var i = Array.FindIndex(counts, c => c >= rank);
            return i < 0 || double.IsInfinity(bounds[i]) ? null : bounds[i] * 1000;
        }

        long Over(double seconds)
        {
            var i = Array.IndexOf(bounds, seconds);
            return i < 0 ? 0 : total - counts[i];
        }

        return total == 0
            ? new HistogramSummary(0, 0, 0, 0, 0, 0)
            : new HistogramSummary(total, UpTo(0.5), UpTo(0.99), Over(0.1), Over(0.25), Over(0.5));
    }
}

/// <summary>
/// A distribution of durations from histogram buckets: how many, the bucket bounds (ms) under which half and 99 % of
/// them fell (null: above the highest bound), and how many took longer than 100, 250 and 500 ms.
/// </summary>
public sealed record HistogramSummary(long Count, double? P50AtMostMs, double? P99AtMostMs, long Over100Ms, long Over250Ms, long Over500Ms);
