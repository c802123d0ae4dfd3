using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace TeleSuivi.Benchmarks;

/// <summary>
/// The figures of one benchmark case per reading: readings per second from the median iteration and from the best
/// (fastest) one, allocations divided by its readings, and the ratio of best iterations to the reference of the
/// same class and parameters. On a shared machine the median carries the load of the moment; the best iteration is
/// the nearest to an unloaded core, and a ratio of best iterations is the least disturbed comparison.
/// </summary>
public readonly record struct PerReading(double ReadingsPerSecond, double BestReadingsPerSecond, double? BytesPerReading, double? RatioToReference)
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
            && summary[reference]?.ResultStatistics is { Min: > 0 } referenceStatistics)
        {
            ratio = statistics.Min / referenceStatistics.Min;
        }

        return new PerReading(readings * 1e9 / statistics.Median, readings * 1e9 / statistics.Min, bytes is { } b ? (double)b / readings : null, ratio);
    }

    /// <summary>The baseline benchmark of the same class with the same parameters, measured in the same run.</summary>
    public static BenchmarkCase? Reference(Summary summary, BenchmarkCase benchmarkCase) =>
        summary.BenchmarksCases.FirstOrDefault(c => c.Descriptor.Baseline && c.Descriptor.Type == benchmarkCase.Descriptor.Type
            && c.Job == benchmarkCase.Job && c.Parameters.DisplayInfo == benchmarkCase.Parameters.DisplayInfo);
}

/// <summary>"Readings/s", "Best readings/s" and "B/reading" in BenchmarkDotNet's own tables, beside Median and Allocated.</summary>
public sealed class PerReadingColumn : IColumn
{
    public static readonly IColumn ReadingsPerSecond = new PerReadingColumn(Figure.Median);

    public static readonly IColumn BestReadingsPerSecond = new PerReadingColumn(Figure.Best);

    public static readonly IColumn BytesPerReading = new PerReadingColumn(Figure.Bytes);

    private readonly Figure figure;

    private PerReadingColumn(Figure figure) => this.figure = figure;

    private enum Figure
    {
        Median,
        Best,
        Bytes,
    }

    public string Id => "TeleSuivi." + ColumnName;

    public string ColumnName => figure switch
    {
        Figure.Median => "Readings/s",
        Figure.Best => "Best readings/s",
        _ => "B/reading",
    };

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => (int)figure;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => figure switch
    {
        Figure.Median => "Readings per second on one core, from the median time of one pass over the case's messages",
        Figure.Best => "Readings per second on one core, from the fastest iteration (the least disturbed by other load)",
        _ => "Bytes allocated per reading (Allocated divided by the readings of one pass)",
    };

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (PerReading.Of(summary, benchmarkCase) is not { } figures)
        {
            return "NA";
        }

        return figure switch
        {
            Figure.Median => figures.ReadingsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
            Figure.Best => figures.BestReadingsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
            _ => figures.BytesPerReading is { } bytes ? bytes.ToString("N0", CultureInfo.InvariantCulture) : "NA",
        };
    }

    public override string ToString() => ColumnName;
}
