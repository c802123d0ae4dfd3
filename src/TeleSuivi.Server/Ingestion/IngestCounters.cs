namespace TeleSuivi.Server.Ingestion;

/// <summary>Running totals of the pipeline, for the status page and the logs.</summary>
public sealed class IngestCounters
{
    private long messages;
    private long observations;
    private long deadLettered;

    public long Messages => Interlocked.Read(ref messages);

    public long Observations => Interlocked.Read(ref observations);

    public long DeadLettered => Interlocked.Read(ref deadLettered);

    public void Add(int messageCount, int observationCount, int deadLetterCount)
    {
        Interlocked.Add(ref messages, messageCount);
        Interlocked.Add(ref observations, observationCount);
        Interlocked.Add(ref deadLettered, deadLetterCount);
    }
}
