using System.Net;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Storage.Spool;

/// <summary>How the write path classes store failures and isolates the Observations a store refuses.</summary>
public sealed class StoreWriterTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-writer-").FullName;
    private readonly WritePathMetrics metrics = new();

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task WriteAsync_StoreAcceptsAll_ReturnsNoRejectionAndTimesTheWrite()
    {
        var store = new PickyStore();

        var rejections = await Writer(store).WriteAsync(Weights(5), Cancel);

        Assert.Empty(rejections);
        Assert.Equal(5, store.Stored.Count);
        Assert.Equal(1, metrics.Latency().Count);
    }

    [Fact]
    public async Task WriteAsync_PartialWriteWithWholeBatchRange_FindsExactlyTheRefusedOnesAndStoresTheRest()
    {
        var batch = Weights(20);
        var store = new PickyStore { Refused = { batch[3].Id!, batch[4].Id!, batch[17].Id! } };

        var rejections = await Writer(store).WriteAsync(batch, Cancel);

        Assert.Equal([3, 4, 17], rejections.Select(r => r.Index));
        Assert.All(rejections, r => Assert.Contains("field type conflict", r.Reason, StringComparison.Ordinal));
        Assert.Equal(batch.Where((_, i) => i is not (3 or 4 or 17)).Select(o => o.Id).Order(), store.Stored.Keys.Order());
        Assert.True(metrics.FailuresByKind()[StoreFailureKind.Rejected] >= 3);
        Assert.Null(metrics.LastFailure);
    }

    [Fact]
    public async Task WriteAsync_RefusedChunkOfSeveral_StoresTheChunksAfterItToo()
    {
        var batch = Weights(23);
        var store = new PickyStore { ChunkSize = 5, Refused = { batch[7].Id! } };

        var rejections = await Writer(store).WriteAsync(batch, Cancel);

        Assert.Equal(7, Assert.Single(rejections).Index);
        Assert.Equal(22, store.Stored.Count);
        Assert.DoesNotContain(batch[7].Id!, store.Stored.Keys);
    }

    [Fact]
    public async Task WriteAsync_Unreachable_ThrowsUnavailableAndCountsIt()
    {
        var store = new PickyStore { Failure = new InfluxUnavailableException("cannot write", "Connection refused (127.0.0.1:1)") };

        var error = await Assert.ThrowsAsync<StoreWriteException>(() => Writer(store).WriteAsync(Weights(2), Cancel));

        Assert.Equal(StoreFailureKind.Unavailable, error.Kind);
        Assert.Contains("Connection refused", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, metrics.FailuresByKind()[StoreFailureKind.Unavailable]);
        Assert.Equal(StoreFailureKind.Unavailable, metrics.LastFailure?.Kind);
    }

    [Fact]
    public async Task WriteAsync_AccessDenied_ThrowsAccess()
    {
        var store = new PickyStore { Failure = new InfluxAccessException("cannot write", "HTTP 401 Unauthorized: authorization failed", HttpStatusCode.Unauthorized, "authorization failed") };

        var error = await Assert.ThrowsAsync<StoreWriteException>(() => Writer(store).WriteAsync(Weights(2), Cancel));

        Assert.Equal(StoreFailureKind.Access, error.Kind);
    }

    [Fact]
    public async Task WriteAsync_NoAnswerWithinWriteTimeout_ThrowsTimeout()
    {
        var store = new PickyStore { Hang = true };

        var error = await Assert.ThrowsAsync<StoreWriteException>(() => Writer(store, TimeSpan.FromMilliseconds(200)).WriteAsync(Weights(1), Cancel));

        Assert.Equal(StoreFailureKind.Timeout, error.Kind);
        Assert.Contains("Store:WriteTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_SqliteObservationWithoutId_IsRejectedAndTheOthersStored()
    {
        using var store = new SqliteObservationStore(Path.Combine(directory, "telesuivi.db"));
        await store.InitializeAsync(Cancel);
        var batch = Weights(6);
        batch[2].Id = null;

        var rejections = await Writer(store).WriteAsync(batch, Cancel);

        Assert.Equal(2, Assert.Single(rejections).Index);
        Assert.Equal(5, (await StoredData.ObservationsAsync(directory)).Count);
    }

    [Theory]
    [InlineData(5, StoreFailureKind.Unavailable)] // SQLITE_BUSY: another writer holds the lock
    [InlineData(10, StoreFailureKind.Unavailable)] // SQLITE_IOERR
    [InlineData(13, StoreFailureKind.Unavailable)] // SQLITE_FULL: the disk is full
    [InlineData(8, StoreFailureKind.Access)] // SQLITE_READONLY
    [InlineData(19, StoreFailureKind.Rejected)] // SQLITE_CONSTRAINT
    public async Task WriteAsync_SqliteError_IsClassedByItsResultCode(int code, StoreFailureKind expected)
    {
        var store = new PickyStore { Failure = new SqliteException($"SQLite Error {code}", code) };

        var writer = Writer(store);
        if (expected == StoreFailureKind.Rejected)
        {
            Assert.Single(await writer.WriteAsync(Weights(1), Cancel));
        }
        else
        {
            Assert.Equal(expected, (await Assert.ThrowsAsync<StoreWriteException>(() => writer.WriteAsync(Weights(1), Cancel))).Kind);
        }
    }

    private StoreWriter Writer(IObservationStore store, TimeSpan? timeout = null) =>
        new(store, Options.Create(new StoreOptions { WriteTimeout = timeout ?? TimeSpan.FromSeconds(10) }), metrics);

    private StoreWriter Writer(PickyStore store, TimeSpan? timeout = null) =>
        new("picky://store", store.WriteAsync, timeout ?? TimeSpan.FromSeconds(10), metrics);

    private static Observation[] Weights(int count) =>
        [.. Enumerable.Range(0, count).Select(i => BodyWeight("Patient/w", Morning.AddMinutes(i), 70 + i))];

    /// <summary>
    /// A store that behaves as InfluxDB 1.x does with points it refuses: it stores the others of the request and answers
    /// 400 for the whole request (a partial write), in requests of <see cref="ChunkSize"/> points (later requests of the
    /// batch are not sent once one fails).
    /// </summary>
    private sealed class PickyStore
    {
        public HashSet<string> Refused { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Observation> Stored { get; } = new(StringComparer.Ordinal);

        public int ChunkSize { get; init; } = int.MaxValue;

        public Exception? Failure { get; init; }

        public bool Hang { get; init; }

        public async Task WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken)
        {
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            if (Failure is not null)
            {
                throw Failure;
            }

            for (var first = 0; first < observations.Count; first += ChunkSize)
            {
                var count = Math.Min(ChunkSize, observations.Count - first);
                var chunk = observations.Skip(first).Take(count).ToList();
                foreach (var observation in chunk.Where(o => !Refused.Contains(o.Id!)))
                {
                    Stored[observation.Id!] = observation;
                }

                var dropped = chunk.Count(o => Refused.Contains(o.Id!));
                if (dropped > 0)
                {
                    throw new InfluxDataRejectedException(
                        "cannot write", $"HTTP 400 Bad Request: partial write: field type conflict dropped={dropped}", HttpStatusCode.BadRequest,
                        $"partial write: field type conflict dropped={dropped}", first, count, dropped);
                }
            }
        }
    }
}
