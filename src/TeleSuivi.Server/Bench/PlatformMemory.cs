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
    /// Waits until the risk scorer has taken every stored batch (<c>telesuivi_risk_queue_depth</c> 0), so that the
    /// state measured is the patients' state and not a backlog of readings waiting for the scorer; false at the limit.
    /// </summary>
    public static async Task<bool> WaitForScorerAsync(PlatformProbe probe, TimeSpan limit, Action<long> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(progress);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (deadline.Elapsed < limit)
        {
            var sample = await probe.ReadAsync(cancellationToken);
            var waiting = (long)sample.Risk.GetValueOrDefault("telesuivi_risk_queue_depth");
            progress(waiting);
            if (waiting == 0)
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }

        return false;
    }
}
