using System.Diagnostics;
using TeleSuivi.Server.Bench;

namespace TeleSuivi.Tests.Bench;

/// <summary>
/// The bench's publish → stored bookkeeping on timelines whose true latencies are known: the platform's count polled
/// every 10 ms, as <see cref="PlatformProbe"/> does, and the latencies the bench derives from it.
/// </summary>
public sealed class StoredLatencyTests
{
    private const double PollPeriodMs = 10;

    /// <summary>How long after it reads the count a poll's answer arrives.</summary>
    private const double AnswerMs = 3;

    /// <summary>The most a derived latency may exceed the true one: a poll period, one answer and rounding.</summary>
    private const double Resolution = PollPeriodMs + AnswerMs + 0.01;

    [Fact]
    public void Of_CriticalReadingsCountedBesideTheLoad_EveryLatencyIsTheTrueOneWithinAPoll()
    {
        // 30 s at 1,000 messages/s with 5 critical readings a second among them (the 100,000-patient run), every one
        // stored 40 ms after it was sent.
        var load = Enumerable.Range(0, 30_000).Select(i => (double)i).ToList();
        var critical = Enumerable.Range(0, 150).Select(j => (200.0 * j) + 0.5).ToList();
        var polls = Polls(load.Concat(critical).Select(sent => sent + 40).ToList(), untilMs: 30_100);

        var latencies = StoredLatency.Of(Stamps(load.Concat(critical)), polls);

        Assert.Equal(30_150, latencies.Count);
        Assert.InRange(latencies.Min(), 40 - 0.01, 40 + Resolution);
        Assert.InRange(latencies.Max(), 40 - 0.01, 40 + Resolution);

        // The fault it replaces: the critical readings counted without their sends made later messages look stored
        // before they were sent (150 counted extra by the end of the load: up to 150 ms too early).
        var withoutCritical = StoredLatency.Of(Stamps(load), polls);
        Assert.True(withoutCritical.Min() < 0, $"min {withoutCritical.Min():F1} ms");
    }

    [Fact]
    public void Of_PollAnswersArriveOutOfOrder_EachMessageTakesTheEarliestAnswerThatCountedIt()
    {
        // The poll read 3 at the server but its answer arrived at 50 ms, after a later poll's answer (30 ms) that also read 3.
        var polls = new[] { (Ms(20), 1L), (Ms(50), 3L), (Ms(30), 3L) };

        var latencies = StoredLatency.Of(Stamps([0, 1, 2]), polls);

        Assert.Equal([20, 29, 28], latencies.Select(l => Math.Round(l, 3)));
    }

    [Fact]
    public void Of_ConnectionsDeliverOutOfSendOrder_NoLatencyNegativeAndTheMeanIsTheTrueMeanWithinAPoll()
    {
        // 5,000 messages over 1,000 device connections: each stored 5 to 300 ms after it was sent, so a message sent
        // later is often stored earlier than one sent before it.
        var random = new Random(20261124);
        var sent = Enumerable.Range(0, 5_000).Select(i => i * 0.5).ToList();
        var delays = sent.Select(_ => 5 + (random.NextDouble() * 295)).ToList();
        var stored = sent.Zip(delays, (s, d) => s + d).ToList();

        var latencies = StoredLatency.Of(Stamps(sent), Polls(stored, untilMs: stored.Max() + PollPeriodMs));

        Assert.Equal(5_000, latencies.Count);
        Assert.True(latencies.Min() >= 0, $"min {latencies.Min():F1} ms");
        Assert.InRange(latencies.Average(), delays.Average() - 0.01, delays.Average() + Resolution);
    }

    [Fact]
    public void Of_LastMessagesNeverCounted_OnlyTheCountedOnesHaveALatency()
    {
        var polls = new[] { (Ms(15), 1L), (Ms(25), 2L), (Ms(35), 2L) };

        var latencies = StoredLatency.Of(Stamps([0, 1, 2, 3]), polls);

        Assert.Equal([15, 24], latencies.Select(l => Math.Round(l, 3)));
    }

    /// <summary>A poll every 10 ms from time 0, answered <see cref="AnswerMs"/> later: how many of the messages were stored when it read the count.</summary>
    [Fact]
    public void MaxBySecond_OneStallInTheThirdSecond_ItsSecondHoldsTheWorstLatencyTheOthersTheirOwn()
    {
        // 5 s at 100 messages/s, each stored 20 ms after it was sent, except those sent during a stall of the store from
        // 2.3 s to 2.7 s (a snapshot), stored when it ends: in order, as the platform acknowledges them.
        var load = Enumerable.Range(0, 500).Select(i => 10.0 * i).ToList();
        var stored = load.ConvertAll(sent => sent is >= 2_300 and < 2_700 ? 2_700 : sent + 20);
        var polls = Polls(stored, untilMs: 5_100);

        var worst = StoredLatency.MaxBySecond(StoredLatency.OfEach(Stamps(load), polls), Ms(0));

        Assert.Equal(5, worst.Count);
        Assert.InRange(worst[2], 400, 400 + Resolution);
        Assert.All(worst.Where((_, second) => second != 2), ms => Assert.InRange(ms, 20, 20 + Resolution));
    }

    private static List<(long At, long Counted)> Polls(List<double> storedMs, double untilMs)
    {
        var sorted = storedMs.Order().ToArray();
        var polls = new List<(long, long)>();
        var counted = 0;
        for (var read = 0.0; read <= untilMs; read += PollPeriodMs)
        {
            while (counted < sorted.Length && sorted[counted] <= read)
            {
                counted++;
            }

            polls.Add((Ms(read + AnswerMs), counted));
        }

        return polls;
    }

    private static List<long> Stamps(IEnumerable<double> milliseconds) => milliseconds.Select(Ms).ToList();

    /// <summary>A <see cref="Stopwatch"/> time stamp <paramref name="milliseconds"/> after an arbitrary origin.</summary>
    private static long Ms(double milliseconds) => 1_000_000_000L + (long)Math.Round(milliseconds * Stopwatch.Frequency / 1000.0);
}
