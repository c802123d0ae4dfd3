using System.Collections.Concurrent;
using TeleSuivi.Server.Metrics;

namespace TeleSuivi.Server.Ingestion;

/// <summary>Running totals of the pipeline since the process started, for the status page and <c>/metrics</c>.</summary>
public sealed class IngestCounters
{
    private readonly ConcurrentDictionary<string, long> deadLetteredByReason = new(StringComparer.Ordinal);
    private long messages;
    private long observations;
    private long deadLettered;
    private long inFlight;

    // The oldest message of each batch taken and not yet acknowledged, in the order taken (several can be in flight).
    private readonly Queue<DateTimeOffset> batchesInFlight = new();
    private long acknowledgementsLost;

    public long Messages => Interlocked.Read(ref messages);

    public long Observations => Interlocked.Read(ref observations);

    public long DeadLettered => Interlocked.Read(ref deadLettered);

    /// <summary>Messages taken off the channel and not yet acknowledged (being normalised or written).</summary>
    public long InFlight => Interlocked.Read(ref inFlight);

    /// <summary>When the oldest message taken off the channel and not yet acknowledged was received; null when none is.</summary>
    public DateTimeOffset? OldestInFlightReceivedAt
    {
        get
        {
            lock (batchesInFlight)
            {
                return batchesInFlight.TryPeek(out var oldest) ? oldest : null;
            }
        }
    }

    /// <summary>From reception to acknowledgement, i.e. until the message was durable (stored, spooled or dead-lettered).</summary>
    public Histogram DurableLag { get; } = new(Histogram.LagBuckets);

    /// <summary>
    /// Acknowledgements that could not be sent because the broker connection dropped after the message was made
    /// durable: the broker redelivers those messages, and their deterministic ids keep them from being stored twice.
    /// </summary>
    public long AcknowledgementsLost => Interlocked.Read(ref acknowledgementsLost);

    /// <summary>A batch was taken off the channel. Batches end in the order they began (acknowledgements are in order).</summary>
    public void BeginBatch(int messageCount, DateTimeOffset oldestReceivedAt)
    {
        lock (batchesInFlight)
        {
            batchesInFlight.Enqueue(oldestReceivedAt);
        }

        Interlocked.Add(ref inFlight, messageCount);
    }

    /// <summary>The oldest batch in flight was acknowledged (or abandoned on shutdown).</summary>
    public void EndBatch(int messageCount)
    {
        Interlocked.Add(ref inFlight, -messageCount);
        lock (batchesInFlight)
        {
            batchesInFlight.TryDequeue(out _);
        }
    }

    public void AcknowledgementLost() => Interlocked.Increment(ref acknowledgementsLost);

    public IReadOnlyDictionary<string, long> DeadLetteredByReason => deadLetteredByReason;

    public void Add(int messageCount, int observationCount, IEnumerable<string> deadLetterReasonCodes)
    {
        Interlocked.Add(ref messages, messageCount);
        Interlocked.Add(ref observations, observationCount);
        foreach (var code in deadLetterReasonCodes)
        {
            Interlocked.Increment(ref deadLettered);
            deadLetteredByReason.AddOrUpdate(code, 1, (_, count) => count + 1);
        }
    }
}
