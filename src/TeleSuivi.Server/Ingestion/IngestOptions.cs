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

    /// <summary>
    /// Batches being written to the store at once. The next batch is normalised and its write started while older
    /// ones are still on their way; messages are still acknowledged only once their batch is durable, and in the order
    /// they arrived (BENCHMARKS.md, "End to end"). 1 writes one batch at a time.
    /// </summary>
    public int WritesInFlight { get; set; } = 4;

    /// <summary>
    /// The longest a partial batch waits for more messages, and only while another batch is being written: with nothing
    /// queued and no write in flight, a batch is written at once (an idle pipeline adds no delay to a reading).
    /// </summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long a partial batch keeps taking readings before it may be written, even to an idle store: fewer, larger
    /// writes for a store across the network, whose cost is mostly per request (HTTP, influxd's WAL fsync), at the price
    /// of this much latency. Null (the default): <see cref="RemoteStoreMinBatchAge"/> for InfluxDB (or BatchDelay if
    /// shorter), zero for SQLite, whose writes are in-process and cheap. At most <see cref="BatchDelay"/>.
    /// </summary>
    public TimeSpan? MinBatchAge { get; set; }

    /// <summary>The default <see cref="MinBatchAge"/> of a remote store (BENCHMARKS.md, "Latency at 1,000 readings/s on mosquitto + InfluxDB").</summary>
    public static readonly TimeSpan RemoteStoreMinBatchAge = TimeSpan.FromMilliseconds(20);

    /// <summary><see cref="MinBatchAge"/> as set, or its default for the store: remote (InfluxDB) or in-process (SQLite).</summary>
    public TimeSpan ResolveMinBatchAge(bool remoteStore)
    {
        if (MinBatchAge is not { } age)
        {
            return remoteStore && BatchDelay > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(RemoteStoreMinBatchAge.Ticks, BatchDelay.Ticks)) : TimeSpan.Zero;
        }

        if (age < TimeSpan.Zero || age > BatchDelay)
        {
            throw new ConfigurationException($"Ingest:MinBatchAge is {age}: it must be between 0 and Ingest:BatchDelay ({BatchDelay}), the longest a batch may wait");
        }

        return age;
    }

    /// <summary>
    /// The manufacturer profiles (one folder each). Default: the <c>ingest/</c> folder shipped beside the executable.
    /// A site adds a manufacturer by adding a folder here and restarting.
    /// </summary>
    public string? ProfilesDirectory { get; set; }

    /// <summary>
    /// Largest payload decoded (bytes); a larger one is dead-lettered as <c>too-large</c>. Decoding multiplies a
    /// payload's size in memory (a 4 MiB CSV makes 100,000 readings), and a batch holds up to BatchSize messages at once.
    /// A day of 5-minute readings is about 30 KiB in any of the formats of ingest/.
    /// </summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>A reading stamped further in the future than this is rejected (device clock wrong).</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A reading older than this when it arrives is rejected (a device replaying a stale memory).</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// Time zone of the wall-clock time stamps in GATT characteristics, which carry none (IANA id). Gateways
    /// usually set their devices to UTC.
    /// </summary>
    public string GattTimeZone { get; set; } = "UTC";

    /// <summary>
    /// How long a graceful shutdown (SIGTERM, Ctrl+C) may take to make durable and acknowledge the messages already
    /// received (the host's shutdown timeout). Keep it below the service manager's stop timeout (systemd: 90 s).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string ResolveProfilesDirectory() => ProfilesDirectory ?? Path.Combine(AppContext.BaseDirectory, "ingest");
}
