using System.Globalization;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.ScaleOut;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Infrastructure;
using TeleSuivi.Tests.Risk.Online;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// The right to erasure with several nodes, on the private PostgreSQL: a patient's pending scoring wake-up goes with
/// them, and no RiskAssessment is stored for a patient the registry does not hold, whatever the scorer held in memory.
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

    /// <summary>
    /// A wake-up names a patient the registry does not hold (never registered, or erased before the owner drained):
    /// the owner drains it with a registered patient's, scores the registered one and stores nothing for the other.
    /// </summary>
    [Fact]
    public async Task Scorer_WakeUpForAPatientNotRegistered_StoresNoRiskAssessment()
    {
        var database = await services.NewDatabaseAsync("erase_ghost");
        await using var node = await ScoringNode.StartAsync(database, data, "known");
        await node.WriteReadingsAsync("known", "ghost");

        using var waker = Worker(database);
        await waker.StartAsync(Ct);
        waker.WakeOwner("ghost");
        waker.WakeOwner("known");

        // Both wake-ups are written in one transaction, drained in one and handed to the scorer as one batch: once the
        // registered patient's score is stored, the other's would have been stored with it.
        await Poll.UntilAsync(() => node.AssessmentsAsync("known"), found => found.Count == 1, Deadline, "the registered patient scored");
        Assert.Empty(await node.AssessmentsAsync("ghost"));
        Assert.Equal(1, node.Metrics.UnregisteredDropped);
        Assert.Empty(await WakeUpsAsync(database));
        await waker.StopAsync(Ct);
    }

    /// <summary>
    /// The owner holds a patient's state when another node erases them: the registry's refresh makes the scorer drop
    /// it, and a wake-up that still comes for them (a reading received just before) stores nothing.
    /// </summary>
    [Fact]
    public async Task Scorer_PatientErasedOnAnotherNodeWhileHeld_DropsTheStateAndStoresNoMore()
    {
        var database = await services.NewDatabaseAsync("erase_held");
        await using var node = await ScoringNode.StartAsync(database, data, "held", "other");
        await node.WriteReadingsAsync("held", "other");
        using var waker = Worker(database);
        await waker.StartAsync(Ct);
        waker.WakeOwner("held");
        await Poll.UntilAsync(() => node.AssessmentsAsync("held"), found => found.Count == 1, Deadline, "the patient scored once");

        // Another node's erasure (its registry, the same database), then this node's periodic refresh.
        var elsewhere = new RiskAssessmentStore(new PostgresWorkflowDatabase(database));
        Assert.Equal(1, await elsewhere.ErasePatientAsync("held", Ct));
        using (var registry = new DeviceRegistry(new PostgresWorkflowDatabase(database)))
        {
            await registry.InitializeAsync(Ct);
            await registry.ErasePatientAsync("held", [], Ct);
        }

        Assert.True(await node.Registry.RefreshAsync(Ct));
        await Poll.UntilAsync(() => node.Metrics.UnregisteredDropped == 1, Deadline, "the held state dropped");

        waker.WakeOwner("held");
        waker.WakeOwner("other");
        await Poll.UntilAsync(() => node.AssessmentsAsync("other"), found => found.Count == 1, Deadline, "the other patient scored");
        Assert.Empty(await node.AssessmentsAsync("held"));
        Assert.Equal(2, node.Metrics.UnregisteredDropped);
        await waker.StopAsync(Ct);
    }

    /// <summary>
    /// A scorer whose registry in memory still holds the patient saves while an erasure runs: its save waits for the
    /// erasure's hold, then finds the patient gone from the shared registry and saves only the others' scores.
    /// </summary>
    [Fact]
    public async Task SaveScores_DuringAnErasure_WaitsAndSavesNothingOfTheErasedPatient()
    {
        var database = await services.NewDatabaseAsync("erase_hold");
        await RegisterAsync(new PostgresWorkflowDatabase(database), "pat-a", "pat-b");
        var store = new RiskAssessmentStore(new PostgresWorkflowDatabase(database));
        await store.InitializeAsync(Ct);

        var refused = await DuringAnErasureOfAsync(database, "pat-b", () => store.SaveScoresAsync([Assessment("pat-a"), Assessment("pat-b")], Ct), "the save");

        Assert.Equal(["pat-b"], refused);
        Assert.Single((await store.SearchAsync("pat-a", 0, long.MaxValue, false, null, 10, Ct)).Matches);
        Assert.Empty((await store.SearchAsync("pat-b", 0, long.MaxValue, false, null, 10, Ct)).Matches);
    }

    /// <summary>
    /// A workflow database that holds no registry (alerts and scores alone) cannot tell an erased patient: the scores
    /// are saved, as the alert store raises, instead of failing on the missing table.
    /// </summary>
    [Fact]
    public async Task SaveScores_DatabaseWithoutARegistry_SavesEveryScore()
    {
        var database = await services.NewDatabaseAsync("no_registry");
        var store = new RiskAssessmentStore(new PostgresWorkflowDatabase(database));
        await store.InitializeAsync(Ct);

        var refused = await store.SaveScoresAsync([Assessment("pat-a"), Assessment("pat-b")], Ct);

        Assert.Empty(refused);
        Assert.Single((await store.SearchAsync("pat-b", 0, long.MaxValue, false, null, 10, Ct)).Matches);
    }

    /// <summary>
    /// An alert engine whose registry in memory still holds the patient raises while an erasure runs: the raise waits
    /// for the erasure's hold, then finds the patient gone from the shared registry and stores nothing; another
    /// patient's raise after it is stored.
    /// </summary>
    [Fact]
    public async Task RaiseAsync_DuringAnErasure_WaitsAndStoresNothingOfTheErasedPatient()
    {
        var database = await services.NewDatabaseAsync("erase_raise");
        await RegisterAsync(new PostgresWorkflowDatabase(database), "pat-a", "pat-b");
        using var alerts = new AlertStore(new PostgresWorkflowDatabase(database));
        await alerts.InitializeAsync(Ct);

        var raised = await DuringAnErasureOfAsync(database, "pat-b", () => alerts.RaiseAsync(Alerts.AlertTestBed.Draft("pat-b"), DateTimeOffset.UtcNow, Ct), "the raise");

        Assert.Null(raised);
        Assert.DoesNotContain(await alerts.LiveKeysAsync(Ct), key => key.PatientId == "pat-b");
        Assert.NotNull(await alerts.RaiseAsync(Alerts.AlertTestBed.Draft("pat-a"), DateTimeOffset.UtcNow, Ct));
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

    /// <summary>
    /// Starts <paramref name="write"/> while an erasure's hold is taken, checks that it waits for the hold, erases the
    /// patient from the shared registry as the erasure's last step does, releases the hold and returns what the write gave.
    /// </summary>
    private static async Task<T> DuringAnErasureOfAsync<T>(string database, string patient, Func<Task<T>> write, string what)
    {
        await using var hold = await ErasureLock.HoldAsync(new PostgresWorkflowDatabase(database), Ct);
        var writing = write();
        await Poll.UntilAsync(() => WaitingForLockAsync(database), waiting => waiting, Deadline, $"{what} waiting for the erasure's hold");
        Assert.False(writing.IsCompleted);
        using (var registry = new DeviceRegistry(new PostgresWorkflowDatabase(database)))
        {
            await registry.InitializeAsync(Ct);
            await registry.ErasePatientAsync(patient, [], Ct);
        }

        await hold.DisposeAsync();
        return await writing;
    }

    private static async Task<bool> WaitingForLockAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))! > 0;
    }

    private static StoredRiskAssessment Assessment(string patientId) => new(
        $"risk-{patientId}", patientId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 0.2,
        $$$"""{"resourceType":"RiskAssessment","id":"risk-{{{patientId}}}","status":"final","subject":{"reference":"Patient/{{{patientId}}}"}}""");

    /// <summary>
    /// One ingest worker's scoring, in process, as the host wires it: the shared PostgreSQL (workflow, registry, risk
    /// assessments, partitions), the embedded store in a temporary folder, the shipped model, every batch scored at once.
    /// It owns every partition before the test's waker starts.
    /// </summary>
    private sealed class ScoringNode : IAsyncDisposable
    {
        private readonly ServiceProvider provider;
        private readonly ScoringPartitions partitions;
        private readonly OnlineRiskScorer scorer;

        private ScoringNode(ServiceProvider provider)
        {
            this.provider = provider;
            partitions = provider.GetRequiredService<ScoringPartitions>();
            scorer = ActivatorUtilities.CreateInstance<OnlineRiskScorer>(provider);
        }

        public DeviceRegistry Registry => provider.GetRequiredService<DeviceRegistry>();

        public RiskMetrics Metrics => provider.GetRequiredService<RiskMetrics>();

        public static async Task<ScoringNode> StartAsync(string database, string data, params string[] registered)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Store:DataDirectory"] = data,
                ["Workflow:PostgreSql"] = database,
                ["Risk:ModelPath"] = OnlineScoringSettings.ShippedModelPath,
                ["Risk:MinRescoreInterval"] = "00:00:00",
                ["ScoringPartitions:Count"] = Partitions.ToString(CultureInfo.InvariantCulture),
                ["ScoringPartitions:CheckInterval"] = "01:00:00",
                ["ScoringPartitions:WakeInterval"] = "00:00:00.050",
            }).Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddLogging();
            services.AddTeleSuiviServices(configuration);
            var node = new ScoringNode(services.BuildServiceProvider());
            await node.provider.GetRequiredService<IObservationStore>().InitializeAsync(Ct);
            await node.provider.GetRequiredService<AlertStore>().InitializeAsync(Ct);
            await node.Registry.InitializeAsync(Ct);
            var importer = new RegistryBundleImporter(node.Registry, TimeProvider.System);
            foreach (var patient in registered)
            {
                await importer.ImportAsync(RegistryBundles.PatientWithDevice(patient, $"{patient}-device", DateTimeOffset.UtcNow.AddDays(-30)), Ct);
            }

            await node.partitions.StartAsync(Ct);
            await Poll.UntilAsync(() => node.partitions.OwnedCount == Partitions, Deadline, "the node owning every partition");
            await node.scorer.StartAsync(Ct);
            return node;
        }

        /// <summary>What another worker stored of the patients: a day of heart rates each, the last a minute ago.</summary>
        public async Task WriteReadingsAsync(params string[] patients)
        {
            var now = DateTimeOffset.UtcNow;
            var definition = MeasureCatalog.Get(TeleSuivi.Risk.Cohort.Measures.HeartRate);
            var readings = patients.SelectMany(patient => Enumerable.Range(1, 24).Select(hour => new Observation
            {
                Id = $"{patient}-hr-{hour}",
                Status = ObservationStatus.Final,
                Subject = new ResourceReference($"Patient/{patient}"),
                Code = new CodeableConcept(definition.Code.System, definition.Code.Code),
                Effective = new FhirDateTime(now.AddMinutes(1 - (60 * hour)).ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture)),
                Value = new Quantity(70 + hour, definition.Unit) { System = "http://unitsofmeasure.org", Code = definition.Unit },
            })).ToList();
            await provider.GetRequiredService<IObservationStore>().WriteAsync(readings, Ct);
        }

        public async Task<IReadOnlyList<StoredRiskAssessment>> AssessmentsAsync(string patientId) =>
            (await provider.GetRequiredService<RiskAssessmentStore>().SearchAsync(patientId, 0, long.MaxValue, false, null, 10, Ct)).Matches;

        public async ValueTask DisposeAsync()
        {
            await scorer.StopAsync(CancellationToken.None);
            await partitions.StopAsync(CancellationToken.None);
            scorer.Dispose();
            await provider.DisposeAsync();
        }
    }
}
