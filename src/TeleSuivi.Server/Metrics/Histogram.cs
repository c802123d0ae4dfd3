namespace TeleSuivi.Server.Metrics;

/// <summary>
/// A Prometheus histogram of durations in seconds: a count per bucket, their sum and count, updated together so
/// that a scrape never sees a count that disagrees with its buckets.
/// </summary>
public sealed class Histogram(IReadOnlyList<double> upperBounds)
{
    /// <summary>Buckets from 1 ms to 10 s: the latency of one call (a store write).</summary>
    public static readonly IReadOnlyList<double> CallBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Buckets from 10 ms to 1 h: the lag of a message, which an outage of the store stretches to minutes.</summary>
    public static readonly IReadOnlyList<double> LagBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

    private readonly Lock gate = new();
    private readonly long[] bucketCounts = new long[upperBounds.Count + 1];
    private double sum;
    private long count;

    /// <summary>Upper bounds, in seconds, of the buckets (Prometheus <c>le</c>), +Inf implied.</summary>
    public IReadOnlyList<double> UpperBounds { get; } = upperBounds;

    public void Observe(TimeSpan elapsed)
    {
        var seconds = Math.Max(0, elapsed.TotalSeconds);
        var bucket = 0;
        while (bucket < UpperBounds.Count && seconds > UpperBounds[bucket])
        {
            bucket++;
        }

        lock (gate)
        {
            bucketCounts[bucket]++;
            sum += seconds;
            count++;
        }
    }

    /// <summary>Cumulative bucket counts (for <c>le</c> = each bound, then +Inf), sum and count, taken together.</summary>
    public (IReadOnlyList<long> Cumulative, double Sum, long Count) Snapshot()
    {
        lock (gate)
        {
            var cumulative = new long[bucketCounts.Length];
            long running = 0;
            for (var i = 0; i < bucketCounts.Length; i++)
            {
                running += bucketCounts[i];
                cumulative[i] = running;
            }

            return (cumulative, sum, count);
        }
    }
}
