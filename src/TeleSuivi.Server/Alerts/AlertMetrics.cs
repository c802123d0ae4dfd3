using TeleSuivi.Server.Metrics;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Where an alert's time goes inside the platform, for <c>/metrics</c> and <c>telesuivi bench</c>: the wait of each
/// input in the engine's channel, the engine's work on it, the store's raise and the push to the boards, and the work
/// that holds up every input queued behind it (the missing-data sweep, the first sight of a patient's vital).
/// </summary>
public sealed class AlertMetrics
{
    /// <summary>From the hand-over of a stored batch or a rejection to the engine until the engine takes it.</summary>
    public Histogram ReadingWait { get; } = new(Histogram.CallBuckets);

    /// <summary>The same for a risk score, which waits while readings come first (<see cref="AlertFeed"/>).</summary>
    public Histogram ScoreWait { get; } = new(Histogram.CallBuckets);

    /// <summary>The engine's work on one input, raises and board pushes included.</summary>
    public Histogram InputDuration { get; } = new(Histogram.CallBuckets);

    /// <summary>One raise: the alert stored, then pushed to the boards.</summary>
    public Histogram RaiseDuration { get; } = new(Histogram.CallBuckets);

    /// <summary>One step of the missing-data sweep (a slice of patients, or the escalation check after the last): inputs wait meanwhile.</summary>
    public Histogram SweepStep { get; } = new(Histogram.CallBuckets);

    /// <summary>The store search that rebuilds a vital's debounce state (the first time it is abnormal since start; with several workers, each time).</summary>
    public Histogram VitalReplayDuration { get; } = new(Histogram.CallBuckets);

    private long liveKeysRefreshes;

    /// <summary>With several workers: the times this engine read which alerts are open, whoever raised them.</summary>
    public long LiveKeysRefreshes => Interlocked.Read(ref liveKeysRefreshes);

    public void CountLiveKeysRefresh() => Interlocked.Increment(ref liveKeysRefreshes);
}
