using System.Globalization;
using System.Text;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace TeleSuivi.Benchmarks.Storage;

/// <summary>
/// The storage benchmarks (this namespace): how they run, and the "Storage" section of BENCHMARKS.md, one row per
/// target of issue 4 with the measured figure and pass or fail. A row the run did not measure keeps its previous figures.
/// </summary>
public static class StorageSection
{
    public const double InfluxWriteTarget = 0.70;
    public const double TrendTargetMilliseconds = 200;
    public const int TrendTargetPoints = 2_000;
    public const double SqliteIngestTarget = 50_000;

    public const string Begin = "<!-- storage:begin (written by src/TeleSuivi.Benchmarks) -->";
    public const string End = "<!-- storage:end -->";

    public static readonly string Template =
        "## Storage\n\n" +
        "Issue 4 asks for: the InfluxDB write path at **at least 70 %** of the raw line-protocol rate of the same influxd in\n" +
        "the same run; a patient's **30-day trend** at a 1-minute cadence (about 260,000 readings over 6 vitals) returned\n" +
        "downsampled to **at most 2,000 points in under 200 ms** on both stores; **SQLite sustained ingest of at least\n" +
        "50,000 readings/s**. The benchmarks are in `src/TeleSuivi.Benchmarks/Storage/`; they run inside the benchmark\n" +
        "process against one influxd the run starts (infra/services/start-influxd.sh) and a WAL file in a temporary folder,\n" +
        "and every iteration writes readings never written before (a 200-patient cohort, 6 vitals, in batches of 500 as\n" +
        "the StoreWriter hands them over). A result is judged on the median iteration; the best one is beside it. Figures\n" +
        "depend on the load of the shared machine (in the machine column) except the InfluxDB ratio, which compares two\n" +
        "paths timed batch by batch, alternately, in the same iterations against the same server (median of the iterations'\n" +
        "ratios).\n\n" +
        Begin + "\n" + End + "\n";

    private const string Header =
        "| target | measured (median) | measured (best iteration) | result | date | machine | commit |\n" +
        "| --- | --- | --- | --- | --- | --- | --- |";

    private const string InfluxTarget = "InfluxDB write path ≥ 70 % of the raw line-protocol rate (same influxd, same run)";
    private const string SqliteTrendTarget = "30-day trend, SQLite: ≤ 2,000 points per series in < 200 ms";
    private const string InfluxTrendTarget = "30-day trend, InfluxDB: ≤ 2,000 points per series in < 200 ms";
    private const string IngestTarget = "SQLite sustained ingest ≥ 50,000 readings/s";

    private static readonly string[] TargetOrder = [InfluxTarget, SqliteTrendTarget, InfluxTrendTarget, IngestTarget];

    /// <summary>
    /// In the benchmark process (so the reference and the platform write to the same influxd, and the trend figures
    /// reach this writer), one invocation per iteration: each iteration gets readings never written, prepared before
    /// it starts (IterationSetup), and its operations are long enough (0.05 to 1 s) to be timed one by one.
    /// </summary>
    public static Job Job { get; } = Job.Default
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(Iterations)
        .WithInvocationCount(1).WithUnrollFactor(1)
        .WithId("Storage");

    private const int Iterations = 10;

    public static bool IsStorageBenchmark(Type type) => type.Namespace == typeof(StorageSection).Namespace;

    /// <summary>Writes the figures of a run into the section (appended to the file when it has none yet).</summary>
    public static void Write(IEnumerable<Summary> summaries, string path, string machine, string commit)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        if (!text.Contains(Begin, StringComparison.Ordinal))
        {
            text = text.TrimEnd() + "\n\n" + Template;
        }

        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        var start = text.IndexOf(Begin, StringComparison.Ordinal) + Begin.Length;
        var stop = text.IndexOf(End, start, StringComparison.Ordinal);
        foreach (var line in text[start..stop].Split('\n'))
        {
            var cells = line.Trim().Trim('|').Split('|');
            if (cells.Length == 7 && TargetOrder.Contains(cells[0].Trim()))
            {
                rows[cells[0].Trim()] = line.Trim();
            }
        }

        var date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        foreach (var (target, median, best, pass) in Measured(summaries.ToList()))
        {
            rows[target] = $"| {target} | {median} | {best} | {(pass ? "**pass**" : "**FAIL**")} | {date} | {machine} | {commit} |";
        }

        var table = new StringBuilder(Header).Append('\n');
        foreach (var target in TargetOrder.Where(rows.ContainsKey))
        {
            table.Append(rows[target]).Append('\n');
        }

        File.WriteAllText(path, string.Concat(text.AsSpan(0, start), "\n", table.ToString(), text.AsSpan(stop)));
    }

    private static IEnumerable<(string Target, string Median, string Best, bool Pass)> Measured(List<Summary> summaries)
    {
        if (Statistics(summaries, typeof(InfluxWriteBenchmarks), nameof(InfluxWriteBenchmarks.StoreBesideRaw), store: null) is not null
            && InfluxWriteBenchmarks.Paired.Count >= Iterations)
        {
            // The workload iterations are the last ones (the jitting and warm-up invocations come first).
            var paired = InfluxWriteBenchmarks.Paired.TakeLast(Iterations).OrderBy(p => p.Ratio).ToList();
            var median = paired[paired.Count / 2];
            var best = paired[^1];
            var alone = Statistics(summaries, typeof(InfluxWriteBenchmarks), nameof(InfluxWriteBenchmarks.ClientAlone), store: null);
            var client = alone is { } a ? Invariant($"; client CPU alone {a.Median / 1e3:N1} µs per reading") : string.Empty;
            yield return (InfluxTarget,
                Invariant($"{PairRate(median.StoreNanoseconds, median)} readings/s = **{median.Ratio:P0}** of {PairRate(median.RawNanoseconds, median)} raw (median of {paired.Count} paired iterations{client})"),
                Invariant($"{PairRate(best.StoreNanoseconds, best)} = {best.Ratio:P0} of {PairRate(best.RawNanoseconds, best)}"),
                median.Ratio >= InfluxWriteTarget);
        }

        foreach (var (store, target) in new[] { ("sqlite", SqliteTrendTarget), ("influxdb", InfluxTrendTarget) })
        {
            if (Statistics(summaries, typeof(TrendReadBenchmarks), nameof(TrendReadBenchmarks.ReadPatient), store) is { } trend
                && TrendReadBenchmarks.Figures.TryGetValue(store, out var figures))
            {
                var milliseconds = trend.Median / 1e6;
                yield return (target,
                    Invariant($"**{milliseconds:N1} ms** for {figures.Observations:N0} Observations → {figures.Series} series of ≤ {figures.LargestSeries:N0} points ({figures.Points:N0} in all, hourly, summarising {figures.Readings:N0} values; first read after loading {figures.FirstReadMilliseconds:N0} ms)"),
                    Invariant($"{trend.Min / 1e6:N1} ms"),
                    milliseconds < TrendTargetMilliseconds && figures.LargestSeries <= TrendTargetPoints);
            }
        }

        if (Statistics(summaries, typeof(SqliteIngestBenchmarks), nameof(SqliteIngestBenchmarks.Ingest), store: null) is { } ingest)
        {
            var written = SqliteIngestBenchmarks.WrittenPerReading.Order().ToList();
            var disk = written.Count == 0 ? string.Empty : Invariant($" ({written[written.Count / 2] / 1024:N1} KB written per reading, median of {written.Count} iterations)");
            yield return (IngestTarget, $"**{Rate(ingest.Median)} readings/s**{disk}", $"{Rate(ingest.Min)} readings/s", 1e9 / ingest.Median >= SqliteIngestTarget);
        }
    }

    /// <summary>Nanoseconds per operation of one benchmark method (and store parameter), median and best iteration.</summary>
    private static (double Median, double Min)? Statistics(List<Summary> summaries, Type type, string method, string? store)
    {
        foreach (var summary in summaries)
        {
            foreach (var benchmarkCase in summary.BenchmarksCases.Where(c => c.Descriptor.Type == type && c.Descriptor.WorkloadMethod.Name == method))
            {
                if ((store is null || Equals(benchmarkCase.Parameters["Store"], store)) && summary[benchmarkCase]?.ResultStatistics is { Median: > 0 } statistics)
                {
                    return (statistics.Median, statistics.Min);
                }
            }
        }

        return null;
    }

    private static string PairRate(double nanoseconds, PairedIteration iteration) => Rate(nanoseconds / iteration.Readings);

    private static string Rate(double nanosecondsPerReading) => (1e9 / nanosecondsPerReading).ToString("N0", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
