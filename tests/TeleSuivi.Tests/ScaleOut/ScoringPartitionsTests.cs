using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
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

    private static ScoringPartitions Worker(string? database) => new(
        Options.Create(new WorkflowOptions { PostgreSql = database }),
        Options.Create(new ScoringPartitionOptions { Count = Partitions, CheckInterval = TimeSpan.FromMilliseconds(100) }),
        NullLogger<ScoringPartitions>.Instance);
}
