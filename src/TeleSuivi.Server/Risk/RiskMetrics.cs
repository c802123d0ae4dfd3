using System.Collections.Concurrent;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// Figures of online scoring for <c>/metrics</c>: scores made, scored patients per second over the last minute, the
/// scoring lag (from the hand-over of a patient's earliest pending reading to the scoring feed to their stored score:
/// the wait in the scorer's queue, which grows when scoring falls behind, the debounce and the score itself) and the
/// latency of one score (features, model and explanation).
/// </summary>
public sealed class RiskMetrics
{
    /// <summary>Upper bounds, in seconds, of the score latency histogram (+Inf implied); the target is p99 &lt; 5 ms.</summary>
    public static readonly IReadOnlyList<double> LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

    private readonly ConcurrentQueue<long> recent = new();
    private long scores;
    private long lastLagMilliseconds;
    private long zoneRescores;
    private long unregisteredDropped;

    public long Scores => Interlocked.Read(ref scores);

    /// <summary>The lag of the latest score made after new readings (the daily scores wait for no reading and leave it as it is).</summary>
    public double LastLagSeconds => Interlocked.Read(ref lastLagMilliseconds) / 1000.0;

    public Metrics.Histogram Latency { get; } = new(LatencyBuckets);

    /// <summary>The first sight of a patient since start: their stored readings and recorded outcomes read into the state.</summary>
    public Metrics.Histogram FirstSightLoad { get; } = new(Metrics.Histogram.CallBuckets);

    /// <summary>One commit of a pass's scores (up to 500) to the risk store (<c>risk.db</c>, not the alerts' file).</summary>
    public Metrics.Histogram SaveDuration { get; } = new(Metrics.Histogram.CallBuckets);

    /// <summary>Patients made due by a change of their zone's environment (each is then scored with the others of a pass).</summary>
    public long ZoneRescores => Interlocked.Read(ref zoneRescores);

    public void ZoneChanged(int patients) => Interlocked.Add(ref zoneRescores, patients);

    /// <summary>
    /// Times the scorer refused a patient who is not registered (erased, or never registered): a reading, wake-up, due
    /// or daily score of theirs dropped with their state, or a score the shared registry kept out at the save.
    /// </summary>
    public long UnregisteredDropped => Interlocked.Read(ref unregisteredDropped);

    public void UnregisteredRefused() => Interlocked.Increment(ref unregisteredDropped);

    public void Scored(TimeSpan latency, TimeSpan? lag, DateTimeOffset now)
    {
        Latency.Observe(latency);
        Interlocked.Increment(ref scores);
        if (lag is { } l)
        {
            Interlocked.Exchange(ref lastLagMilliseconds, Math.Max(0, (long)l.TotalMilliseconds));
        }

        recent.Enqueue(now.ToUnixTimeMilliseconds());
        Trim(now);
    }

    /// <summary>Scores per second over the last minute.</summary>
    public double ScoresPerSecond(DateTimeOffset now)
    {
        Trim(now);
        return recent.Count / 60.0;
    }

    private void Trim(DateTimeOffset now)
    {
        var cutoff = now.ToUnixTimeMilliseconds() - 60_000;
        while (recent.TryPeek(out var oldest) && oldest < cutoff)
        {
            recent.TryDequeue(out _);
        }
    }
}

/// <summary>
/// Each patient's latest stored risk, for the board (rows and ranking): loaded from the store at start, then kept by
/// the scorer. A patient no longer registered (an erasure, here or seen by the registry's refresh on another node) is
/// forgotten when the registry changes, so that nothing of theirs stays in memory until the next start.
/// </summary>
public sealed class LatestRisks
{
    private readonly ConcurrentDictionary<string, (double Probability, DateTimeOffset At)> risks = new(StringComparer.Ordinal);
    private readonly Registry.DeviceRegistry registry;

    public LatestRisks(Registry.DeviceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        this.registry = registry;
        registry.Changed += ForgetUnregistered;
    }

    private void ForgetUnregistered()
    {
        foreach (var patientId in risks.Keys)
        {
            if (registry.FindPatient(patientId) is null)
            {
                risks.TryRemove(patientId, out _);
            }
        }
    }

    public void Set(string patientId, double probability, DateTimeOffset at) =>
        risks.AddOrUpdate(patientId, (probability, at), (_, old) => at >= old.At ? (probability, at) : old);

    public (double Probability, DateTimeOffset At)? Find(string patientId) => risks.TryGetValue(patientId, out var risk) ? risk : null;
}
