namespace TeleSuivi.Server.Metrics;

/// <summary>A Prometheus histogram of durations in seconds: counts per bucket, sum and count, safe from any thread.</summary>
/// <param name="bounds">Upper bounds of the buckets in seconds, ascending (<c>le</c>); +Inf is implied.</param>
public sealed class LatencyHistogram(IReadOnlyList<double> bounds)
{
    private readonly Lock gate = new();
    private readonly long[] bucketCounts = new long[bounds.Count + 1];
    private double sum;
    private long count;

    public IReadOnlyList<double> Bounds { get; } = bounds;

    public void Observe(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var bucket = 0;
        while (bucket < Bounds.Count && seconds > Bounds[bucket])
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
