namespace TeleSuivi.Server.Ingestion;

/// <summary>Bound from the <c>Ingest</c> configuration section.</summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";

    /// <summary>
    /// Messages received but not yet processed. When full, the MQTT receive loop waits, the broker stops
    /// sending once Receive Maximum is reached, and memory stays bounded.
    /// </summary>
    public int ChannelCapacity { get; set; } = 10_000;

    /// <summary>Messages processed and written to the store together.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How long a partial batch may wait for more messages before it is written.</summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(50);
}
