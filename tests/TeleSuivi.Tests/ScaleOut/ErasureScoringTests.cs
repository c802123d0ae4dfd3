using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.ScaleOut;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// The right to erasure with several nodes, on the private PostgreSQL: a patient's pending scoring wake-up goes with
/// them.
/// </summary>
[Collection(ScaleOutGroup.Name)]
public sealed class ErasureScoringTests(ScaleOutServices services) : IDisposable
{
    private const int Partitions = 4;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-erase-scoring-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// A worker received readings of two patients it does not own while no owner drained: their wake-ups wait in
    /// <c>scoring_wake</c>. <c>patients erase</c> on the shared database takes the erased patient's, and only theirs.
    /// </summary>
    [Fact]
    public async Task Erase_PatientWithAPendingWakeUp_DeletesItAndKeepsTheOthers()
    {
        var database = await services.NewDatabaseAsync("erase_wake");
        await RegisterAsync(new PostgresWorkflowDatabase(database), "pat-e", "pat-k");
        using (var waker = Worker(database))
        {
            await waker.StartAsync(Ct);
            waker.WakeOwner("pat-e");
            waker.WakeOwner("pat-k");
            await Poll.UntilAsync(() => WakeUpsAsync(database), rows => rows.Count == 2, Deadline, "both wake-ups recorded");
            await waker.StopAsync(Ct);
        }

        var (exit, output, error) = await TeleSuiviProcess.RunToExitAsync(
            Deadline, new Dictionary<string, string> { [WorkflowOptions.EnvironmentVariable] = database }, "patients", "erase", "pat-e", "--yes", "--data", data);

        Assert.True(exit == 0, $"exit {exit}: {output}{error}");
        Assert.Equal(["pat-k"], await WakeUpsAsync(database));
        Assert.Contains("scoring         1 pending wake-up(s)", output, StringComparison.Ordinal);
        Assert.Contains("registry        1 patient record", output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean in /tmp.
        }
    }

    /// <summary>A worker that only wakes owners: it starts after the node took every partition, so it owns none.</summary>
    private static ScoringPartitions Worker(string database) => new(
        Options.Create(new WorkflowOptions { PostgreSql = database }),
        Options.Create(new ScoringPartitionOptions { Count = Partitions, CheckInterval = TimeSpan.FromHours(1), WakeInterval = TimeSpan.FromMilliseconds(50) }),
        NullLogger<ScoringPartitions>.Instance);

    private static async Task RegisterAsync(WorkflowDatabase database, params string[] patients)
    {
        using var registry = new DeviceRegistry(database);
        await registry.InitializeAsync(Ct);
        var importer = new RegistryBundleImporter(registry, TimeProvider.System);
        foreach (var patient in patients)
        {
            await importer.ImportAsync(RegistryBundles.PatientWithDevice(patient, $"{patient}-device", DateTimeOffset.UtcNow.AddDays(-30)), Ct);
        }
    }

    private static async Task<List<string>> WakeUpsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        var patients = new List<string>();

        // Polled from before the first worker created the table.
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('scoring_wake') IS NOT NULL", connection))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(Ct))!)
            {
                return patients;
            }
        }

        await using var command = new NpgsqlCommand("SELECT patient_id FROM scoring_wake ORDER BY patient_id", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            patients.Add(reader.GetString(0));
        }

        return patients;
    }

}
