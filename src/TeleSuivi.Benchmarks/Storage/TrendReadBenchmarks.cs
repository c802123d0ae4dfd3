using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Benchmarks.Storage;

/// <summary>
/// A physician opens a patient's last 30 days: the trend of each of the 6 vitals (7 series: blood pressure has
/// systolic and diastolic), read with <see cref="IObservationStore.ReadTrendAsync"/> at <see cref="Resolution"/>, from
/// a store holding that patient's 30 days at a 1-minute cadence (259,200 Observations), loaded once per store.
/// One operation is the whole patient: the 6 reads, one after the other.
/// </summary>
public class TrendReadBenchmarks
{
    public const int Days = 30;

    /// <summary>
    /// The finest resolution the API has that keeps a 30-day chart under 2,000 points per series: hourly buckets give 720
    /// (minutes would give 43,200; days only 30).
    /// </summary>
    public const TrendResolution Resolution = TrendResolution.Hour;

    private const int LoadBatch = 5_000;
    private static readonly DateTimeOffset From = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Through = From.AddDays(Days).AddMilliseconds(-1);

    private IObservationStore store = null!;
    private string? directory;

    [Params("sqlite", "influxdb")]
    public string Store { get; set; } = "sqlite";

    /// <summary>Observations loaded per store, and the points each read returned, for BENCHMARKS.md.</summary>
    public static Dictionary<string, TrendFigures> Figures { get; } = [];

    [GlobalSetup]
    public void Setup()
    {
        if (Store == "sqlite")
        {
            directory = Directory.CreateTempSubdirectory("telesuivi-bench-trend-").FullName;
            store = new SqliteObservationStore(Path.Combine(directory, "trend.db"));
        }
        else
        {
            store = new InfluxObservationStore(StoreAddress.Parse(BenchmarkInfluxd.StoreUrl("bench_trend"), Path.GetTempPath()), new StoreOptions());
        }

        store.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
        var loaded = 0;
        long values = 0;
        var feed = new VitalSigns.Feed(From, TimeSpan.FromMinutes(1), patients: 1);
        var perDay = 24 * 60 * VitalSigns.All.Count;
        for (var day = 0; day < Days; day++)
        {
            foreach (var batch in feed.NextBatches(perDay, LoadBatch))
            {
                store.WriteAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
                loaded += batch.Count;
                values += batch.Sum(o => Math.Max(1, o.Component.Count));
            }
        }

        // The first read after loading is timed apart: on InfluxDB it computes and stores the hourly roll-ups of the
        // 30 days; the benchmark then times the reads a physician makes afterwards.
        var firstRead = System.Diagnostics.Stopwatch.StartNew();
        var series = ReadPatientAsync().GetAwaiter().GetResult();
        firstRead.Stop();
        var largest = series.Max(s => s.Points.Count);
        if (largest > 2_000)
        {
            throw new InvalidOperationException($"{Store}: a series of {largest} points, more than the 2,000 a chart can show");
        }

        var summarised = series.Sum(s => s.Points.Sum(p => p.Count));
        if (summarised != values)
        {
            throw new InvalidOperationException($"{Store}: the trend summarises {summarised:N0} values of the {values:N0} loaded");
        }

        Figures[Store] = new TrendFigures(loaded, series.Count, largest, series.Sum(s => s.Points.Count), summarised, firstRead.Elapsed.TotalMilliseconds);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        (store as IDisposable)?.Dispose();
        if (directory is not null)
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Benchmark(Description = "30-day trend of 6 vitals")]
    public async Task<int> ReadPatient() => (await ReadPatientAsync()).Count;

    private async Task<List<TrendSeries>> ReadPatientAsync()
    {
        var series = new List<TrendSeries>();
        foreach (var code in VitalSigns.Codes)
        {
            var trend = await store.ReadTrendAsync(VitalSigns.PatientReference(0), code, From, Through, Resolution, CancellationToken.None);
            series.AddRange(trend.Series);
        }

        return series;
    }
}

/// <param name="Observations">Observations in the store.</param>
/// <param name="Series">Series the 6 reads returned.</param>
/// <param name="LargestSeries">Points of the longest series.</param>
/// <param name="Points">Points of all series.</param>
/// <param name="Readings">Readings those points summarise (the sum of their counts).</param>
/// <param name="FirstReadMilliseconds">The first read after loading (InfluxDB: the one that computes the roll-ups).</param>
public sealed record TrendFigures(int Observations, int Series, int LargestSeries, int Points, long Readings, double FirstReadMilliseconds);
