using TeleSuivi.Server.Metrics;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// The platform's managed memory, read through <c>POST /api/diagnostics/gc</c>: a full, compacting collection first, so
/// that the heap is the live objects only (the state), whatever the collector had kept after the last bursts.
/// </summary>
public static class PlatformMemory
{
    /// <summary>How long the scorer's count must stay still for its pass to be over.</summary>
    public static readonly TimeSpan ScoresQuiet = TimeSpan.FromSeconds(3);

    public static async Task<RuntimeMemorySnapshot> CollectAsync(PlatformProcess platform, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(platform);
        using var response = await platform.Http.PostAsync(new Uri("/api/diagnostics/gc", UriKind.Relative), null, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<RuntimeMemorySnapshot>(cancellationToken)
            ?? throw new InvalidOperationException("POST /api/diagnostics/gc answered no figures");
    }

    /// <summary>
    /// Waits until the risk scorer has taken every stored batch (<c>telesuivi_risk_queue_depth</c> 0) and its scores
    /// (<c>telesuivi_risk_scores_total</c>) have stopped moving for <see cref="ScoresQuiet"/>, so that the state measured
    /// is the patients' state and not a backlog, and the loads do not start in the middle of the first scores of every
    /// patient (with 100,000 patients, a wave of 100,000 scores for the alert engine, which a pass commits 500 at a time
    /// without a pause); false at the limit. Not every patient with readings is scored (readings without a risk feature
    /// make none), so the count is not awaited. A scorer that is off (<c>telesuivi_risk_scoring_on</c> 0, or absent in
    /// an older build) scores nobody: then only the queue is waited for, as it is without <paramref name="waitForScores"/>
    /// (<c>--loads-during-wave</c>: the scorer's first pass of scores then begins as this returns).
    /// </summary>
    public static async Task<bool> WaitForScorerAsync(PlatformProbe probe, TimeSpan limit, bool waitForScores, Action<long> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(progress);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        var unchanged = System.Diagnostics.Stopwatch.StartNew();
        double? previousScores = null;
        while (deadline.Elapsed < limit)
        {
            var sample = await probe.ReadAsync(cancellationToken);
            var waiting = (long)sample.Risk.GetValueOrDefault("telesuivi_risk_queue_depth");
            var scores = sample.Risk.GetValueOrDefault("telesuivi_risk_scores_total");
            if (scores != previousScores)
            {
                unchanged.Restart();
                previousScores = scores;
            }

            progress(waiting);
            // Not "no score yet": a first pass of 100,000 patients can take seconds before its first commit.
            var scoring = sample.Risk.GetValueOrDefault("telesuivi_risk_scoring_on") == 1;
            if (waiting == 0 && (!scoring || !waitForScores || (scores > 0 && unchanged.Elapsed >= ScoresQuiet)))
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }

        return false;
    }
}
