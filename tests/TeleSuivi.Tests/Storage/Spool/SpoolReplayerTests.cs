using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Storage.Spool;

/// <summary>The replayer draining a spool on disk into a real SQLite store, as after a restart.</summary>
public sealed class SpoolReplayerTests : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-replay-").FullName;
    private readonly List<IDisposable> owned = [];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private IOptions<StoreOptions> Settings => Options.Create(new StoreOptions { DataDirectory = data, SpoolRetryMaxDelay = TimeSpan.FromMilliseconds(500) });

    private string SpoolDirectory => Path.Combine(data, "spool");

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned.AsEnumerable().Reverse())
        {
            if (item is SpoolReplayer replayer)
            {
                await replayer.StopAsync(CancellationToken.None);
            }

            item.Dispose();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    [Fact]
    public async Task Replayer_SpoolLeftByPreviousProcess_DrainsItInOrderAndDeletesTheSegments()
    {
        // The same Observation twice, the later with another value (a device correcting a reading): replay in
        // order leaves the later one.
        var first = BodyWeight("Patient/r1", Morning, 70.1m);
        var corrected = BodyWeight("Patient/r1", Morning, 70.4m);
        await SpoolAsync(
            [Message(0, first, HeartRate("Patient/r1", Morning, 61))],
            [Message(1, BodyWeight("Patient/r1", Morning.AddDays(1), 71m))],
            [Message(2, corrected)]);

        var (spool, _) = await StartAsync();
        await WaitUntilDrainedAsync(spool);

        var stored = await StoredData.ObservationsAsync(data);
        Assert.Equal(3, stored.Count);
        Assert.Equal(70.4m, Assert.IsType<Quantity>(stored.Single(o => o.Id == first.Id).Value).Value);
        Assert.Empty(Directory.GetFiles(SpoolDirectory));
        Assert.Equal(0, spool.Status.Bytes);
    }

    [Fact]
    public async Task Replayer_TornLastRecord_ReplaysTheRecordsBeforeAndDeletesTheSegment()
    {
        await SpoolAsync([Message(0, HeartRate("Patient/r2", Morning, 60))], [Message(1, HeartRate("Patient/r2", Morning.AddMinutes(1), 61))]);
        var segment = Assert.Single(Directory.GetFiles(SpoolDirectory));
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(file.Length - 5);
        }

        var (spool, _) = await StartAsync();
        await WaitUntilDrainedAsync(spool);

        Assert.Equal(60m, Assert.IsType<Quantity>(Assert.Single(await StoredData.ObservationsAsync(data)).Value).Value);
        Assert.Empty(Directory.GetFiles(SpoolDirectory));
    }

    [Fact]
    public async Task Replayer_DamagedMiddleRecord_ReplaysTheRecordsBeforeAndKeepsTheFileForInspection()
    {
        await SpoolAsync(
            [Message(0, HeartRate("Patient/r3", Morning, 60))],
            [Message(1, HeartRate("Patient/r3", Morning.AddMinutes(1), 61))],
            [Message(2, HeartRate("Patient/r3", Morning.AddMinutes(2), 62))]);
        var segment = Assert.Single(Directory.GetFiles(SpoolDirectory));
        var bytes = await File.ReadAllBytesAsync(segment, Cancel);
        var second = SpoolFormat.FileHeaderBytes + SpoolFormat.RecordHeaderBytes + BitConverter.ToInt32(bytes, SpoolFormat.FileHeaderBytes);
        bytes[second + SpoolFormat.RecordHeaderBytes + 30] ^= 0xff;
        await File.WriteAllBytesAsync(segment, bytes, Cancel);

        var (spool, _) = await StartAsync();
        await WaitUntilDrainedAsync(spool);

        Assert.Equal(60m, Assert.IsType<Quantity>(Assert.Single(await StoredData.ObservationsAsync(data)).Value).Value);
        Assert.Equal(Path.ChangeExtension(segment, SpoolFormat.DamagedExtension), Assert.Single(Directory.GetFiles(SpoolDirectory)));
        Assert.Equal(0, spool.Status.Observations);
    }

    [Fact]
    public async Task Replayer_StoreRefusesAnObservation_DeadLettersItsMessageAsStoreRejectedAndStoresTheRest()
    {
        var refused = HeartRate("Patient/r4", Morning, 60);
        refused.Id = null;
        await SpoolAsync([Message(0, HeartRate("Patient/r4", Morning.AddMinutes(1), 61)), Message(1, refused), Message(2, HeartRate("Patient/r4", Morning.AddMinutes(2), 62))]);

        var (spool, deadLetters) = await StartAsync();
        await WaitUntilDrainedAsync(spool);

        Assert.Equal(2, (await StoredData.ObservationsAsync(data)).Count);
        var letter = Assert.Single(await deadLetters.ListAsync(new DeadLetterQuery(), Cancel));
        Assert.Equal(RejectionCodes.StoreRejected, letter.ReasonCode);
        Assert.Equal("telesuivi/v1/devices/test/d1", letter.Topic);
        Assert.Equal("{\"reading\":1}", Encoding.UTF8.GetString(letter.Payload));
        Assert.Contains("must have an id", letter.Reason, StringComparison.Ordinal);
    }

    private static SpooledMessage Message(int i, params Observation[] observations) =>
        new($"telesuivi/v1/devices/test/d{i}", Encoding.UTF8.GetBytes($"{{\"reading\":{i}}}"), Morning.AddSeconds(i), observations);

    private async Task SpoolAsync(params IReadOnlyList<SpooledMessage>[] batches)
    {
        using var spool = new ObservationSpool(Settings, NullLogger<ObservationSpool>.Instance);
        spool.Open();
        foreach (var batch in batches)
        {
            Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(batch, Cancel));
        }
    }

    private async Task<(ObservationSpool Spool, DeadLetterStore DeadLetters)> StartAsync(WritePathMetrics? metrics = null)
    {
        metrics ??= new WritePathMetrics();
        var store = new SqliteObservationStore(Path.Combine(data, "telesuivi.db"));
        owned.Add(store);
        await store.InitializeAsync(Cancel);
        var deadLetters = new DeadLetterStore(Settings);
        await deadLetters.InitializeAsync(Cancel);
        var spool = new ObservationSpool(Settings, NullLogger<ObservationSpool>.Instance);
        owned.Add(spool);
        spool.Open();
        var replayer = new SpoolReplayer(
            spool, new StoreWriter(store, Settings, metrics), store, deadLetters, new IngestCounters(), metrics, Settings, TimeProvider.System, NullLogger<SpoolReplayer>.Instance);
        owned.Add(replayer);
        await replayer.StartAsync(Cancel);
        return (spool, deadLetters);
    }

    private static Task WaitUntilDrainedAsync(ObservationSpool spool) =>
        Poll.UntilAsync(() => spool.Status is { Observations: 0, Messages: 0, Segments: 0 }, Deadline, "the spool to be drained");
}
