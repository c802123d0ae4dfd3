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
        return new RuntimeMemorySnapshot(
            GCSettings.IsServerGC,
            AppContext.TryGetSwitch("System.GC.Concurrent", out var concurrent) ? concurrent : true,
            GCSettings.LatencyMode.ToString(),
            ResidentSetBytes(),
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

    /// <summary>
    /// The process's resident set. On Linux one read of <c>/proc/self/statm</c>: <c>Process.WorkingSet64</c> gives the
    /// same figure, but builds the whole process description first, reading a file per thread of the process; at the
    /// 100 scrapes a second of <c>telesuivi bench</c> that was 3.6 % of the platform's CPU at saturation
    /// (BENCHMARKS.md, "Where the platform's CPU goes").
    /// </summary>
    public static long ResidentSetBytes()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                // "size resident shared text lib data dt", in pages.
                var fields = File.ReadAllText("/proc/self/statm").Split(' ', 3);
                if (fields.Length >= 2 && long.TryParse(fields[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pages))
                {
                    return pages * Environment.SystemPageSize;
                }
            }
            catch (IOException)
            {
                // A /proc that cannot be read: ask the process description below.
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
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
