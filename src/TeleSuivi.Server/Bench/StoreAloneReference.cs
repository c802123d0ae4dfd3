using System.Diagnostics;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// What the store takes on its own: the bench's messages normalised ahead (not timed), then written by the store's own
/// <see cref="IObservationStore.WriteAsync"/> in the batches and with the writes in flight of the ingest pipeline, into
/// a database or file of their own, with nothing else of the platform running; a tenth of the batches first, not timed.
/// </summary>
/// <param name="Messages">The messages whose Observations were timed (the batches written first, to warm up, are not).</param>
/// <param name="Rejected">Messages the normaliser refused (none written).</param>
/// <param name="Observations">The Observations written in the timed batches.</param>
/// <param name="Seconds">From the first write's start to the last write's end.</param>
/// <param name="Batches">Timed store writes, each of the Observations of up to <see cref="IngestOptions.BatchSize"/> messages.</param>
/// <param name="WritesInFlight">Writes running at once, as <see cref="IngestOptions.WritesInFlight"/>.</param>
/// <param name="Store">Where they were written (the run's store, another database or file).</param>
public sealed record StoreReferenceResult(
    long Messages,
    long Rejected,
    long Observations,
    double Seconds,
    int Batches,
    int WritesInFlight,
    string Store)
{
    public double MessagesPerSecond => Messages / Math.Max(Seconds, 1e-9);

    public double ObservationsPerSecond => Observations / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// Measures <see cref="StoreReferenceResult"/> before the platform starts: the ceiling of the store for this traffic
/// on this machine, beside the broker's (<see cref="RawBrokerReference"/>). End to end cannot be faster than the
/// slower of the two; when the store alone takes less than 0.6 × the raw broker rate, that target is out of reach in
/// this run with the points the store writes (its own code builds them: the reference is the store as it is, not the
/// database's ceiling for any point).
/// </summary>
public static class StoreAloneReference
{
    /// <summary>Messages written at most: enough for seconds of writes, few enough to hold their Observations in memory.</summary>
    public const int MaxMessages = 100_000;

    public static async Task<StoreReferenceResult> MeasureAsync(
        string store,
        string dataDirectory,
        DeviceRegistry registry,
        IReadOnlyList<BenchMessage> messages,
        Action<string, long, long> progress,
        CancellationToken cancellationToken)
    {
        var ingest = new IngestOptions();
        var (batches, rejected) = Normalise(messages.Take(MaxMessages).ToList(), registry, ingest, progress);
        var address = StoreAddress.Parse(store, dataDirectory);
        var referenceAddress = address.Kind == StoreKind.Sqlite
            ? Path.Combine(dataDirectory, "store-reference", "observations.db")
            : ReferenceDatabase(store, address);
        var options = new StoreOptions { Url = address.Kind == StoreKind.Sqlite ? "sqlite:" + referenceAddress : referenceAddress, DataDirectory = dataDirectory };
        var target = ObservationStoreFactory.Create(options);
        try
        {
            await target.InitializeAsync(cancellationToken);

            // The bench process runs the store's code for the first time here: a tenth of the batches, not timed, lets
            // the runtime compile it as the long-running platform has by saturation.
            var warmUp = Math.Max(1, batches.Count / 10);
            foreach (var batch in batches.Take(warmUp))
            {
                await target.WriteAsync(batch.Observations, cancellationToken);
            }

            var timed = batches.Skip(warmUp).ToList();
            var timedObservations = timed.Sum(b => (long)b.Observations.Count);
            long written = 0;
            var first = Stopwatch.GetTimestamp();
            await Parallel.ForEachAsync(
                timed,
                new ParallelOptions { MaxDegreeOfParallelism = ingest.WritesInFlight, CancellationToken = cancellationToken },
                async (batch, token) =>
                {
                    await target.WriteAsync(batch.Observations, token);
                    progress("reference: store alone", Interlocked.Add(ref written, batch.Observations.Count), timedObservations);
                });
            var seconds = Stopwatch.GetElapsedTime(first).TotalSeconds;
            return new StoreReferenceResult(timed.Sum(b => (long)b.Messages), rejected, timedObservations, seconds, timed.Count, ingest.WritesInFlight, target.Display);
        }
        finally
        {
            if (target is InfluxObservationStore influx)
            {
                // Dropped, so that influxd does not spend the loads compacting it.
                using var dropped = await influx.Client.ExecuteAsync(null, $"DROP DATABASE {InfluxQl.QuoteIdentifier(influx.Database)}", null, CancellationToken.None);
            }

            (target as IDisposable)?.Dispose();
            if (address.Kind == StoreKind.Sqlite && Path.GetDirectoryName(referenceAddress) is { } folder && Directory.Exists(folder))
            {
                SqliteConnection.ClearAllPools();
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>The messages' Observations in the pipeline's batches, each with the count of messages it holds.</summary>
    private static (List<(List<Observation> Observations, int Messages)> Batches, long Rejected) Normalise(
        List<BenchMessage> messages, DeviceRegistry registry, IngestOptions ingest, Action<string, long, long> progress)
    {
        var options = Options.Create(ingest);
        var normalizer = new MessageNormalizer(options, registry, new EnvironmentDecoder(options));
        var batches = new List<(List<Observation> Observations, int Messages)>();
        var batch = new List<Observation>();
        int accepted = 0;
        long rejected = 0;
        var receivedAt = DateTimeOffset.UtcNow;
        for (var i = 0; i < messages.Count; i++)
        {
            var outcome = normalizer.Normalize(new IngestMessage(messages[i].Topic, messages[i].Payload, receivedAt, _ => Task.CompletedTask));
            if (outcome.Rejected)
            {
                rejected++;
            }
            else
            {
                accepted++;
            }

            batch.AddRange(outcome.Observations);
            if ((i + 1) % ingest.BatchSize == 0 || i == messages.Count - 1)
            {
                if (batch.Count > 0)
                {
                    batches.Add((batch, accepted));
                }

                batch = [];
                accepted = 0;
                progress("normalising (store reference)", i + 1, messages.Count);
            }
        }

        return (batches, rejected);
    }

    /// <summary>The same server, a database of the reference's own (dropped afterwards), the run's credentials.</summary>
    private static string ReferenceDatabase(string store, StoreAddress address)
    {
        var builder = new UriBuilder(store.Trim()) { Path = "/" + address.Database + "_store_reference" };
        return builder.Uri.ToString();
    }
}
