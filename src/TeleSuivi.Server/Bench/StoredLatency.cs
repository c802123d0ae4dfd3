using System.Diagnostics;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// Publish → stored latencies of one load, from when each of its messages began to be sent and from the platform's
/// count of durable messages (<c>telesuivi_ingest_messages_total</c>) as the bench polled it. Every time stamp is the
/// bench's own <see cref="Stopwatch"/>: no clock of the platform is involved.
/// </summary>
/// <remarks>
/// The platform cannot say which message it counted, only how many. A poll that answers "k more than when the load
/// began" at time T proves that k of the load's messages were durable before T, so k of them had begun to be sent
/// before T: the k-th earliest send of the load is at or before T. Giving the k-th earliest send the earliest poll
/// that counted k is therefore never negative, whatever order the broker's connections deliver in, provided that
/// every message the platform counted during the load is among the sends given here. That is why the critical
/// readings sent beside the load for the alert timing are sends of the load too: left out (as they were), each of them
/// stood in the count for a message still on its way, so after t seconds of a 1,000/s load with 5 of them a second every
/// message was charged a poll 5·t ms too early: 75 ms at the middle of a 30 s load, which explains the −11 ms p50 of
/// the 30 s run with 100,000 patients (and shortened every earlier p50 and p99 by up to the load's length × 5 ms/s).
/// </remarks>
public static class StoredLatency
{
    /// <param name="sends"><see cref="Stopwatch"/> time stamps at which the load's messages began to be sent, in any order: only the messages the broker acknowledged.</param>
    /// <param name="polls">Each poll of the count: when its answer arrived (<see cref="Stopwatch"/> time stamp) and how many messages the platform had counted since the load began.</param>
    /// <returns>Milliseconds for the earliest sends, as many as the polls saw counted (fewer when some never were).</returns>
    public static List<double> Of(IEnumerable<long> sends, IEnumerable<(long At, long Counted)> polls) =>
        OfEach(sends, polls).ConvertAll(each => each.Milliseconds);

    /// <summary>As <see cref="Of"/>, each latency with the send it was given to, earliest first.</summary>
    public static List<(long SentAt, double Milliseconds)> OfEach(IEnumerable<long> sends, IEnumerable<(long At, long Counted)> polls)
    {
        var sorted = sends.Order().ToArray();

        // The polls' answers can arrive in another order than the count was read in (two requests in flight), so the
        // time at which k was first seen counted is the earliest arrival among all polls that counted at least k.
        var byCount = polls.Where(p => p.Counted > 0).OrderBy(p => p.Counted).ToArray();
        var earliestFrom = new long[byCount.Length];
        for (var i = byCount.Length - 1; i >= 0; i--)
        {
            earliestFrom[i] = i == byCount.Length - 1 ? byCount[i].At : Math.Min(byCount[i].At, earliestFrom[i + 1]);
        }

        var latencies = new List<(long, double)>(sorted.Length);
        var poll = 0;
        for (var k = 1; k <= sorted.Length; k++)
        {
            while (poll < byCount.Length && byCount[poll].Counted < k)
            {
                poll++;
            }

            if (poll == byCount.Length)
            {
                break;
            }

            latencies.Add((sorted[k - 1], Stopwatch.GetElapsedTime(sorted[k - 1], earliestFrom[poll]).TotalMilliseconds));
        }

        return latencies;
    }

    /// <summary>
    /// The longest latency of the messages sent in each second of the load (second 0 begins at <paramref name="start"/>):
    /// where the tail comes from, to be lined up with what else happened then (the store's own log, a collection).
    /// </summary>
    public static IReadOnlyList<double> MaxBySecond(IEnumerable<(long SentAt, double Milliseconds)> latencies, long start)
    {
        var worst = new List<double>();
        foreach (var (sentAt, milliseconds) in latencies)
        {
            var second = Math.Max(0, (int)Stopwatch.GetElapsedTime(start, sentAt).TotalSeconds);
            while (worst.Count <= second)
            {
                worst.Add(0);
            }

            worst[second] = Math.Max(worst[second], Math.Round(milliseconds));
        }

        return worst;
    }
}
