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
        var delivered = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var owner = Worker(database);
        Collect(owner, delivered);
        await owner.StartAsync(Ct);
        await Poll.UntilAsync(() => owner.OwnedCount == Partitions, Deadline, "the owner holding every partition");

        // The waker checks its share once, while the owner holds everything: it owns nothing, and does not take over
        // the owner's partitions while the owner is away (that would hide the loss this test is about).
        using var waker = Worker(database, checkInterval: TimeSpan.FromHours(1));
        await waker.StartAsync(Ct);
        await Poll.UntilAsync(() => owner.OwnedCount == Partitions / 2, Deadline, "the owner giving back half to the waker's fair share");
        Assert.Equal(0, waker.OwnedCount);

        // Two patients of every partition: whichever partitions the owner takes again, each has patients in it.
        var patients = Enumerable.Range(0, 1000).Select(i => $"patient-{i}")
            .GroupBy(p => ScoringPartitions.PartitionOf(p, Partitions)).SelectMany(g => g.Take(2)).ToList();
        Assert.Equal(Partitions * 2, patients.Count);

        await using var admin = new NpgsqlConnection(services.PostgresConnection);
        await admin.OpenAsync(Ct);
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await using var observer = new NpgsqlConnection(database);
        var notified = 0;
        observer.Notification += (_, _) => Interlocked.Increment(ref notified);
        await observer.OpenAsync(Ct);
        await ExecuteAsync(observer, $"LISTEN {ScoringPartitions.WakeChannel}");

        // Down: the owner's session killed, and no new session let in until the wake-ups are sent.
        await ExecuteAsync(admin, $"ALTER DATABASE {name} ALLOW_CONNECTIONS false");
        try
        {
            await ExecuteAsync(admin, $"SELECT pg_terminate_backend(pid) FROM (SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = '{name}')) AS holders");
            await Poll.UntilAsync(() => owner.OwnedCount == 0, Deadline, "the owner noticing its session is gone");

            foreach (var patient in patients)
            {
                waker.WakeOwner(patient);
            }

            await Poll.UntilAsync(
                async () =>
                {
                    await observer.WaitAsync(TimeSpan.FromMilliseconds(50), Ct);
                    return Volatile.Read(ref notified);
                },
                count => count > 0,
                Deadline,
                "the waker's NOTIFY");

            // The waker leaves, so that the owner, alone again, takes every partition back.
            await waker.StopAsync(Ct);
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

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}
