using BenchmarkDotNet.Attributes;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Benchmarks.Storage;

/// <summary>
/// Sustained ingest into the embedded store: each iteration writes <see cref="Readings"/> new readings of a 200-patient
/// cohort with <see cref="SqliteObservationStore.WriteAsync"/>, in batches of <see cref="InfluxWriteBenchmarks.BatchSize"/>
/// (the StoreWriter's), to a WAL file in a temporary folder that keeps growing from one iteration to the next. An
/// iteration ends when everything it wrote is folded. It is five times the store's fold threshold (20,000 pending readings)
/// long, so that the background fold works beside the appends as in a running platform (until 2026-11-24 an iteration
/// was 20,000 readings: appended, then folded, one after the other). Batches are written <see cref="WritesInFlight"/>
/// at a time, as the ingest pipeline writes them (until 2026-11-25 one after the other).
/// </summary>
public class SqliteIngestBenchmarks : IDisposable
{
    public const int Readings = 100_000;

    /// <summary>Batches written at once: the ingest pipeline's default (<c>Ingest:WritesInFlight</c>).</summary>
    private static readonly int WritesInFlight = new IngestOptions().WritesInFlight;
    private const int Patients = 200;

    private readonly VitalSigns.Feed feed = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromMinutes(1), Patients);
    private List<IReadOnlyList<Observation>> batches = [];
    private string directory = null!;
    private SqliteObservationStore store = null!;

    [GlobalSetup]
    public void Setup()
    {
        directory = Directory.CreateTempSubdirectory("telesuivi-bench-sqlite-").FullName;
        store = new SqliteObservationStore(Path.Combine(directory, "ingest.db"));
        store.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>Stops the store's background fold.</summary>
    public void Dispose()
    {
        store.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Bytes the process had the kernel write to storage per reading, one figure per iteration (warm-ups included), from /proc/self/io.</summary>
    public static List<double> WrittenPerReading { get; } = [];

    private long writtenBefore;

    [IterationSetup]
    public void Prepare()
    {
        batches = feed.NextBatches(Readings, InfluxWriteBenchmarks.BatchSize);
        writtenBefore = WrittenBytes();
    }

    [IterationCleanup]
    public void Measure()
    {
        if (writtenBefore >= 0)
        {
            WrittenPerReading.Add((double)(WrittenBytes() - writtenBefore) / Readings);
        }
    }

    /// <summary>write_bytes of /proc/self/io (what reached the block layer, WAL and checkpoints alike); -1 where there is none.</summary>
    private static long WrittenBytes()
    {
        const string file = "/proc/self/io";
        if (!File.Exists(file))
        {
            return -1;
        }

        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("write_bytes:", StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line["write_bytes:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "SqliteObservationStore.WriteAsync")]
    public async System.Threading.Tasks.Task Ingest()
    {
        // As the ingest pipeline writes: up to WritesInFlight batches at once, each waited for in order.
        var inFlight = new Queue<System.Threading.Tasks.Task>();
        foreach (var batch in batches)
        {
            if (inFlight.Count == WritesInFlight)
            {
                await inFlight.Dequeue();
            }

            inFlight.Enqueue(store.WriteAsync(batch, CancellationToken.None));
        }

        while (inFlight.Count > 0)
        {
            await inFlight.Dequeue();
        }

        // Sustained means folded too: the background fold's work counts, not only the acknowledged appends.
        await store.FoldAllAsync(CancellationToken.None);
    }
}
