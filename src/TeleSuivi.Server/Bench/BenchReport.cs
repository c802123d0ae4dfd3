namespace TeleSuivi.Server.Bench;

/// <summary>Latency percentiles of <see cref="Count"/> messages, in milliseconds.</summary>
public sealed record Percentiles(int Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs)
{
    public static Percentiles? Of(List<double> milliseconds)
    {
        if (milliseconds.Count == 0)
        {
            return null;
        }

        milliseconds.Sort();
        double At(double q) => milliseconds[Math.Min(milliseconds.Count - 1, (int)Math.Ceiling(q * milliseconds.Count) - 1)];
        return new Percentiles(milliseconds.Count, At(0.5), At(0.9), At(0.99), milliseconds[^1]);
    }
}

/// <summary>Critical readings sent during a load, and the first <c>AlertChanged</c> of each patient on the hub.</summary>
public sealed record AlertLatency(int Sent, int Delivered, Percentiles? PublishToAlert);

/// <summary>One load: published at a fixed rate, or as fast as the broker takes them (<see cref="TargetPerSecond"/> null).</summary>
/// <param name="RiskCounters">The scorer's counters as they grew during the load, its gauges as they stood at its end.</param>
public sealed record LoadResult(
    string Name,
    double? TargetPerSecond,
    long Published,
    long RefusedByBroker,
    double PublishedPerSecond,
    long Processed,
    long Observations,
    long DeadLetters,
    double ProcessedPerSecond,
    bool KeptUp,
    Percentiles? PublishToStored,
    AlertLatency? Alerts,
    double CpuSeconds,
    double CoresUsed,
    long PeakResidentBytes,
    StoreWrites StoreWrites,
    IReadOnlyDictionary<string, double> RiskCounters,
    string Note)
{
    /// <summary>The platform's garbage-collection pauses during the load, in seconds (all generations).</summary>
    public double GcPauseSeconds { get; init; }

    /// <summary>Full (generation 2) collections during the load.</summary>
    public long FullCollections { get; init; }

    /// <summary>
    /// The bench process's own garbage-collection pauses during the load, in seconds: while it is paused, its polls of
    /// the platform's count answer late and every latency measured then is longer by as much.
    /// </summary>
    public double BenchGcPauseSeconds { get; init; }

    /// <summary>When the load's first message began to be sent (UTC, to the millisecond): second 0 of <see cref="StoredMaxMsBySecond"/>.</summary>
    public string StartedAtUtc { get; init; } = string.Empty;

    /// <summary>The longest publish → stored latency of the messages sent in each second of the load.</summary>
    public IReadOnlyList<double> StoredMaxMsBySecond { get; init; } = [];

    /// <summary>The durations of the platform's store writes during the load (one write: a batch, whatever requests it took).</summary>
    public HistogramSummary? StoreWriteDurations { get; init; }

    /// <summary>From reception from the broker to acknowledgement (the platform's own part of publish → stored) during the load.</summary>
    public HistogramSummary? ReceiveToAcknowledged { get; init; }

    /// <summary>Each alert sample, in the order its critical reading was published.</summary>
    public IReadOnlyList<AlertSample> AlertSamples { get; init; } = [];

    /// <summary>The stages of the path to an alert during the load, by metric name (<see cref="PlatformSample.StageHistograms"/>).</summary>
    public IReadOnlyDictionary<string, HistogramSummary> Stages { get; init; } = new Dictionary<string, HistogramSummary>();

    /// <summary>Risk scores stored in each second of the load (second 0: <see cref="StartedAtUtc"/>).</summary>
    public IReadOnlyList<double> RiskScoresBySecond { get; init; } = [];

    /// <summary>The platform's GC pauses in each second of the load, in ms.</summary>
    public IReadOnlyList<double> GcPauseMsBySecond { get; init; } = [];

    /// <summary>The longest alert engine queue seen in each second of the load (inputs waiting).</summary>
    public IReadOnlyList<double> AlertQueueMaxBySecond { get; init; } = [];

    /// <summary>
    /// The highest scoring lag (<c>telesuivi_risk_scoring_lag_seconds</c>: hand-over to the scorer's queue → stored
    /// score, of the latest score) seen in each second of the load: how far scoring fell behind while it lasted, which
    /// the gauge read once at the load's end hides.
    /// </summary>
    public IReadOnlyList<double> RiskLagMaxSecondsBySecond { get; init; } = [];
}

/// <summary>
/// The platform's store writes during a load (<c>telesuivi_store_write_duration_seconds</c>): how many, their mean
/// duration and size, and the share of the load's wall time spent waiting for them (near 1: the store is the limit).
/// </summary>
public sealed record StoreWrites(long Writes, double MeanMs, double ObservationsPerWrite, double ShareOfWallTime);

/// <summary>Whether risk scoring was measured: only when the platform exposes <c>telesuivi_risk_*</c> metrics.</summary>
public sealed record ScoringResult(bool Measured, string Note, IReadOnlyDictionary<string, double> Counters);

/// <summary>
/// The platform's memory once every registered patient sent readings (one reading each, then the first load's rate for
/// as long as a load lasts), before the loads' bursts: <see cref="ResidentBytes"/> is the whole process (runtime, registry,
/// every patient's online state, caches); <see cref="ResidentAtReadyBytes"/> the same when it became ready.
/// </summary>
public sealed record StateResult(int PatientsWithReadings, int ReadingsAcknowledged, long ResidentAtReadyBytes, long ResidentBytes)
{
    /// <summary>The managed heap right after a full compacting collection when the platform was ready (registry, model, caches).</summary>
    public long LiveHeapAtReadyBytes { get; init; }

    /// <summary>The same once every patient sent readings: the whole live managed state (RSS above it is the runtime, native code and the collector's slack).</summary>
    public long LiveHeapBytes { get; init; }

    /// <summary>RSS right after that collection: how much of <see cref="ResidentBytes"/> the collector gave back.</summary>
    public long ResidentAfterCollectionBytes { get; init; }

    /// <summary>What the collector kept committed right after that collection: RSS above it is native memory (SQLite, the model, the runtime).</summary>
    public long CommittedAfterCollectionBytes { get; init; }

    /// <summary>Whether <c>serve</c> ran server GC (README "Memory").</summary>
    public bool ServerGc { get; init; }

    /// <summary>How long the risk scorer took, after the last of those readings was stored, to take them all and end its pass of scores; null when it had not within 5 minutes (the state then includes its backlog).</summary>
    public double? ScorerCatchUpSeconds { get; init; }

    /// <summary>
    /// <c>--loads-during-wave</c>: only the scorer's backlog of batches was waited for, so <see cref="ScorerCatchUpSeconds"/>
    /// ends when its first score of every patient begins, and the loads start during it.
    /// </summary>
    public bool LoadsDuringWave { get; init; }
}

/// <summary>The platform process over the whole run.</summary>
public sealed record ProcessResult(double CpuSeconds, double WallSeconds, long PeakResidentBytes, long ResidentAtEndBytes, StateResult State);

/// <summary>What 100,000 patients at the simulator's nominal cadence publish, against the saturation measured here.</summary>
public sealed record NominalCadence(double MessagesPerSecondPer100kPatients, double MeasuredSaturationPerSecond, string Method);

public sealed record TargetResult(string Target, string Measured, string Result);

public sealed record BenchReport(
    string Date,
    string Machine,
    string Commit,
    string LoadAverageAtStart,
    string LoadAverageAtEnd,
    string Broker,
    string Store,
    int Patients,
    int PublishingDevices,
    int Connections,
    IReadOnlyCollection<string> Formats,
    string LatencyMethod,
    ReferenceResult Reference,
    IReadOnlyList<LoadResult> Loads,
    LoadResult Saturation,
    double EndToEndOverReference,
    ProcessResult Process,
    ScoringResult Scoring,
    NominalCadence Nominal,
    IReadOnlyList<TargetResult> Targets)
{
    /// <summary>
    /// The commit of the folder the bench ran in (git), beside <see cref="Commit"/>, the binary's (built into it): they
    /// differ when a binary built from other code ran here, and the figures are the binary's.
    /// </summary>
    public string FolderCommit { get; init; } = SourceRevision.Unknown;

    /// <summary>The store's own ceiling for this traffic, measured before the platform started (null in reports of older runs).</summary>
    public StoreReferenceResult? StoreReference { get; init; }

    /// <summary>What the store alone took, in messages per second, over the raw broker's rate; null when not measured.</summary>
    public double? StoreAloneOverReference => StoreReference is { } store ? store.MessagesPerSecond / Math.Max(Reference.ReceivedPerSecond, 1e-9) : null;

    /// <summary>What the report says when the folder's commit is not the binary's; null when they agree.</summary>
    public string? CommitNote => SourceRevision.FolderMismatch(Commit, FolderCommit);
}
