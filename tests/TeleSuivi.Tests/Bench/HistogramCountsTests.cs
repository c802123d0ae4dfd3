using TeleSuivi.Server.Bench;

namespace TeleSuivi.Tests.Bench;

/// <summary>The distribution of one load read from two polls of a Prometheus histogram in the platform's /metrics.</summary>
public sealed class HistogramCountsTests
{
    [Fact]
    public void Since_TwoPollsOfTheStoreWriteHistogram_TheLoadsOwnWritesTheirBoundsAndTheSlowOnes()
    {
        // Before the load: 10 writes, all under 1 ms. During it: 97 under 2.5 ms, 2 between 250 and 500 ms, 1 over 10 s.
        var before = Poll((0.001, 10), (0.0025, 10), (0.1, 10), (0.25, 10), (0.5, 10), (10, 10), (double.PositiveInfinity, 10));
        var after = Poll((0.001, 10), (0.0025, 107), (0.1, 107), (0.25, 107), (0.5, 109), (10, 109), (double.PositiveInfinity, 110));

        var load = after.Since(before);

        Assert.Equal(new HistogramSummary(100, 2.5, 500, 3, 3, 1), load);
    }

    [Fact]
    public void Since_MostObservationsAboveTheHighestBound_NoBoundRatherThanInfinity()
    {
        var load = Poll((1, 0), (double.PositiveInfinity, 4)).Since(HistogramCounts.Empty);

        Assert.Null(load.P50AtMostMs);
        Assert.Equal(4, load.Count);
    }

    [Fact]
    public void Since_NothingObserved_AllZero()
    {
        var poll = Poll((0.1, 5), (double.PositiveInfinity, 5));

        Assert.Equal(new HistogramSummary(0, 0, 0, 0, 0, 0), poll.Since(poll));
    }

    /// <summary>The bucket lines of one poll, as /metrics writes them: le="0.0025" ... le="+Inf".</summary>
    private static HistogramCounts Poll(params (double Le, long Cumulative)[] buckets)
    {
        var counts = new HistogramCounts();
        foreach (var (le, cumulative) in buckets)
        {
            var bound = double.IsPositiveInfinity(le) ? "+Inf" : le.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            counts.Add($"telesuivi_store_write_duration_seconds_bucket{{le=\"{bound}\"}}", cumulative);
        }

        return counts;
    }
}
