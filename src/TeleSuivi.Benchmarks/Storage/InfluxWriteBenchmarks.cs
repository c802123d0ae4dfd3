using System.Diagnostics;
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
/// <para><see cref="StoreBesideRaw"/> times the two paths batch by batch, alternately (the store first for even
/// batches, the reference first for odd ones), so that the load of the shared machine falls on both alike: timed one
/// after the other as two benchmarks, minutes apart, the ratio followed the other engineers' builds more than the
/// code. The measured path is <see cref="InfluxObservationStore.WriteAsync"/>: Observation → line protocol → HTTP.
/// The reference posts the very bytes the platform sends for that batch (captured before the iteration, outside the
/// timing, as plain text), in the same requests (same count, same points in each, same <c>precision=ns</c>), one after
/// the other, with a bare <see cref="HttpClient"/> on one kept-alive connection: no TeleSuivi code. Each writes to a
/// database of its own, so neither overwrites the other's points.</para>
/// <para><see cref="ClientAlone"/> is the platform's side alone: the same writes to a handler that answers 204 without
/// sending, i.e. the client's CPU time per reading (serialising, HTTP request objects), which is what the ratio pays.</para>
/// </remarks>
public class InfluxWriteBenchmarks : IDisposable
{
    public const int BatchSize = 500;
    public const int Readings = 10_000;
    private const int Patients = 200;

    private readonly VitalSigns.Feed feed = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromMinutes(1), Patients);
    private readonly List<byte[]> captured = [];
    private List<IReadOnlyList<Observation>> batches = [];
    private List<byte[][]> bodies = [];
    private HttpClient raw = null!;
    private InfluxObservationStore store = null!;
    private InfluxObservationStore capture = null!;
    private InfluxObservationStore alone = null!;

    /// <summary>The time each path took in each iteration of <see cref="StoreBesideRaw"/>, warm-ups included, in order.</summary>
    public static List<PairedIteration> Paired { get; } = [];

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
        capture = Open("bench_write_raw", new CapturingHandler(captured));
        alone = Open("bench_write_alone", new CapturingHandler(bodies: null));
    }

    [GlobalCleanup]
    public void Dispose()
    {
        raw.Dispose();
        store.Dispose();
        capture.Dispose();
        alone.Dispose();
        GC.SuppressFinalize(this);
    }

    [IterationSetup(Target = nameof(StoreBesideRaw))]
    public void PreparePair()
    {
        batches = feed.NextBatches(Readings, BatchSize);
        bodies = [];
        foreach (var batch in batches)
        {
            captured.Clear();
            capture.WriteAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
            bodies.Add([.. captured]);
        }
    }

    [IterationSetup(Target = nameof(ClientAlone))]
    public void PrepareAlone() => batches = feed.NextBatches(Readings, BatchSize);

    /// <summary>The store and the reference, batch by batch, alternately; the benchmark's own time is the sum of both.</summary>
    [Benchmark(OperationsPerInvoke = Readings, Description = "WriteAsync beside raw line protocol POST (same batches)")]
    public async System.Threading.Tasks.Task StoreBesideRaw()
    {
        long storeTicks = 0, rawTicks = 0;
        for (var i = 0; i < batches.Count; i++)
        {
            if (i % 2 == 0)
            {
                storeTicks += await TimeAsync(() => store.WriteAsync(batches[i], CancellationToken.None));
                rawTicks += await TimeAsync(() => PostRawAsync(bodies[i]));
            }
            else
            {
                rawTicks += await TimeAsync(() => PostRawAsync(bodies[i]));
                storeTicks += await TimeAsync(() => store.WriteAsync(batches[i], CancellationToken.None));
            }
        }

        Paired.Add(new PairedIteration(Readings, storeTicks * 1e9 / Stopwatch.Frequency, rawTicks * 1e9 / Stopwatch.Frequency));
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "WriteAsync to a handler that answers 204 (client CPU alone)")]
    public async System.Threading.Tasks.Task ClientAlone()
    {
        foreach (var batch in batches)
        {
            await alone.WriteAsync(batch, CancellationToken.None);
        }
    }

    private static async Task<long> TimeAsync(Func<System.Threading.Tasks.Task> write)
    {
        var start = Stopwatch.GetTimestamp();
        await write();
        return Stopwatch.GetTimestamp() - start;
    }

    private async System.Threading.Tasks.Task PostRawAsync(byte[][] requests)
    {
        foreach (var body in requests)
        {
            using var content = new ByteArrayContent(body);
            using var response = await raw.PostAsync("write?db=bench_write_raw&precision=ns", content);
            if (response.StatusCode != HttpStatusCode.NoContent)
            {
                throw new InvalidOperationException($"influxd answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    private static InfluxObservationStore Open(string database, HttpMessageHandler? handler) =>
        new(StoreAddress.Parse(BenchmarkInfluxd.StoreUrl(database), Path.GetTempPath()), new StoreOptions(), handler: handler);

    /// <summary>Keeps the (decompressed) body of every write request, if asked to, and answers 204 like influxd, sending nothing.</summary>
    private sealed class CapturingHandler(List<byte[]>? bodies) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (bodies is not null)
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
            }

            return new HttpResponseMessage(HttpStatusCode.NoContent) { RequestMessage = request };
        }
    }
}

/// <summary>One iteration of <see cref="InfluxWriteBenchmarks.StoreBesideRaw"/>: nanoseconds spent by each path on the same readings.</summary>
public sealed record PairedIteration(int Readings, double StoreNanoseconds, double RawNanoseconds)
{
    /// <summary>The store's rate as a fraction of the reference's.</summary>
    public double Ratio => RawNanoseconds / StoreNanoseconds;
}
