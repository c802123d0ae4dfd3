using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Retention;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Alerts;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>
/// The scorer's store of RiskAssessments on SQLite: a pass's scores are saved in one transaction, in <c>risk.db</c>,
/// a file of their own; a data folder of the previous layout (the assessments in <c>alerts.db</c>) is moved there whole.
/// </summary>
public sealed class RiskAssessmentStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-risk-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SaveAllAsync_ManyScoresInOneCall_StoresEachAndReplacesARescore()
    {
        var store = CurrentLayout();
        await store.InitializeAsync(Ct);
        var scores = Scores(1200, patients: 600);

        await store.SaveAllAsync(scores, Ct);
        await store.SaveAllAsync([scores[5] with { Probability = 0.99, Json = """{"again":true}""" }], Ct);

        Assert.Equal(0.99, (await store.FindAsync("ra-5", Ct))!.Probability);
        Assert.Equal("""{"again":true}""", (await store.FindAsync("ra-5", Ct))!.Json);
        Assert.Equal(1199 / 1200.0, (await store.FindAsync("ra-1199", Ct))!.Probability);
        Assert.Equal(600, (await store.LatestAsync(Ct)).Count);
        Assert.Equal(Path.Combine(data, "risk.db"), store.Location);
    }

    [Fact]
    public async Task InitializeAsync_DataFolderOfThePreviousLayout_MovesEveryAssessmentAndLeavesTheAlerts()
    {
        var scores = Scores(1200, patients: 600);
        await PreviousLayoutAsync(scores);
        var alerts = new AlertStore(Alerts());
        await alerts.InitializeAsync(Ct);
        var alert = await alerts.RaiseAsync(new AlertDraft(new AlertKey("p-1", AlertKinds.Risk, string.Empty), AlertSeverity.Warning, new("risk", "risque"), []), Now, Ct);

        var store = CurrentLayout();
        await store.InitializeAsync(Ct);

        Assert.Equal(scores.OrderBy(s => s.Id, StringComparer.Ordinal), await AllAsync(store));
        Assert.False(await HasRiskTableAsync(Path.Combine(data, "alerts.db")));
        Assert.Equal([alert!.Id], (await alerts.ListAsync(new AlertQuery { IncludeClosed = true }, Ct)).Select(a => a.Id));

        // Started again: nothing left to move, nothing changed.
        await store.InitializeAsync(Ct);
        Assert.Equal(scores.Count, (await AllAsync(store)).Count);
    }

    [Fact]
    public async Task InitializeAsync_MoveCutShortAfterTheCopy_EndsItWithNothingLostNorTwice()
    {
        // A previous start copied the assessments and stopped before dropping the old table; the scorer has since
        // re-scored one instant (same id, a newer row) in the new file.
        var scores = Scores(300, patients: 100);
        await PreviousLayoutAsync(scores);
        var copied = CurrentLayout();
        await copied.InitializeAsync(Ct);
        await PreviousLayoutAsync(scores);
        var rescored = scores[7] with { Probability = 0.5, Json = """{"rescored":true}""" };
        await copied.SaveAllAsync([rescored], Ct);

        var store = CurrentLayout();
        await store.InitializeAsync(Ct);

        var all = await AllAsync(store);
        Assert.Equal(scores.Count, all.Count);
        Assert.Equal(rescored, await store.FindAsync(rescored.Id, Ct));
        Assert.False(await HasRiskTableAsync(Path.Combine(data, "alerts.db")));
    }

    [Fact]
    public async Task InitializeAsync_NoPreviousFile_CreatesOnlyItsOwn()
    {
        await CurrentLayout().InitializeAsync(Ct);

        Assert.True(File.Exists(Path.Combine(data, "risk.db")));
        Assert.False(File.Exists(Path.Combine(data, "alerts.db")));
    }

    [Fact]
    public async Task InitializeAsync_PreviousFileUnreadable_FailsSayingWhatAndThatNothingIsLost()
    {
        await File.WriteAllTextAsync(Path.Combine(data, "alerts.db"), "not a database, e.g. a file cut short by a full disk", Ct);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CurrentLayout().InitializeAsync(Ct));

        Assert.StartsWith($"cannot move the risk assessments of {Path.Combine(data, "alerts.db")} to {Path.Combine(data, "risk.db")}", error.Message, StringComparison.Ordinal);
        Assert.Contains("none is lost", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreRetention_PreviousLayout_PurgesTheOldAssessmentsFromTheirNewFile()
    {
        var time = new ManualClock(Now);
        var old = Scores(50, patients: 10, at: Now.AddDays(-200));
        var recent = Scores(50, patients: 10, at: Now.AddDays(-2), first: 1000);
        await PreviousLayoutAsync([.. old, .. recent]);
        var options = new StoreOptions { DataDirectory = data, Retention = TimeSpan.FromDays(180) };
        var observations = ObservationStoreFactory.Create(options);
        await observations.InitializeAsync(Ct);
        var letters = new DeadLetterStore(Options.Create(options));
        await letters.InitializeAsync(Ct);
        var store = CurrentLayout();
        using var retention = new StoreRetention(
            observations, letters, store, Options.Create(options), Options.Create(new IngestOptions()), time, NullLogger<StoreRetention>.Instance);

        await retention.StartAsync(Ct);
        try
        {
            // The retention runs in the background: risk.db has no table until it first initialises the store.
            await Poll.UntilAsync(
                async () => await HasRiskTableAsync(Path.Combine(data, "risk.db")) ? await AllAsync(store) : null,
                left => left?.Count == recent.Count,
                TimeSpan.FromSeconds(30),
                "the assessments older than the retention to be purged");
        }
        finally
        {
            await retention.StopAsync(CancellationToken.None);
            (observations as IDisposable)?.Dispose();
        }

        Assert.Equal(recent.OrderBy(s => s.Id, StringComparer.Ordinal), await AllAsync(store));
        Assert.False(await HasRiskTableAsync(Path.Combine(data, "alerts.db")));
    }

    [Fact]
    public async Task ErasePatientAsync_PreviousLayout_LeavesNoByteOfThePatientInEitherFile()
    {
        const string Erased = "pat-erased";
        var theirs = Scores(20, patients: 1, at: Now, first: 0, patient: _ => Erased);
        var others = Scores(20, patients: 4, at: Now, first: 100);
        await PreviousLayoutAsync([.. theirs, .. others]);
        var store = CurrentLayout();
        await store.InitializeAsync(Ct);

        Assert.Equal(theirs.Count, await store.ErasePatientAsync(Erased, Ct));

        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.EnumerateFiles(data))
        {
            var bytes = await File.ReadAllBytesAsync(file, Ct);
            Assert.True(bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(Erased)) < 0, $"{file} still holds '{Erased}'");
        }

        Assert.Equal(others.OrderBy(s => s.Id, StringComparer.Ordinal), await AllAsync(store));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    private WorkflowDatabase Alerts() => WorkflowDatabase.Create(new WorkflowOptions(), data, "alerts.db");

    private RiskAssessmentStore CurrentLayout() =>
        new(WorkflowDatabase.Create(new WorkflowOptions(), data, RiskAssessmentStore.FileName), Alerts(), NullLogger<RiskAssessmentStore>.Instance);

    /// <summary>The assessments where the previous version kept them: its store on <c>alerts.db</c>, same table and SQL.</summary>
    private async Task PreviousLayoutAsync(IReadOnlyList<StoredRiskAssessment> scores)
    {
        var previous = new RiskAssessmentStore(Alerts());
        await previous.InitializeAsync(Ct);
        await previous.SaveAllAsync(scores, Ct);
    }

    private static List<StoredRiskAssessment> Scores(int count, int patients, DateTimeOffset? at = null, int first = 0, Func<int, string>? patient = null) =>
        [.. Enumerable.Range(first, count).Select(i => new StoredRiskAssessment(
            $"ra-{i}", patient?.Invoke(i) ?? $"p-{i % patients}", (at ?? Now).ToUnixTimeMilliseconds() + i, i / 1200.0, $$"""{"n":{{i}}}"""))];

    private static async Task<List<StoredRiskAssessment>> AllAsync(RiskAssessmentStore store)
    {
        var all = new List<StoredRiskAssessment>();
        foreach (var patientId in (await store.LatestAsync(Ct)).Keys)
        {
            all.AddRange((await store.SearchAsync(patientId, long.MinValue, long.MaxValue, false, null, int.MaxValue, Ct)).Matches);
        }

        return [.. all.OrderBy(s => s.Id, StringComparer.Ordinal)];
    }

    private static async Task<bool> HasRiskTableAsync(string file)
    {
        if (!File.Exists(file))
        {
            return false;
        }

        await using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'risk_assessment'";
        return (long)(await command.ExecuteScalarAsync(Ct))! > 0;
    }
}
