using System.Diagnostics;

namespace TeleSuivi.Server.Bench;

/// <summary>One alert sample of a load: when its critical reading was published (seconds since the load began) and how long it took to reach the hub.</summary>
public sealed record AlertSample(double AtSecond, double Milliseconds);

/// <summary>
/// A load second by second, from the bench's polls of <c>/metrics</c>: what the platform did in each second (scores,
/// GC pauses, the alert engine's queue), to line up with the alert samples and see what a late alert waited behind.
/// </summary>
public static class LoadTimeline
{
    /// <summary>How much a counter grew in each second after <paramref name="start"/> (a <see cref="Stopwatch"/> time stamp).</summary>
    public static IReadOnlyList<double> GrowthBySecond(IReadOnlyList<PlatformSample> samples, long start, Func<PlatformSample, double> counter)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(counter);
        var seconds = new List<double>();
        double? previous = null;
        foreach (var sample in samples.OrderBy(s => s.At))
        {
            var value = counter(sample);
            var second = SecondOf(sample.At, start);
            if (second >= 0 && previous is { } before)
            {
                Grow(seconds, second);
                seconds[second] += Math.Max(0, value - before);
            }

            previous = value;
        }

        return seconds;
    }

    /// <summary>The highest value of a gauge in each second after <paramref name="start"/>.</summary>
    public static IReadOnlyList<double> MaxBySecond(IReadOnlyList<PlatformSample> samples, long start, Func<PlatformSample, double> gauge)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(gauge);
        var seconds = new List<double>();
        foreach (var sample in samples)
        {
            var second = SecondOf(sample.At, start);
            if (second >= 0)
            {
                Grow(seconds, second);
                seconds[second] = Math.Max(seconds[second], gauge(sample));
            }
        }

        return seconds;
    }

    private static int SecondOf(long at, long start) => at < start ? -1 : (int)Stopwatch.GetElapsedTime(start, at).TotalSeconds;

    private static void Grow(List<double> seconds, int second)
    {
        while (seconds.Count <= second)
        {
            seconds.Add(0);
        }
    }
}
