using System.Diagnostics;
using System.Runtime;

namespace TeleSuivi.Server.Metrics;

/// <summary>
/// The garbage collector's own figures, beside the process's RSS: RSS counts whatever the collector has reserved and not
/// given back, so it bounds the platform's state from above; the live managed heap after a full collection is the state.
/// </summary>
public sealed record RuntimeMemorySnapshot(
    bool ServerGc,
    bool ConcurrentGc,
    string LatencyMode,
    long ResidentBytes,
    long HeapSizeBytes,
    long FragmentedBytes,
    long CommittedBytes,
    long LiveBytesAfterLastFullGc,
    long AllocatedBytesTotal,
    double PauseSecondsTotal,
    double PauseTimePercentage,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections)
{
    public static RuntimeMemorySnapshot Read()
    {
        var last = GC.GetGCMemoryInfo(GCKind.Any);
        var full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        using var process = Process.GetCurrentProcess();
        return new RuntimeMemorySnapshot(
            GCSettings.IsServerGC,
            AppContext.TryGetSwitch("System.GC.Concurrent", out var concurrent) ? concurrent : true,
            GCSettings.LatencyMode.ToString(),
            process.WorkingSet64,
            last.HeapSizeBytes,
            last.FragmentedBytes,
            last.TotalCommittedBytes,

            // What survived the last full blocking collection (0 until there has been one): the live objects then.
            full.Index == 0 ? 0 : full.PromotedBytes,
            GC.GetTotalAllocatedBytes(),
            GC.GetTotalPauseDuration().TotalSeconds,
            last.PauseTimePercentage,
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2));
    }

    /// <summary>Runs a full, blocking, compacting collection first: the heap is then the live objects only.</summary>
    public static RuntimeMemorySnapshot AfterFullCollection()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return Read();
    }
}
