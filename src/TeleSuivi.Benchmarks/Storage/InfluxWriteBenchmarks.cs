using System.IO.Compression;
using System.Net;
using BenchmarkDotNet.Attributes;
using Hl7.Fhir.Model;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Benchmarks.Storage;

/// <summary>
/// The InfluxDB write path against the raw rate of the same influxd in the same run. Each iteration writes
/// <see cref="Readings"/> new readings of a 200-patient cohort (6 vitals each, one step of their cadence after the
/// other) in batches of <see cref="BatchSize"/>, the ingest batch the StoreWriter hands to the store.
/// </summary>
/// <remarks>
/// The reference posts the very bytes the platform sends (captured once per iteration, outside the timing, and
/// decompressed), one request per batch, with a bare <see cref="HttpClient"/>: no TeleSuivi code, no gzip. The
/// measured path is <see cref="InfluxObservationStore.WriteAsync"/>: Observation → line protocol → HTTP. Each writes to
/// a database of its own, so neither overwrites the other's points.
/// </remarks>
public class InfluxWriteBenchmarks : IDisposable
{
    public const int BatchSize = 500;
    public const int Readings = 10_000;
    private const int Patients = 200;

    private readonly VitalSigns.Feed feed = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromMinutes(1), Patients);
    private List<IReadOnlyList<Observation>> batches = [];
    private readonly List<byte[]> bodies = [];
    private HttpClient raw = null!;
    private InfluxObservationStore store = null!;
    private InfluxObservationStore capture = null!;

    [GlobalSetup]
    public void Setup()
    {
        var url = BenchmarkInfluxd.Url;
        raw = new HttpClient { BaseAddress = url };
        using (var create = raw.PostAsync("query", new FormUrlEncodedContent([new("q", "CREATE DATABASE bench_write_raw")])).GetAwaiter().GetResult())
        {
            create.EnsureSuccessStatusCode();
        }

        store = Open("bench_write_store", handler: null);
        store.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
        capture = Open("bench_write_raw", new CapturingHandler(bodies));
    }

    [GlobalCleanup]
    public void Dispose()
    {
        raw.Dispose();
        store.Dispose();
        capture.Dispose();
        GC.SuppressFinalize(this);
    }

    [IterationSetup(Target = nameof(RawLineProtocol))]
    public void PrepareRaw()
    {
        batches = feed.NextBatches(Readings, BatchSize);
        bodies.Clear();
        foreach (var batch in batches)
        {
            capture.WriteAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
        }

        batches.Clear();
    }

    [IterationSetup(Target = nameof(StoreWrite))]
    public void PrepareStore() => batches = feed.NextBatches(Readings, BatchSize);

    /// <summary>The reference: the same line protocol, pre-serialised, posted as it is.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Readings, Description = "Raw line protocol POST (reference)")]
    public async System.Threading.Tasks.Task RawLineProtocol()
    {
        foreach (var body in bodies)
        {
            using var content = new ByteArrayContent(body);
            using var response = await raw.PostAsync("write?db=bench_write_raw&precision=ns", content);
            if (response.StatusCode != HttpStatusCode.NoContent)
            {
                throw new InvalidOperationException($"influxd answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "InfluxObservationStore.WriteAsync")]
    public async System.Threading.Tasks.Task StoreWrite()
    {
        foreach (var batch in batches)
        {
            await store.WriteAsync(batch, CancellationToken.None);
        }
    }

    private static InfluxObservationStore Open(string database, HttpMessageHandler? handler) =>
        new(StoreAddress.Parse(BenchmarkInfluxd.StoreUrl(database), Path.GetTempPath()), new StoreOptions(), handler: handler);

    /// <summary>Keeps the (decompressed) body of every write request and answers 204 like influxd, sending nothing.</summary>
    private sealed class CapturingHandler(List<byte[]> bodies) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            if (request.Content.Headers.ContentEncoding.Contains("gzip"))
            {
                await using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                await gzip.CopyToAsync(plain, cancellationToken);
                body = plain.ToArray();
            }

            bodies.Add(body);
            return new HttpResponseMessage(HttpStatusCode.NoContent) { RequestMessage = request };
        }
    }
}
