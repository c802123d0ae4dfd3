namespace TeleSuivi.Server.Storage;

/// <summary>Bound from the <c>Store</c> configuration section (<c>TELESUIVI_STORE__*</c>, <c>--store</c>, <c>--data</c>).</summary>
public sealed class StoreOptions
{
    public const string Section = "Store";

    /// <summary>
    /// <c>sqlite</c> (default: a file under <see cref="DataDirectory"/>), <c>sqlite:PATH</c>,
    /// or <c>influxdb://[user:password@]host:port/database</c> (<c>influxdbs://</c> for HTTPS).
    /// </summary>
    public string Url { get; set; } = StoreAddress.DefaultSqlite;

    /// <summary>Local folder for the embedded store, the dead-letter store, the spool and the registry.</summary>
    public string DataDirectory { get; set; } = "./data";

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one write of a batch to the store may take, retries included, before the batch goes to the spool
    /// instead (a store that answers too slowly is treated like one that is down).
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where batches the store could not take wait to be replayed. Default: <c>{DataDirectory}/spool</c>.</summary>
    public string? SpoolDirectory { get; set; }

    /// <summary>
    /// The most the spool may hold on disk. When it is full, ingestion stops acknowledging and taking messages
    /// (the broker keeps them) until the store takes the spooled data back.
    /// </summary>
    public long SpoolMaxBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Size at which the spool starts a new segment file; a fully replayed segment is deleted. Default: 1/16 of
    /// <see cref="SpoolMaxBytes"/>, between 4 KiB and 64 MiB.
    /// </summary>
    public long? SpoolSegmentBytes { get; set; }

    /// <summary>The longest wait between two attempts to replay the spool while the store is down (exponential back-off up to it).</summary>
    public TimeSpan SpoolRetryMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long Observations are kept, by effective time. Not set: TeleSuivi enforces none (SQLite keeps everything,
    /// InfluxDB's retention policy is left as the database has it). <c>0</c>: keep forever, enforced (InfluxDB's
    /// default retention policy is set to INF). A duration: SQLite purges older Observations every
    /// <see cref="RetentionCheckInterval"/>; InfluxDB's default retention policy gets that duration. See README,
    /// "Retention and erasure".
    /// </summary>
    public TimeSpan? Retention { get; set; }

    /// <summary>How long dead letters are kept after they were received (pending or replayed); <c>0</c>: forever.</summary>
    public TimeSpan DeadLetterRetention { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How often the retention is enforced (SQLite purge, InfluxDB policy check, dead letters).</summary>
    public TimeSpan RetentionCheckInterval { get; set; } = TimeSpan.FromHours(1);

    public StoreAddress ResolveAddress() => StoreAddress.Parse(Url, DataDirectory);

    public string ResolveSpoolDirectory() => Path.GetFullPath(string.IsNullOrWhiteSpace(SpoolDirectory) ? Path.Combine(DataDirectory, "spool") : SpoolDirectory);

    public long ResolveSpoolSegmentBytes() => SpoolSegmentBytes ?? Math.Clamp(SpoolMaxBytes / 16, 4 * 1024, 64L * 1024 * 1024);
}
