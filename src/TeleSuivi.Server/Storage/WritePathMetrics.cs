using TeleSuivi.Server.Metrics;

namespace TeleSuivi.Server.Storage;

/// <summary>Why a write to the observation store failed, as far as the caller is concerned.</summary>
public enum StoreFailureKind
{
    /// <summary>The store cannot be reached or answers 5xx: the data waits in the spool.</summary>
    Unavailable,

    /// <summary>No answer within <see cref="StoreOptions.WriteTimeout"/>: like <see cref="Unavailable"/>.</summary>
    Timeout,

    /// <summary>The store refused the data itself (4xx such as a field type conflict): dead-lettered, not retried.</summary>
    Rejected,

    /// <summary>The store refuses us (401, 403, unknown database, read-only file): the operator must act; data stays unacknowledged.</summary>
    Access,
}

/// <summary>
/// Figures of the write path for <c>/metrics</c> and health: store write latency (histogram), store failures by kind,
/// Observations spooled and replayed, and what the last write to the store did.
/// </summary>
public sealed class WritePathMetrics
{
    private readonly Lock gate = new();
    private readonly long[] failures = new long[Enum.GetValues<StoreFailureKind>().Length];
    private long spooledObservations;
    private long spooledBatches;
    private long replayedObservations;
    private StoreFailure? lastFailure;

    /// <summary>The last failure of a write to the store, null once a write succeeded after it.</summary>
    public StoreFailure? LastFailure
    {
        get
        {
            lock (gate)
            {
                return lastFailure;
            }
        }
    }

    public long SpooledObservations => Interlocked.Read(ref spooledObservations);

    public long SpooledBatches => Interlocked.Read(ref spooledBatches);

    public long ReplayedObservations => Interlocked.Read(ref replayedObservations);

    /// <summary>Duration of writes of Observation batches to the store (failed ones included).</summary>
    public Histogram WriteLatency { get; } = new(Histogram.CallBuckets);

    public void ObserveWrite(TimeSpan elapsed) => WriteLatency.Observe(elapsed);

    public void WriteSucceeded()
    {
        lock (gate)
        {
            lastFailure = null;
        }
    }

    public void WriteFailed(StoreFailureKind kind, string reason)
    {
        lock (gate)
        {
            failures[(int)kind]++;
            if (kind != StoreFailureKind.Rejected)
            {
                lastFailure = new StoreFailure(kind, reason, DateTimeOffset.UtcNow);
            }
        }
    }

    public void Spooled(int observations)
    {
        Interlocked.Add(ref spooledObservations, observations);
        Interlocked.Increment(ref spooledBatches);
    }

    public void Replayed(int observations) => Interlocked.Add(ref replayedObservations, observations);

    /// <summary>Cumulative bucket counts (for <c>le</c> = each bound, then +Inf), sum and count, taken together.</summary>
    public (IReadOnlyList<long> Cumulative, double Sum, long Count) Latency() => WriteLatency.Snapshot();

    public IReadOnlyDictionary<StoreFailureKind, long> FailuresByKind()
    {
        lock (gate)
        {
            return Enum.GetValues<StoreFailureKind>().ToDictionary(kind => kind, kind => failures[(int)kind]);
        }
    }
}

/// <summary>A failed write to the store: what kind, the reason in one line, when.</summary>
public sealed record StoreFailure(StoreFailureKind Kind, string Reason, DateTimeOffset At);
