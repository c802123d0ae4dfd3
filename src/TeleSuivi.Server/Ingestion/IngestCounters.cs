using System.Collections.Concurrent;

namespace TeleSuivi.Server.Ingestion;

/// <summary>Running totals of the pipeline since the process started, for the status page and <c>/metrics</c>.</summary>
public sealed class IngestCounters
{
    private readonly ConcurrentDictionary<string, long> deadLetteredByReason = new(StringComparer.Ordinal);
    private long messages;
    private long observations;
    private long deadLettered;
    private long inFlight;

    public long Messages => Interlocked.Read(ref messages);

    public long Observations => Interlocked.Read(ref observations);

    public long DeadLettered => Interlocked.Read(ref deadLettered);

    /// <summary>Messages taken off the channel and not yet acknowledged (being normalised or written).</summary>
    public long InFlight => Interlocked.Read(ref inFlight);

    public void BeginBatch(int messageCount) => Interlocked.Add(ref inFlight, messageCount);

    public void EndBatch(int messageCount) => Interlocked.Add(ref inFlight, -messageCount);

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
