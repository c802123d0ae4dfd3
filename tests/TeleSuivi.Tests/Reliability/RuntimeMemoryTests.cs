using System.Diagnostics;
using TeleSuivi.Server.Metrics;

namespace TeleSuivi.Tests.Reliability;

public sealed class RuntimeMemoryTests
{
    /// <summary>The resident set read from <c>/proc/self/statm</c> is the figure the process description gives.</summary>
    [Fact]
    public void ResidentSetBytes_ThisProcess_SameAsTheProcessDescription()
    {
        var before = WorkingSet();
        var read = RuntimeMemorySnapshot.ResidentSetBytes();
        var after = WorkingSet();

        Assert.InRange(read, 0.9 * Math.Min(before, after), 1.1 * Math.Max(before, after));
        Assert.True(read > 10 << 20, $"{read} bytes");
    }

    private static long WorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
