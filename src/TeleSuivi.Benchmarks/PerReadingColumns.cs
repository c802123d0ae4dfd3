using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace TeleSuivi.Benchmarks;

/// <summary>The figures of one benchmark case per reading: the median time and the allocations divided by its readings.</summary>
public readonly record struct PerReading(double ReadingsPerSecond, double? BytesPerReading, double? RatioToReference)
{
    /// <summary>Readings per invocation: the Observations of the case's pass, 1 for the single-reading benchmarks.</summary>
    public static int ReadingsOf(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<ReadingCase>().FirstOrDefault()?.Readings ?? 1;

    public static PerReading? Of(Summary summary, BenchmarkCase benchmarkCase)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } statistics || statistics.Median <= 0)
        {
            return null;
        }

        var readings = ReadingsOf(benchmarkCase);
        var bytes = report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase);
        double? ratio = null;
        if (!benchmarkCase.Descriptor.Baseline && Reference(summary, benchmarkCase) is { } reference
            && summary[reference]?.ResultStatistics is { Median: > 0 } referenceStatistics)
        {
            ratio = statistics.Median / referenceStatistics.Median;
        }

        return new PerReading(readings * 1e9 / statistics.Median, bytes is { } b ? (double)b / readings : null, ratio);
    }

    /// <summary>The baseline benchmark of the same class with the same parameters, measured in the same run.</summary>
    public static BenchmarkCase? Reference(Summary summary, BenchmarkCase benchmarkCase) =>
        summary.BenchmarksCases.FirstOrDefault(c => c.Descriptor.Baseline && c.Descriptor.Type == benchmarkCase.Descriptor.Type
            && c.Job == benchmarkCase.Job && c.Parameters.DisplayInfo == benchmarkCase.Parameters.DisplayInfo);
}

/// <summary>"Readings/s" and "B/reading" in BenchmarkDotNet's own tables, beside the per-invocation Median and Allocated.</summary>
public sealed class PerReadingColumn(bool rate) : IColumn
{
    public static readonly IColumn ReadingsPerSecond = new PerReadingColumn(rate: true);

    public static readonly IColumn BytesPerReading = new PerReadingColumn(rate: false);

    public string Id => "TeleSuivi." + ColumnName;

    public string ColumnName => rate ? "Readings/s" : "B/reading";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => rate ? 0 : 1;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => rate
        ? "Readings per second on one core, from the median time of one pass over the case's messages"
        : "Bytes allocated per reading (Allocated divided by the readings of one pass)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (PerReading.Of(summary, benchmarkCase) is not { } figures)
        {
            return "NA";
        }

        return rate
            ? figures.ReadingsPerSecond.ToString("N0", CultureInfo.InvariantCulture)
            : figures.BytesPerReading is { } bytes ? bytes.ToString("N0", CultureInfo.InvariantCulture) : "NA";
    }

    public override string ToString() => ColumnName;
}
