using System.Security.Claims;
using TeleSuivi.Server.Security;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Tests.Alerts;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>
/// The alert store, registry and workflow on real SQLite files in a temporary folder, with a manual clock; the
/// hub's clients are a recorder of what every board would receive.
/// </summary>
public sealed class AlertTestBed : IAsyncDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-alerts-").FullName;

    private readonly WorkflowDatabase? database;

    private AlertTestBed(WorkflowDatabase? database, Func<WorkflowDatabase, WorkflowDatabase>? wrap)
    {
        this.database = database;
        var storeOptions = Options.Create(new StoreOptions { DataDirectory = directory });
        Clock = new ManualClock(new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero));
        Settings = new AlertOptions();
        var alerts = database ?? WorkflowDatabase.Create(new WorkflowOptions(), storeOptions.Value);
        Store = new AlertStore(wrap is null ? alerts : wrap(alerts));
        Registry = new DeviceRegistry(storeOptions);
        Patients = new PatientDirectory(Registry);
        Board = new BoardNotifier(Hub, Store, Patients, Registry, new Server.Risk.LatestRisks(Registry), Clock, NullLogger<BoardNotifier>.Instance);
        Workflow = new AlertWorkflow(Store, Patients, Board, Options.Create(Settings), Clock);
    }

    public ManualClock Clock { get; }

    public AlertOptions Settings { get; }

    public AlertStore Store { get; }

    public DeviceRegistry Registry { get; }

    /// <summary>The data folder of the bed's files (alerts.db, registry.db), for commands run on it.</summary>
    public string DataDirectory => directory;

    /// <summary>What an admin sees: every patient.</summary>
    public PatientAccess AdminAccess => new(
        new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin"), new Claim(ClaimTypes.Role, Roles.Admin)], "test")), Registry);

    public PatientDirectory Patients { get; }

    public RecordingHub Hub { get; } = new();

    public BoardNotifier Board { get; }

    public AlertWorkflow Workflow { get; }

    /// <param name="database">Where the alerts are kept; default: <c>alerts.db</c> in the bed's folder.</param>
    /// <param name="wrap">Puts something between the store and its database (e.g. <see cref="CommitReportedFailedDatabase"/>).</param>
    public static async Task<AlertTestBed> CreateAsync(WorkflowDatabase? database = null, Func<WorkflowDatabase, WorkflowDatabase>? wrap = null)
    {
        var bed = new AlertTestBed(database, wrap);
        await bed.Store.InitializeAsync(TestContext.Current.CancellationToken);
        await bed.Registry.InitializeAsync(TestContext.Current.CancellationToken);
        return bed;
    }

    public static AlertDraft Draft(string patient = "p1", AlertSeverity severity = AlertSeverity.Critical, string kind = AlertKinds.VitalLimit, string subject = "spo2") =>
        new(new AlertKey(patient, kind, subject), severity, new LocalizedText("SpO2 84 % below the critical limit 88 %", "SpO2 84 % sous la limite critique 88 %"),
            [new AlertEvidence(DateTimeOffset.UnixEpoch, "SpO2", 84, "%", "obs-1")]);

    public async Task<Alert> RaiseAsync(AlertDraft? draft = null) =>
        (await Store.RaiseAsync(draft ?? Draft(), Clock.GetUtcNow(), TestContext.Current.CancellationToken))!;

    public async ValueTask DisposeAsync()
    {
        Registry.Dispose();
        Store.Dispose();
        if (database is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }
}

/// <summary>Every <see cref="ITriageClient"/> call the server makes, whatever clients it addresses.</summary>
public sealed class RecordingHub : IHubContext<TriageHub, ITriageClient>, IHubClients<ITriageClient>, ITriageClient
{
    private readonly List<AlertView> received = [];

    public IReadOnlyList<AlertView> Received
    {
        get
        {
            lock (received)
            {
                return [.. received];
            }
        }
    }

    IHubClients<ITriageClient> IHubContext<TriageHub, ITriageClient>.Clients => this;

    IGroupManager IHubContext<TriageHub, ITriageClient>.Groups => throw new NotSupportedException("the notifier adds no connection to a group: the hub does");

    public ITriageClient All => this;

    public Task AlertChanged(AlertView alert)
    {
        lock (received)
        {
            received.Add(alert);
        }

        return Task.CompletedTask;
    }

    public ITriageClient AllExcept(IReadOnlyList<string> excludedConnectionIds) => this;

    public ITriageClient Client(string connectionId) => this;

    public ITriageClient Clients(IReadOnlyList<string> connectionIds) => this;

    public ITriageClient Group(string groupName) => this;

    public ITriageClient GroupExcept(string groupName, IReadOnlyList<string> excludedConnectionIds) => this;

    public ITriageClient Groups(IReadOnlyList<string> groupNames) => this;

    public ITriageClient User(string userId) => this;

    public ITriageClient Users(IReadOnlyList<string> userIds) => this;
}
