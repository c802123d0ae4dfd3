using System.Diagnostics;
using TeleSuivi.Server.Bench;

namespace TeleSuivi.Tests.Bench;

/// <summary>A load second by second from the bench's polls of /metrics, to line up with its alert samples.</summary>
public sealed class LoadTimelineTests
{
    private const long Start = 1_000_000;

    [Fact]
    public void GrowthBySecond_CounterPolledAcrossSeconds_TheGrowthEndingInEachSecond()
    {
        // Scores: 0 before the load, 500 at 0.5 s, 500 at 1.2 s (no growth), 1,500 at 2.9 s.
        var samples = new[] { Poll(-0.1, scores: 0), Poll(0.5, scores: 500), Poll(1.2, scores: 500), Poll(2.9, scores: 1_500) };

        var bySecond = LoadTimeline.GrowthBySecond(samples, Start, s => s.Risk["telesuivi_risk_scores_total"]);

        Assert.Equal([500, 0, 1_000], bySecond);
    }

    [Fact]
    public void MaxBySecond_GaugePolledSeveralTimesASecond_TheHighestOfEachSecondAndNothingBeforeTheLoad()
    {
        var samples = new[] { Poll(-0.5, queue: 9_000), Poll(0.1, queue: 3), Poll(0.6, queue: 5_722), Poll(1.4, queue: 2) };

        var bySecond = LoadTimeline.MaxBySecond(samples, Start, s => s.AlertQueueDepth);

        Assert.Equal([5_722, 2], bySecond);
    }

    private static PlatformSample Poll(double second, double scores = 0, long queue = 0) =>
        new(Start + (long)(second * Stopwatch.Frequency), 0, 0, 0, 0, 0, 0, 0, new Dictionary<string, double> { ["telesuivi_risk_scores_total"] = scores })
        {
            AlertQueueDepth = queue,
        };
}
