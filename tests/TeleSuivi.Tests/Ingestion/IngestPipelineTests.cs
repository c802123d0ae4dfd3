using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;
using TeleSuivi.Tests.Devices.Profiles;
using TeleSuivi.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Ingestion;

/// <summary>
/// The ingest processor with several batches written at once, on a real SQLite store, spool and dead-letter store.
/// The store's writes go through a script that holds, fails or passes each batch, so that the order in which writes
/// end can be chosen: what must hold whatever that order is, is checked (acknowledged only once durable, in arrival
/// order; a batch the store cannot take spooled, the others stored; nothing lost).
/// </summary>
public sealed class IngestPipelineTests : IAsyncDisposable
{
    private const string Topic = "telesuivi/v1/environment/zone-pipeline";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-pipeline-").FullName;
    private readonly List<IDisposable> owned = [];
    private readonly List<(int Message, long SpooledMessages)> acknowledged = [];
    private readonly DateTimeOffset start = DateTimeOffset.UtcNow.AddHours(-2);
    private readonly Dictionary<int, string> ids = [];
    private IngestChannel? channel;
    private ObservationSpool? spool;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private IOptions<StoreOptions> Settings => Options.Create(new StoreOptions { DataDirectory = data, SpoolRetryMaxDelay = TimeSpan.FromMilliseconds(200) });

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned.AsEnumerable().Reverse())
        {
            if (item is Microsoft.Extensions.Hosting.BackgroundService service)
            {
                await service.StopAsync(CancellationToken.None);
            }

            item.Dispose();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    [Fact]
    public async Task WritesInFlight_OneBatchStoreUnavailableWhileLaterOnesAreStored_ItsMessagesSpooledNothingAcknowledgedBeforeDurableAllInArrivalOrder()
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thirdStored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondFailed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Queued before the processor starts: batches of 5, messages 0-4, 5-9 and 10-14.
        var (spool, store) = await StartAsync(writesInFlight: 3, queued: 15, script: async (call, batch, write, ct) =>
        {
            switch (call)
            {
                case 1:
                    // The oldest batch is slow: the two after it are written meanwhile.
                    await first.Task.WaitAsync(ct);
                    await write(batch, ct);
                    break;
                case 2:
                    await second.Task.WaitAsync(ct);
                    secondFailed.TrySetResult();
                    throw new IOException("injected: the store cannot be reached");
                default:
                    await write(batch, ct);
                    if (call == 3)
                    {
                        thirdStored.TrySetResult();
                    }

                    break;
            }
        });

        await thirdStored.Task.WaitAsync(Deadline, Cancel);
        second.SetResult();
        await secondFailed.Task.WaitAsync(Deadline, Cancel);

        // Batch 3 is stored and batch 2 has failed, but batch 1 is not durable: no message may be acknowledged yet.
        Assert.Empty(Acknowledged());
        first.SetResult();
        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 15, Deadline, "every message acknowledged");

        // In arrival order, and batch 2's messages only once in the spool.
        Assert.Equal(Enumerable.Range(0, 15), Acknowledged().Select(a => a.Message));
        Assert.All(Acknowledged().Where(a => a.Message is >= 5 and < 10), a => Assert.True(a.SpooledMessages >= 5, $"message {a.Message} acknowledged with {a.SpooledMessages} message(s) spooled"));
        Assert.Equal(Enumerable.Range(0, 5).Concat(Enumerable.Range(10, 5)), await StoredAsync(store));

        // Batch 2 is spooled, and batch 3 after it: stored before batch 2 was spooled, it is replayed after it so that
        // the store sees the Observations in the order received.
        Assert.Equal(10, spool.Status.Messages);
        await ReplayAsync(spool, store);
        Assert.Equal(Enumerable.Range(0, 15), await StoredAsync(store));
    }

    [Fact]
    public async Task WritesInFlight_ReadingSentAgainCorrectedWhileItsFirstWriteIsInFlight_TheCorrectionIsWrittenLast()
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Batch 1: messages 0-4, queued before the processor starts.
        var (_, store) = await StartAsync(writesInFlight: 3, queued: 5, script: async (call, batch, write, ct) =>
        {
            if (call == 1)
            {
                firstCalled.TrySetResult();
                await first.Task.WaitAsync(ct);
            }
            else
            {
                secondCalled.TrySetResult();
            }

            await write(batch, ct);
        });

        // Batch 2: message 2 again with another value (the device corrected it), and 4 new ones.
        await firstCalled.Task.WaitAsync(Deadline, Cancel);
        Enqueue(100, Message(2, pm25: 97.5));
        foreach (var i in Enumerable.Range(5, 4))
        {
            Enqueue(i, Message(i));
        }

        // Batch 2 shares an Observation with batch 1, still being written: its write must wait (a second write in
        // flight would land in any order). Given half a second to go wrong, it must not start.
        var overtook = await Task.WhenAny(secondCalled.Task, Task.Delay(TimeSpan.FromMilliseconds(500), Cancel)) == secondCalled.Task;
        Assert.False(overtook, "the second batch was written while the first, with the same Observation, was in flight");
        first.SetResult();
        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 10, Deadline, "every message acknowledged");

        var corrected = await store.FindAsync(ids[2], Cancel);
        Assert.Equal(99.5m, Assert.IsType<Quantity>(corrected?.Value).Value);
    }

    [Fact]
    public async Task BatchDelay_PipelineIdle_AReadingIsWrittenAtOnceNotAfterTheWindow()
    {
        // A window of an hour: a reading that waited for it would miss the deadline by far.
        await StartAsync(writesInFlight: 3, batchDelay: TimeSpan.FromHours(1), script: (_, batch, write, ct) => write(batch, ct));

        Enqueue(0, Message(0));

        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 1, Deadline, "the reading acknowledged");
    }

    [Fact]
    public async Task BatchDelay_ReadingsArriveWhileAWriteIsInFlight_TheyWaitForItAndShareTheNextWrite()
    {
        var sizes = new List<int>();
        var firstCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await StartAsync(writesInFlight: 3, batchDelay: TimeSpan.FromHours(1), script: async (call, batch, write, ct) =>
        {
            lock (sizes)
            {
                sizes.Add(batch.Count);
            }

            if (call == 1)
            {
                firstCalled.TrySetResult();
                await first.Task.WaitAsync(ct);
            }

            await write(batch, ct);
        });

        Enqueue(0, Message(0));
        await firstCalled.Task.WaitAsync(Deadline, Cancel);
        foreach (var i in Enumerable.Range(1, 4))
        {
            Enqueue(i, Message(i));
        }

        // All taken off the channel into the next batch while the first write is held: none written yet.
        await Poll.UntilAsync(() => channel!.Count == 0, Deadline, "the readings taken into the next batch");
        lock (sizes)
        {
            Assert.Equal([1], sizes);
        }

        first.SetResult();
        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 5, Deadline, "every reading acknowledged");
        Assert.Equal(Enumerable.Range(0, 5), Acknowledged().Select(a => a.Message));
        lock (sizes)
        {
            Assert.Equal([1, 4], sizes);
        }
    }

    [Fact]
    public async Task BatchDelay_WriteInFlightOutlastsTheWindow_ThePartialBatchIsWrittenWithoutWaitingForIt()
    {
        var secondCalled = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await StartAsync(writesInFlight: 3, batchDelay: TimeSpan.FromMilliseconds(200), script: async (call, batch, write, ct) =>
        {
            if (call == 1)
            {
                firstCalled.TrySetResult();
                await first.Task.WaitAsync(ct);
            }
            else
            {
                secondCalled.TrySetResult(batch.Count);
            }

            await write(batch, ct);
        });

        Enqueue(0, Message(0));
        await firstCalled.Task.WaitAsync(Deadline, Cancel);
        Enqueue(1, Message(1));
        Enqueue(2, Message(2));

        // The first write is held until the end: the second batch goes when its window has passed.
        Assert.InRange(await secondCalled.Task.WaitAsync(Deadline, Cancel), 1, 2);
        Assert.Empty(Acknowledged());
        first.SetResult();
        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 3, Deadline, "every reading acknowledged");
        Assert.Equal(Enumerable.Range(0, 3), Acknowledged().Select(a => a.Message));
    }

    [Fact]
    public async Task MinBatchAge_ReadingsTrickleToAnIdleRemoteStore_TheyShareOneWriteUntilTheBatchIsFull()
    {
        // An age of an hour: only a full batch (5) can be written before it.
        var sizes = new List<int>();
        await StartAsync(writesInFlight: 3, batchDelay: TimeSpan.FromHours(1), minBatchAge: TimeSpan.FromHours(1), script: (_, batch, write, ct) =>
        {
            lock (sizes)
            {
                sizes.Add(batch.Count);
            }

            return write(batch, ct);
        });

        foreach (var i in Enumerable.Range(0, 4))
        {
            Enqueue(i, Message(i));

            // Taken into the batch with no write in flight, and still not written.
            await Poll.UntilAsync(() => channel!.Count == 0, Deadline, $"reading {i} taken into the batch");
            lock (sizes)
            {
                Assert.Empty(sizes);
            }
        }

        Enqueue(4, Message(4));
        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 5, Deadline, "every reading acknowledged");
        Assert.Equal(Enumerable.Range(0, 5), Acknowledged().Select(a => a.Message));
        lock (sizes)
        {
            Assert.Equal([5], sizes);
        }
    }

    [Fact]
    public async Task MinBatchAge_PartialBatchReachesTheAge_WrittenWithoutWaitingForTheWindow()
    {
        // A window of an hour: a batch that waited for it rather than for its age would miss the deadline by far.
        await StartAsync(writesInFlight: 3, batchDelay: TimeSpan.FromHours(1), minBatchAge: TimeSpan.FromMilliseconds(20), script: (_, batch, write, ct) => write(batch, ct));

        Enqueue(0, Message(0));
        Enqueue(1, Message(1));

        await Poll.UntilAsync(() => Task.FromResult(Acknowledged().Count), count => count == 2, Deadline, "both readings acknowledged");
        Assert.Equal([0, 1], Acknowledged().Select(a => a.Message));
    }

    /// <summary>Writes of the store: the call number (1 for the first batch), the batch, the real write.</summary>
    private delegate Task ScriptedWrite(int call, IReadOnlyList<Observation> batch, Func<IReadOnlyList<Observation>, CancellationToken, Task> write, CancellationToken cancellationToken);

    /// <param name="queued">Messages 0, 1... put on the channel before the processor starts, so that they fill whole batches.</param>
    /// <param name="minBatchAge">Set: the writes count as a remote store's (the default age of a remote store when null is tested in IngestOptionsTests).</param>
    private async Task<(ObservationSpool Spool, SqliteObservationStore Store)> StartAsync(int writesInFlight, ScriptedWrite script, int queued = 0, TimeSpan? batchDelay = null, TimeSpan? minBatchAge = null)
    {
        var ingest = Options.Create(new IngestOptions
        {
            ProfilesDirectory = IngestExamples.IngestDirectory,
            BatchSize = 5,
            BatchDelay = batchDelay ?? TimeSpan.FromMilliseconds(100),
            WritesInFlight = writesInFlight,
            MinBatchAge = minBatchAge,
        });
        var store = new SqliteObservationStore(Path.Combine(data, "telesuivi.db"));
        owned.Add(store);
        await store.InitializeAsync(Cancel);
        var deadLetters = new DeadLetterStore(Settings);
        await deadLetters.InitializeAsync(Cancel);
        spool = new ObservationSpool(Settings, NullLogger<ObservationSpool>.Instance);
        owned.Add(spool);
        spool.Open();
        var calls = 0;
        var metrics = new WritePathMetrics();
        var writer = new StoreWriter("scripted SQLite", (batch, ct) => script(Interlocked.Increment(ref calls), batch, store.WriteAsync, ct), TimeSpan.FromSeconds(30), metrics, remote: minBatchAge is not null);
        channel = new IngestChannel(ingest);
        var processor = new IngestProcessor(
            channel,
            new MessageNormalizer(ingest, new DeviceRegistry(Settings), new EnvironmentDecoder(ingest)),
            writer,
            spool,
            deadLetters,
            new IngestCounters(),
            metrics,
            ingest,
            TimeProvider.System,
            NullLogger<IngestProcessor>.Instance,
            new AlertFeed(Options.Create(new AlertOptions())),
            new ScoringFeed(new RiskModel(), Options.Create(new RiskOptions()), TimeProvider.System));
        owned.Add(processor);
        Publish(queued);
        await processor.StartAsync(Cancel);
        return (spool, store);
    }

    private void Publish(int count)
    {
        foreach (var i in Enumerable.Range(0, count))
        {
            Enqueue(i, Message(i));
        }
    }

    private List<(int Message, long SpooledMessages)> Acknowledged()
    {
        lock (acknowledged)
        {
            return [.. acknowledged];
        }
    }

    private byte[] Message(int index, double pm25 = 10) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"time":"{{start.AddMinutes(index):yyyy-MM-ddTHH:mm:ssZ}}","pm25":{{pm25 + index}}}"""));

    private static EnvironmentDecoder EnvironmentDecoder { get; } = new(Options.Create(new IngestOptions()));

    /// <summary>Which messages' Observations the store holds, by their index.</summary>
    private async Task<IEnumerable<int>> StoredAsync(SqliteObservationStore store)
    {
        var found = new List<int>();
        foreach (var (index, id) in ids.OrderBy(pair => pair.Key))
        {
            if (index < 100 && await store.FindAsync(id, Cancel) is not null)
            {
                found.Add(index);
            }
        }

        return found;
    }

    private async Task ReplayAsync(ObservationSpool spool, SqliteObservationStore store)
    {
        var metrics = new WritePathMetrics();
        var replayer = new SpoolReplayer(
            spool, new StoreWriter(store, Settings, metrics), store, new DeadLetterStore(Settings), new IngestCounters(), metrics, Settings, TimeProvider.System, NullLogger<SpoolReplayer>.Instance);
        owned.Add(replayer);
        await replayer.StartAsync(Cancel);
        await Poll.UntilAsync(() => Task.FromResult(spool.Status.Messages), messages => messages == 0, Deadline, "the spool replayed");
    }

    /// <summary>Puts a message on the ingest channel as the MQTT client does; its acknowledgement is recorded with the spool's depth at that moment.</summary>
    private void Enqueue(int index, byte[] payload)
    {
        if (index < 100)
        {
            ids[index] = EnvironmentDecoder.Normalize("zone-pipeline", payload, DateTimeOffset.UtcNow).Observations.Single().Id!;
        }

        var message = new IngestMessage(Topic, payload, DateTimeOffset.UtcNow, _ =>
        {
            lock (acknowledged)
            {
                acknowledged.Add((index, spool?.Status.Messages ?? 0));
            }

            return Task.CompletedTask;
        });
        Assert.True(channel!.Writer.TryWrite(message));
    }
}
