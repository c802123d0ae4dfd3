using System.Data.Common;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Registry;

/// <summary>A device's attribution to a patient for a period; <c>End</c> null means "until further notice".</summary>
public sealed record Assignment(string DeviceId, string PatientId, DateTimeOffset Start, DateTimeOffset? End, string Source)
{
    public bool Covers(DateTimeOffset time) => time >= Start && (End is null || time < End);
}

/// <summary>A registered patient: the id of the FHIR Patient, and the zone whose environment they live in.</summary>
public sealed record RegisteredPatient(string Id, string? Zone, string Resource)
{
    /// <summary>The care teams (ids of the <c>Organization</c>s in <c>Patient.generalPractitioner</c>) whose members see this patient.</summary>
    public IReadOnlyList<string> Teams { get; init; } = [];
}

/// <summary>A registered device: the id of the FHIR Device, and the other names (serial numbers) it publishes under.</summary>
public sealed record RegisteredDevice
{
    // Every device of every patient is in memory (700,000 for 100,000 patients): its JSON is kept as UTF-8, half the
    // size of a string, and is read whole only to answer the FHIR API or to erase a patient.
    private readonly byte[] resource;

    public RegisteredDevice(string id, IReadOnlyList<string> aliases, string resource)
    {
        Id = id;
        Aliases = aliases;
        this.resource = Encoding.UTF8.GetBytes(resource);
        Kind = KindIn(this.resource);
    }

    public string Id { get; }

    public IReadOnlyList<string> Aliases { get; }

    /// <summary>The FHIR Device as imported (JSON).</summary>
    public string Resource => Encoding.UTF8.GetString(resource);

    /// <summary>The code of <c>Device.type</c> (the monitoring plan's device kind), or null.</summary>
    public string? Kind { get; }

    private static string? KindIn(byte[] json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.Object
                && type.TryGetProperty("coding", out var coding) && coding.ValueKind == JsonValueKind.Array && coding.GetArrayLength() > 0
                && coding[0].ValueKind == JsonValueKind.Object && coding[0].TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String
                ? string.Intern(code.GetString()!) // a few kinds shared by all devices
                : null;
        }
        catch (JsonException)
        {
            // Imported resources were validated strictly; a kind that cannot be read is simply unknown.
            return null;
        }
    }
}

/// <summary>Bound from the <c>Registry</c> configuration section (<c>TELESUIVI_REGISTRY__*</c>).</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    /// <summary>
    /// How often a node checks whether another process changed the registry (an import on another node, or by the
    /// <c>import</c> command on the data folder), and reloads its in-memory copy if so: the bound on how long a new
    /// device stays unknown to a worker that did not import it.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Patients, devices and assignments, kept in a database and mirrored in memory, because every reading is attributed
/// with a lookup: the patient the device was assigned to at the reading's time. The database is the local SQLite file
/// <c>registry.db</c>, or the PostgreSQL database every node shares (<see cref="WorkflowOptions.PostgreSql"/>). Every
/// change bumps a version row in the same transaction; <see cref="RefreshAsync"/> (every
/// <see cref="RegistryOptions.RefreshInterval"/>, <see cref="RegistryRefresher"/>) reads that one row and reloads the
/// copy when another process moved it. The broker accounts live here too, read at each CONNECT, never cached.
/// </summary>
public sealed class DeviceRegistry : IDisposable
{
    public const string FileName = "registry.db";

    private readonly WorkflowDatabase database;
    private volatile Snapshot snapshot = Snapshot.Empty;
    private readonly SemaphoreSlim writeLock = new(1, 1);

    /// <summary>The single-node registry: <c>{DataDirectory}/registry.db</c>.</summary>
    public DeviceRegistry(IOptions<StoreOptions> options)
        : this(WorkflowDatabase.Create(new WorkflowOptions(), options.Value.DataDirectory, FileName))
    {
    }

    public DeviceRegistry(WorkflowDatabase database) => this.database = database;

    /// <summary>Where the registry is (the SQLite file, or the PostgreSQL host and database).</summary>
    public string FilePath => database.Location;

    /// <summary>Raised after the registry changed, here or (seen by <see cref="RefreshAsync"/>) in another process: e.g. to replay readings of newly registered devices.</summary>
    public event Action? Changed;

    public int PatientCount => snapshot.Patients.Count;

    public int DeviceCount => snapshot.Devices.Count;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // BIGINT is a 64-bit integer on both engines; no table here needs SQLite's rowid alias (INTEGER PRIMARY KEY).
        await database.CreateSchemaAsync(
            """
            CREATE TABLE IF NOT EXISTS patient (id TEXT PRIMARY KEY, zone TEXT, resource TEXT NOT NULL, teams TEXT NOT NULL DEFAULT '');
            CREATE TABLE IF NOT EXISTS device (id TEXT PRIMARY KEY, aliases TEXT NOT NULL, resource TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS assignment (
                device_id TEXT NOT NULL,
                patient_id TEXT NOT NULL,
                start_ms BIGINT NOT NULL,
                end_ms BIGINT,
                source TEXT NOT NULL,
                PRIMARY KEY (device_id, source)
            );
            CREATE TABLE IF NOT EXISTS broker_credential (
                username TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                issued_ms BIGINT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS registry_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
            INSERT INTO registry_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;
            """, cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);

        // Registries written before care teams existed: their patients have no team (admins only) until re-imported.
        if (database.Dialect == WorkflowDialect.Sqlite
            && await Sql.ScalarAsync(connection, null, "SELECT COUNT(*) FROM pragma_table_info('patient') WHERE name = 'teams'", cancellationToken) == 0)
        {
            await Sql.ExecuteAsync(connection, null, "ALTER TABLE patient ADD COLUMN teams TEXT NOT NULL DEFAULT ''", cancellationToken);
        }

        await ReloadAsync(connection, cancellationToken);
    }

    /// <summary>
    /// Reloads the in-memory copy when another process changed the registry since it was read (one single-row read
    /// otherwise), and then raises <see cref="Changed"/>. True when it reloaded.
    /// </summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            if (await VersionAsync(connection, null, cancellationToken) == snapshot.Version)
            {
                return false;
            }

            await ReloadAsync(connection, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }

        Changed?.Invoke();
        return true;
    }

    /// <summary>The patient the device (by id or alias) was assigned to at <paramref name="time"/>, if any.</summary>
    public string? ResolvePatient(string deviceIdOrAlias, DateTimeOffset time)
    {
        var current = snapshot;
        var deviceId = current.Aliases.TryGetValue(deviceIdOrAlias, out var id) ? id : deviceIdOrAlias;
        if (!current.Assignments.TryGetValue(deviceId, out var assignments))
        {
            return null;
        }

        // The most recently started assignment that covers the time wins: a re-assignment supersedes an open one.
        Assignment? best = null;
        foreach (var assignment in assignments)
        {
            if (assignment.Covers(time) && (best is null || assignment.Start > best.Start))
            {
                best = assignment;
            }
        }

        return best?.PatientId;
    }

    public bool IsKnownDevice(string deviceIdOrAlias) =>
        snapshot.Devices.ContainsKey(deviceIdOrAlias) || snapshot.Aliases.ContainsKey(deviceIdOrAlias);

    /// <summary>The registry id of a device known by id or alias, or null.</summary>
    public string? CanonicalDeviceId(string deviceIdOrAlias)
    {
        var current = snapshot;
        return current.Devices.ContainsKey(deviceIdOrAlias) ? deviceIdOrAlias
            : current.Aliases.TryGetValue(deviceIdOrAlias, out var id) ? id : null;
    }

    public RegisteredPatient? FindPatient(string id) => snapshot.Patients.GetValueOrDefault(id);

    public RegisteredDevice? FindDevice(string id) => snapshot.Devices.GetValueOrDefault(id);

    public IReadOnlyCollection<RegisteredPatient> Patients => snapshot.Patients.Values.ToList();

    public IReadOnlyCollection<RegisteredDevice> Devices => snapshot.Devices.Values.ToList();

    public IReadOnlyList<Assignment> AssignmentsOf(string deviceId) =>
        snapshot.Assignments.TryGetValue(deviceId, out var list) ? list : [];

    /// <summary>Writes the changes in one transaction, then publishes the new in-memory view.</summary>
    public async Task ApplyAsync(RegistryChanges changes, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                foreach (var patient in changes.Patients)
                {
                    await Sql.ExecuteAsync(connection, transaction, """
                        INSERT INTO patient (id, zone, resource, teams) VALUES ($1, $2, $3, $4)
                        ON CONFLICT (id) DO UPDATE SET zone = excluded.zone, resource = excluded.resource, teams = excluded.teams
                        """, cancellationToken, patient.Id, patient.Zone, patient.Resource, string.Join('\n', patient.Teams));
                }

                foreach (var device in changes.Devices)
                {
                    await Sql.ExecuteAsync(connection, transaction, """
                        INSERT INTO device (id, aliases, resource) VALUES ($1, $2, $3)
                        ON CONFLICT (id) DO UPDATE SET aliases = excluded.aliases, resource = excluded.resource
                        """, cancellationToken, device.Id, string.Join('\n', device.Aliases), device.Resource);
                }

                foreach (var assignment in changes.Assignments)
                {
                    await Sql.ExecuteAsync(connection, transaction, """
                        INSERT INTO assignment (device_id, patient_id, start_ms, end_ms, source) VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (device_id, source) DO UPDATE SET patient_id = excluded.patient_id, start_ms = excluded.start_ms, end_ms = excluded.end_ms
                        """, cancellationToken, assignment.DeviceId, assignment.PatientId, assignment.Start.ToUnixTimeMilliseconds(), assignment.End?.ToUnixTimeMilliseconds(), assignment.Source);
                }

                await BumpVersionAsync(connection, transaction, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }

            await ReloadAsync(connection, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }

        Changed?.Invoke();
    }

    /// <summary>
    /// The broker account of <paramref name="userName"/>, read from the database at each call rather than from memory:
    /// credentials issued or revoked by the CLI (or another node) while the server runs apply from the next CONNECT.
    /// </summary>
    public async Task<BrokerCredential?> FindCredentialAsync(string userName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await Sql.QueryAsync(connection, null, "SELECT username, kind, subject, secret_hash, issued_ms FROM broker_credential WHERE username = $1", ReadCredential, cancellationToken, userName);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>Every broker account, by username.</summary>
    public async Task<IReadOnlyList<BrokerCredential>> CredentialsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await Sql.QueryAsync(connection, null, "SELECT username, kind, subject, secret_hash, issued_ms FROM broker_credential ORDER BY username", ReadCredential, cancellationToken);
    }

    /// <summary>Adds or replaces broker accounts, all or none.</summary>
    public async Task SaveCredentialsAsync(IReadOnlyList<BrokerCredential> credentials, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            foreach (var credential in credentials)
            {
                await Sql.ExecuteAsync(connection, transaction, """
                    INSERT INTO broker_credential (username, kind, subject, secret_hash, issued_ms) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (username) DO UPDATE SET kind = excluded.kind, subject = excluded.subject, secret_hash = excluded.secret_hash, issued_ms = excluded.issued_ms
                    """, cancellationToken,
                    credential.UserName, credential.Kind.ToString().ToLowerInvariant(), credential.Subject, credential.SecretHash, credential.IssuedAt.ToUnixTimeMilliseconds());
            }

            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }
    }

    /// <summary>Deletes a broker account: its next CONNECT is refused. False when there was none.</summary>
    public async Task<bool> RevokeCredentialAsync(string userName, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            return await Sql.ExecuteAsync(connection, null, "DELETE FROM broker_credential WHERE username = $1", cancellationToken, userName) > 0;
        }
        finally
        {
            writeLock.Release();
        }
    }

    private static BrokerCredential ReadCredential(DbDataReader reader) => new(
        reader.GetString(0),
        Enum.Parse<BrokerAccountKind>(reader.GetString(1), ignoreCase: true),
        reader.GetString(2),
        reader.GetString(3),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)));

    /// <summary>
    /// Removes a patient and every assignment of theirs for good (the right to erasure), and replaces
    /// <paramref name="unassignedDevices"/> (their devices, rewritten without <c>Device.patient</c>): the devices stay
    /// registered, unassigned. The tables are rewritten (SQLite VACUUM with the log emptied, PostgreSQL VACUUM FULL).
    /// Returns how many assignments were removed.
    /// </summary>
    public async Task<int> ErasePatientAsync(string patientId, IReadOnlyList<RegisteredDevice> unassignedDevices, CancellationToken cancellationToken)
    {
        int assignments;
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await database.PrepareEraseAsync(connection, cancellationToken);
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                await Sql.ExecuteAsync(connection, transaction, "DELETE FROM patient WHERE id = $1", cancellationToken, patientId);
                assignments = await Sql.ExecuteAsync(connection, transaction, "DELETE FROM assignment WHERE patient_id = $1", cancellationToken, patientId);
                foreach (var device in unassignedDevices)
                {
                    await Sql.ExecuteAsync(connection, transaction, "UPDATE device SET aliases = $2, resource = $3 WHERE id = $1", cancellationToken, device.Id, string.Join('\n', device.Aliases), device.Resource);
                }

                await BumpVersionAsync(connection, transaction, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }

            await database.ReclaimErasedAsync(connection, ["patient", "assignment", "device"], cancellationToken);
            await ReloadAsync(connection, cancellationToken);
        }
        finally
        {
            writeLock.Release();
        }

        // As for any other change, so that what this node holds of the patient in memory goes at once (other nodes
        // see it at their next refresh).
        Changed?.Invoke();
        return assignments;
    }

    /// <summary>Every assignment of the registry (current and past), for erasure and audits.</summary>
    public IReadOnlyList<Assignment> AllAssignments => snapshot.Assignments.Values.SelectMany(list => list).ToList();

    private static Task<int> BumpVersionAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Sql.ExecuteAsync(connection, transaction, "UPDATE registry_version SET version = version + 1 WHERE id = 1", cancellationToken);

    private static Task<long> VersionAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken) =>
        Sql.ScalarAsync(connection, transaction, "SELECT version FROM registry_version WHERE id = 1", cancellationToken);

    private async Task ReloadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // One snapshot of the database (PostgreSQL REPEATABLE READ; SQLite's read transaction), version included: a
        // change committed meanwhile moves the version past the one kept here, and the next refresh reloads.
        await using var transaction = await database.BeginReadAsync(connection, cancellationToken);
        var version = await VersionAsync(connection, transaction, cancellationToken);
        // One string per distinct id, zone, team and source: an assignment row repeats its patient's and device's ids,
        // and 100,000 patients bring 700,000 devices (README "Memory").
        var shared = new HashSet<string>(StringComparer.Ordinal);
        string Share(string value)
        {
            if (shared.TryGetValue(value, out var known))
            {
                return known;
            }

            shared.Add(value);
            return value;
        }

        var patients = new Dictionary<string, RegisteredPatient>(StringComparer.Ordinal);
        foreach (var patient in await Sql.QueryAsync(connection, transaction, "SELECT id, zone, resource, teams FROM patient",
            reader => new RegisteredPatient(Share(reader.GetString(0)), reader.IsDBNull(1) ? null : Share(reader.GetString(1)), reader.GetString(2))
            {
                Teams = Array.ConvertAll(reader.GetString(3).Split('\n', StringSplitOptions.RemoveEmptyEntries), Share),
            }, cancellationToken))
        {
            patients[patient.Id] = patient;
        }

        var devices = new Dictionary<string, RegisteredDevice>(StringComparer.Ordinal);
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var device in await Sql.QueryAsync(connection, transaction, "SELECT id, aliases, resource FROM device",
            reader => new RegisteredDevice(Share(reader.GetString(0)), reader.GetString(1) is { Length: > 0 } names ? names.Split('\n', StringSplitOptions.RemoveEmptyEntries) : [], reader.GetString(2)), cancellationToken))
        {
            devices[device.Id] = device;
            foreach (var alias in device.Aliases)
            {
                aliases[alias] = device.Id;
            }
        }

        var assignments = new Dictionary<string, List<Assignment>>(StringComparer.Ordinal);
        foreach (var assignment in await Sql.QueryAsync(connection, transaction, "SELECT device_id, patient_id, start_ms, end_ms, source FROM assignment",
            reader => new Assignment(
                Share(reader.GetString(0)),
                Share(reader.GetString(1)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                Share(reader.GetString(4))), cancellationToken))
        {
            if (!assignments.TryGetValue(assignment.DeviceId, out var list))
            {
                // Most devices have one assignment: a list sized for it, not the default four.
                assignments[assignment.DeviceId] = list = new List<Assignment>(1);
            }

            list.Add(assignment);
        }

        await transaction.CommitAsync(cancellationToken);
        snapshot = new Snapshot(version, patients, devices, aliases, assignments.ToDictionary(pair => pair.Key, pair => (IReadOnlyList<Assignment>)pair.Value, StringComparer.Ordinal));
    }

    public void Dispose() => writeLock.Dispose();

    private sealed record Snapshot(
        long Version,
        IReadOnlyDictionary<string, RegisteredPatient> Patients,
        IReadOnlyDictionary<string, RegisteredDevice> Devices,
        IReadOnlyDictionary<string, string> Aliases,
        IReadOnlyDictionary<string, IReadOnlyList<Assignment>> Assignments)
    {
        public static readonly Snapshot Empty = new(
            -1, new Dictionary<string, RegisteredPatient>(), new Dictionary<string, RegisteredDevice>(),
            new Dictionary<string, string>(), new Dictionary<string, IReadOnlyList<Assignment>>());
    }
}

/// <summary>Keeps the node's copy of the registry in step with changes other processes make (<see cref="RegistryOptions.RefreshInterval"/>).</summary>
public sealed partial class RegistryRefresher(DeviceRegistry registry, IOptions<RegistryOptions> options, ILogger<RegistryRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.RefreshInterval;
        if (interval <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"Registry:RefreshInterval {interval} is not valid: expected a positive duration");
        }

        using var timer = new PeriodicTimer(interval);
        var failing = false;
        while (await NextTickAsync(timer, stoppingToken))
        {
            try
            {
                if (await registry.RefreshAsync(stoppingToken))
                {
                    LogReloaded(registry.PatientCount, registry.DeviceCount);
                }

                failing = false;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException)
            {
                // The copy in memory keeps serving; the next tick tries again. Said once per outage, not every tick.
                if (!failing)
                {
                    LogRefreshFailed(registry.FilePath, ex.Message);
                }

                failing = true;
            }
        }
    }

    // Stopping (also when another service failed to start) ends the loop quietly: no cancellation trace on the console.
    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registry changed by another process: reloaded {Patients} patient(s), {Devices} device(s)")]
    private partial void LogReloaded(int patients, int devices);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Registry {Location} cannot be read to check for changes: {Reason}; the copy in memory keeps serving")]
    private partial void LogRefreshFailed(string location, string reason);
}

/// <summary>What one import adds or replaces.</summary>
public sealed record RegistryChanges(
    IReadOnlyList<RegisteredPatient> Patients,
    IReadOnlyList<RegisteredDevice> Devices,
    IReadOnlyList<Assignment> Assignments);
