using TeleSuivi.Server.Metrics;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// The platform's managed memory, read through <c>POST /api/diagnostics/gc</c>: a full, compacting collection first, so
/// that the heap is the live objects only (the state), whatever the collector had kept after the last bursts.
/// </summary>
public static class PlatformMemory
{
    public static async Task<RuntimeMemorySnapshot> CollectAsync(PlatformProcess platform, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(platform);
        using var response = await platform.Http.PostAsync(new Uri("/api/diagnostics/gc", UriKind.Relative), null, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<RuntimeMemorySnapshot>(cancellationToken)
            ?? throw new InvalidOperationException("POST /api/diagnostics/gc answered no figures");
    }

    /// <summary>
    /// Waits until the risk scorer has taken every stored batch (<c>telesuivi_risk_queue_depth</c> 0) and scored the
    /// <paramref name="patients"/> patients with readings (<c>telesuivi_risk_scores_total</c> at least that many, and
    /// still for a second: a pass scores its patients without a pause), so that the state measured is the patients' state
    /// and not a backlog, and the loads do not start in the middle of the first scores of every patient (with 100,000
    /// patients, a wave of 100,000 scores for the alert engine); false at the limit. A scorer that is off
    /// (<c>telesuivi_risk_scoring_on</c> 0, or absent in an older build) scores nobody: then only the queue is waited for.
    /// </summary>
    public static async Task<bool> WaitForScorerAsync(PlatformProbe probe, long patients, TimeSpan limit, Action<long> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(progress);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        double? previousScores = null;
        while (deadline.Elapsed < limit)
        {
            var sample = await probe.ReadAsync(cancellationToken);
            var waiting = (long)sample.Risk.GetValueOrDefault("telesuivi_risk_queue_depth");
            var scores = sample.Risk.GetValueOrDefault("telesuivi_risk_scores_total");
            progress(waiting + Math.Max(0, patients - (long)scores));
            // Not "no score yet" for a scorer that is off: a first pass of 100,000 patients takes seconds before its first commit.
            var scoring = sample.Risk.GetValueOrDefault("telesuivi_risk_scoring_on") == 1;
            if (waiting == 0 && (!scoring || (scores >= patients && scores == previousScores)))
            {
                return true;
            }

            previousScores = scores;
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }

        return false;
    }
}
