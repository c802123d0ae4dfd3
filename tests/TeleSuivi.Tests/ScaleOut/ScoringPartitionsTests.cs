using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using TeleSuivi.Server.ScaleOut;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>Partition leases on the private PostgreSQL: each worker is a <see cref="ScoringPartitions"/> with its own session.</summary>
[Collection(ScaleOutGroup.Name)]
public sealed class ScoringPartitionsTests(ScaleOutServices services)
{
    private const int Partitions = 16;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Owns_TwoWorkers_EveryPatientOwnedByExactlyOne()
    {
        var database = await services.NewDatabaseAsync("partitions");
        using var first = Worker(database);
        using var second = Worker(database);
        await first.StartAsync(Ct);
        await second.StartAsync(Ct);

        await Poll.UntilAsync(() => first.OwnedCount == Partitions / 2 && second.OwnedCount == Partitions / 2, Deadline, "an even split");

        Assert.Empty(first.Owned().Intersect(second.Owned()));
        var patients = Enumerable.Range(0, 1000).Select(i => $"patient-{i}").ToList();
        Assert.All(patients, p => Assert.True(first.Owns(p) ^ second.Owns(p), $"{p} is owned by {(first.Owns(p) ? "both" : "neither")}"));
        await first.StopAsync(Ct);
        await second.StopAsync(Ct);
    }

    [Fact]
    public async Task Owns_WorkerStops_SurvivorTakesItsPartitions()
    {
        var database = await services.NewDatabaseAsync("partitions");
        using var survivor = Worker(database);
        using var leaving = Worker(database);
        await survivor.StartAsync(Ct);
        await leaving.StartAsync(Ct);
        await Poll.UntilAsync(() => survivor.OwnedCount + leaving.OwnedCount == Partitions && leaving.OwnedCount > 0, Deadline, "both owning");

        await leaving.StopAsync(Ct);

        Assert.Equal(0, leaving.OwnedCount);
        await Poll.UntilAsync(() => survivor.OwnedCount == Partitions, Deadline, "the survivor owning every partition");
        Assert.True(survivor.Owns("any patient"));
        await survivor.StopAsync(Ct);
    }

    /// <summary>
    /// The owner's lease session is killed (<c>pg_terminate_backend</c>) and cannot reconnect for a while; another worker
    /// wakes it for patients of every partition meanwhile. PostgreSQL keeps no notification for a session that is not
    /// listening, so the wake-ups must come from somewhere durable once the owner is back.
    /// </summary>
    [Fact]
    public async Task Woken_WakeUpsSentWhileOwnerSessionIsDown_DeliveredAfterItReconnects()
    {
        var database = await services.NewDatabaseAsync("partitions");
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await using var admin = new NpgsqlConnection(services.PostgresConnection);
        await admin.OpenAsync(Ct);
        await using var observer = new NpgsqlConnection(database);
        var notified = 0;
        observer.Notification += (_, _) => Interlocked.Increment(ref notified);
        await observer.OpenAsync(Ct);
        await ExecuteAsync(observer, $"LISTEN {ScoringPartitions.WakeChannel}");

        // Both check their share only when they (re)connect: the owner takes everything, the waker, second, nothing, and
        // it does not take the owner's partitions over while the owner is away (that would hide the loss tested here).
        var delivered = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var owner = Worker(database, checkInterval: TimeSpan.FromHours(1));
        Collect(owner, delivered);
        await owner.StartAsync(Ct);
        await Poll.UntilAsync(() => owner.OwnedCount == Partitions, Deadline, "the owner holding every partition");
        using var waker = Worker(database, checkInterval: TimeSpan.FromHours(1));
        await waker.StartAsync(Ct);

        // The waker sends after its first check: once a wake-up of its is heard, it has checked and owns nothing.
        waker.WakeOwner("warm-up");
        await UntilNotifiedAsync(observer, () => Volatile.Read(ref notified) > 0, "the waker's first NOTIFY");
        Assert.Equal(0, waker.OwnedCount);
        await Poll.UntilAsync(() => delivered.ContainsKey("warm-up"), Deadline, "the warm-up wake-up handed to the owner's scorer");

        // Two patients of every partition.
        var patients = Enumerable.Range(0, 1000).Select(i => $"patient-{i}")
            .GroupBy(p => ScoringPartitions.PartitionOf(p, Partitions)).SelectMany(g => g.Take(2)).ToList();
        Assert.Equal(Partitions * 2, patients.Count);

        // Down: the owner's session killed, and no new session let in until the wake-ups are sent.
        await ExecuteAsync(admin, $"ALTER DATABASE {name} ALLOW_CONNECTIONS false");
        try
        {
            await ExecuteAsync(admin, $"SELECT pg_terminate_backend(pid) FROM (SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = '{name}')) AS holders");
            await Poll.UntilAsync(() => owner.OwnedCount == 0, Deadline, "the owner noticing its session is gone");

            var before = Volatile.Read(ref notified);
            foreach (var patient in patients)
            {
                waker.WakeOwner(patient);
            }

            await UntilNotifiedAsync(observer, () => Volatile.Read(ref notified) > before, "the waker's NOTIFY while the owner is down");

            // The waker leaves, so that the owner, alone when it reconnects, takes every partition back.
            await waker.StopAsync(Ct);
            await Poll.UntilAsync(() => ScoringSessionsAsync(admin, name), sessions => sessions == 0, Deadline, "no scoring session left");
        }
        finally
        {
            await ExecuteAsync(admin, $"ALTER DATABASE {name} ALLOW_CONNECTIONS true");
        }

        await Poll.UntilAsync(() => owner.OwnedCount == Partitions, TimeSpan.FromSeconds(40), "the owner reconnected and holding every partition");
        await Poll.UntilAsync(
            () => Task.FromResult(patients.Count(p => !delivered.ContainsKey(p))),
            missing => missing == 0,
            Deadline,
            "every patient woken while the owner was down handed to its scorer");
        await owner.StopAsync(Ct);
    }

    /// <summary>The scorer's queue is full when the wake-ups come: they stay pending and are offered again, then none is left.</summary>
    [Fact]
    public async Task Woken_ScorerRefusesAtFirst_OfferedAgainUntilTaken()
    {
        var database = await services.NewDatabaseAsync("partitions");
        using var worker = Worker(database);
        var offers = 0;
        var delivered = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        worker.Woken = patientIds =>
        {
            if (Interlocked.Increment(ref offers) <= 2)
            {
                return false;
            }

            foreach (var patientId in patientIds)
            {
                delivered.AddOrUpdate(patientId, 1, (_, times) => times + 1);
            }

            return true;
        };
        await worker.StartAsync(Ct);
        await Poll.UntilAsync(() => worker.OwnedCount == Partitions, Deadline, "the worker holding every partition");
        var patients = Enumerable.Range(0, 50).Select(i => $"patient-{i}").ToList();

        foreach (var patient in patients)
        {
            worker.WakeOwner(patient);
        }

        await Poll.UntilAsync(() => patients.All(delivered.ContainsKey), Deadline, "every patient taken once the scorer had room");
        Assert.True(Volatile.Read(ref offers) >= 3, $"offered {offers} time(s)");
        Assert.All(patients, p => Assert.Equal(1, delivered[p]));
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using var pending = new NpgsqlCommand("SELECT count(*) FROM scoring_wake", connection);
        Assert.Equal(0L, (long)(await pending.ExecuteScalarAsync(Ct))!);
        await worker.StopAsync(Ct);
    }

    /// <summary>
    /// Wake-ups left by workers of another <c>ScoringPartitions:Count</c> (the deployment changed it) are filed under the
    /// new count at the next connection, then delivered: not stranded in partitions no one owns any more.
    /// </summary>
    [Fact]
    public async Task Woken_RowsOfAnotherPartitionCount_RefiledAndDelivered()
    {
        var database = await services.NewDatabaseAsync("partitions");
        const int OldCount = Partitions * 4;
        var patients = Enumerable.Range(0, 20).Select(i => $"patient-{i}").ToList();
        Assert.Contains(patients, p => ScoringPartitions.PartitionOf(p, OldCount) >= Partitions);
        using (var before = Worker(database))
        {
            // Creates the table, as a worker of the new release does.
            await before.StartAsync(Ct);
            await Poll.UntilAsync(() => before.OwnedCount == Partitions, Deadline, "the first worker holding every partition");
            await before.StopAsync(Ct);
        }

        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync(Ct);
            await using var insert = new NpgsqlCommand("INSERT INTO scoring_wake (patient_id, partition, partition_count) SELECT id, part, @count FROM unnest(@ids, @partitions) AS w(id, part)", connection);
            insert.Parameters.AddWithValue("count", OldCount);
            insert.Parameters.AddWithValue("ids", patients.ToArray());
            insert.Parameters.AddWithValue("partitions", patients.Select(p => ScoringPartitions.PartitionOf(p, OldCount)).ToArray());
            await insert.ExecuteNonQueryAsync(Ct);
        }

        var delivered = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var worker = Worker(database);
        Collect(worker, delivered);
        await worker.StartAsync(Ct);

        await Poll.UntilAsync(() => patients.All(delivered.ContainsKey), Deadline, "every patient of the old count delivered");
        await worker.StopAsync(Ct);
    }

    [Fact]
    public void Owns_WithoutPostgreSql_OwnsEveryPatient()
    {
        using var single = Worker(null);

        Assert.Equal(Partitions, single.OwnedCount);
        Assert.True(single.Owns("p-1") && single.Owns("p-2"));
    }

    [Fact]
    public void PartitionOf_KnownId_IsFnv1aOfItsUtf8Bytes()
    {
        // FNV-1a 32 of "a" is 0xe40c292c (the algorithm's published test vector): the hash must not change between
        // releases, or a rolling upgrade would give two workers the same patient.
        Assert.Equal((int)(0xe40c292cu % 65536), ScoringPartitions.PartitionOf("a", 65536));
    }

    private static ScoringPartitions Worker(string? database, TimeSpan? checkInterval = null) => new(
        Options.Create(new WorkflowOptions { PostgreSql = database }),
        Options.Create(new ScoringPartitionOptions { Count = Partitions, CheckInterval = checkInterval ?? TimeSpan.FromMilliseconds(100) }),
        NullLogger<ScoringPartitions>.Instance);

    private static void Collect(ScoringPartitions worker, ConcurrentDictionary<string, int> delivered) =>
        worker.Woken = patientIds =>
        {
            foreach (var patientId in patientIds)
            {
                delivered.AddOrUpdate(patientId, 1, (_, times) => times + 1);
            }

            return true;
        };

    /// <summary>Lets <paramref name="listener"/> take its notifications until <paramref name="heard"/> holds.</summary>
    private static async Task UntilNotifiedAsync(NpgsqlConnection listener, Func<bool> heard, string what) =>
        await Poll.UntilAsync(
            async () =>
            {
                await listener.WaitAsync(TimeSpan.FromMilliseconds(50), Ct);
                return heard();
            },
            done => done,
            Deadline,
            what);

    private static async Task<long> ScoringSessionsAsync(NpgsqlConnection admin, string database)
    {
        await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = @app AND datname = @database", admin);
        count.Parameters.AddWithValue("app", ScoringPartitions.ApplicationName);
        count.Parameters.AddWithValue("database", database);
        return (long)(await count.ExecuteScalarAsync(Ct))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}
