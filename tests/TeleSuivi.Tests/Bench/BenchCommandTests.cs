using System.Text.Json;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Bench;

/// <summary>
/// <c>telesuivi bench</c> run for a few seconds at a tiny load on the embedded defaults, as CI can afford: the run must
/// finish and write every section of its JSON. Its figures are not judged here (performance is measured, not tested).
/// </summary>
public sealed class BenchCommandTests
{
    [Fact]
    public async Task Bench_TinyLoadOnEmbeddedDefaults_WritesJsonWithEverySection()
    {
        var folder = Directory.CreateTempSubdirectory("telesuivi-bench-test-").FullName;
        try
        {
            var json = Path.Combine(folder, "bench.json");
            var run = await TeleSuiviProcess.RunToExitAsync(
                TimeSpan.FromMinutes(5),
                "bench", "--loads", "50", "--duration", "2", "--saturation-messages", "300", "--patients", "30", "--publishing-patients", "20",
                "--alerts-per-second", "2", "--json", json, "--benchmarks-file", "none");

            Assert.True(run.ExitCode == 0, run.Output + run.Error);
            using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken));
            var root = report.RootElement;
            foreach (var section in new[] { "date", "machine", "commit", "loadAverageAtStart", "latencyMethod", "reference", "loads", "saturation", "process", "scoring", "nominal", "targets" })
            {
                Assert.True(root.TryGetProperty(section, out _), $"no '{section}' in {root}");
            }

            Assert.True(root.GetProperty("reference").GetProperty("received").GetInt64() > 0, root.GetProperty("reference").ToString());
            var load = Assert.Single(root.GetProperty("loads").EnumerateArray());
            foreach (var figure in new[] { "publishToStored", "alerts", "cpuSeconds", "coresUsed", "peakResidentBytes", "processedPerSecond" })
            {
                Assert.True(load.TryGetProperty(figure, out var value) && value.ValueKind != JsonValueKind.Null, $"'{figure}' missing or null in {load}");
            }

            // Nothing lost at a load far below any limit: every acknowledged message was stored (or dead-lettered).
            Assert.True(load.GetProperty("keptUp").GetBoolean(), load.ToString());
            Assert.Equal(load.GetProperty("published").GetInt64() + load.GetProperty("alerts").GetProperty("sent").GetInt64(), load.GetProperty("processed").GetInt64());
            Assert.Equal(0, load.GetProperty("deadLetters").GetInt64());
            Assert.Equal(6, root.GetProperty("targets").GetArrayLength());

            // The state is the live heap after a full collection in the platform, below its RSS, after the scorer caught up.
            var state = root.GetProperty("process").GetProperty("state");
            var live = state.GetProperty("liveHeapBytes").GetInt64();
            Assert.InRange(live, 1024 * 1024, state.GetProperty("residentAfterCollectionBytes").GetInt64());
            Assert.InRange(state.GetProperty("liveHeapAtReadyBytes").GetInt64(), 1024 * 1024, live + (64 * 1024 * 1024));
            Assert.Equal(JsonValueKind.Number, state.GetProperty("scorerCatchUpSeconds").ValueKind);
            Assert.True(load.GetProperty("gcPauseSeconds").GetDouble() >= 0, load.ToString());
            Assert.Contains(root.GetProperty("targets").EnumerateArray(), t => t.GetProperty("target").GetString()!.StartsWith("100,000 patients", StringComparison.Ordinal)
                && t.GetProperty("result").GetString() == "not measured (--patients 100000)");
            Assert.Contains("| end to end, 50 messages/s |", run.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
