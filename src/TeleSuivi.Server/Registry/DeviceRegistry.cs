using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Storage;

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
public sealed record RegisteredDevice(string Id, IReadOnlyList<string> Aliases, string Resource);

/// <summary>
/// Patients, devices and assignments, kept in a local SQLite file and mirrored in memory, because every reading
/// is attributed with a lookup: the patient the device was assigned to at the reading's time.
/// </summary>
public sealed class DeviceRegistry : IDisposable
{
    private readonly string connectionString;
    private volatile Snapshot snapshot = Snapshot.Empty;
    private readonly SemaphoreSlim writeLock = new(1, 1);

    public DeviceRegistry(IOptions<StoreOptions> options)
    {
        var directory = Path.GetFullPath(options.Value.DataDirectory);
        Directory.CreateDirectory(directory);
        FilePath = Path.Combine(directory, "registry.db");
        connectionString = new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadWriteCreate }.ToString();
    }

    public string FilePath { get; }

    /// <summary>Raised after an import changed the registry (e.g. to replay readings of newly registered devices).</summary>
    public event Action? Changed;

    public int PatientCount => snapshot.Patients.Count;

    public int DeviceCount => snapshot.Devices.Count;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS patient (id TEXT PRIMARY KEY, zone TEXT, resource TEXT NOT NULL, teams TEXT NOT NULL DEFAULT '');
            CREATE TABLE IF NOT EXISTS device (id TEXT PRIMARY KEY, aliases TEXT NOT NULL, resource TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS assignment (
                device_id TEXT NOT NULL,
                patient_id TEXT NOT NULL,
                start_ms INTEGER NOT NULL,
                end_ms INTEGER,
                source TEXT NOT NULL,
                PRIMARY KEY (device_id, source)
            );
            CREATE TABLE IF NOT EXISTS broker_credential (
                username TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                issued_ms INTEGER NOT NULL
            );
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);

        // Registries written before care teams existed: their patients have no team (admins only) until re-imported.
        command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('patient') WHERE name = 'teams'";
        if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 0)
        {
            command.CommandText = "ALTER TABLE patient ADD COLUMN teams TEXT NOT NULL DEFAULT ''";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await ReloadAsync(connection, cancellationToken);
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
            await using var connection = await OpenAsync(cancellationToken);
            await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                foreach (var patient in changes.Patients)
                {
                    await ExecuteAsync(connection, transaction, "INSERT OR REPLACE INTO patient (id, zone, resource, teams) VALUES ($1, $2, $3, $4)", cancellationToken, patient.Id, patient.Zone, patient.Resource, string.Join('\n', patient.Teams));
                }

                foreach (var device in changes.Devices)
                {
                    await ExecuteAsync(connection, transaction, "INSERT OR REPLACE INTO device (id, aliases, resource) VALUES ($1, $2, $3)", cancellationToken, device.Id, string.Join('\n', device.Aliases), device.Resource);
                }

                foreach (var assignment in changes.Assignments)
                {
                    await ExecuteAsync(connection, transaction, "INSERT OR REPLACE INTO assignment (device_id, patient_id, start_ms, end_ms, source) VALUES ($1, $2, $3, $4, $5)", cancellationToken,
                        assignment.DeviceId, assignment.PatientId, assignment.Start.ToUnixTimeMilliseconds(), assignment.End?.ToUnixTimeMilliseconds(), assignment.Source);
                }

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
    /// The broker account of <paramref name="userName"/>, read from the file at each call rather than from memory:
    /// credentials issued or revoked by the CLI while the server runs apply from the next CONNECT.
    /// </summary>
    public async Task<BrokerCredential?> FindCredentialAsync(string userName, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT username, kind, subject, secret_hash, issued_ms FROM broker_credential WHERE username = $1";
        command.Parameters.AddWithValue("$1", userName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadCredential(reader) : null;
    }

    /// <summary>Every broker account, by username.</summary>
    public async Task<IReadOnlyList<BrokerCredential>> CredentialsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT username, kind, subject, secret_hash, issued_ms FROM broker_credential ORDER BY username";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var credentials = new List<BrokerCredential>();
        while (await reader.ReadAsync(cancellationToken))
        {
            credentials.Add(ReadCredential(reader));
        }

        return credentials;
    }

    /// <summary>Adds or replaces broker accounts, all or none.</summary>
    public async Task SaveCredentialsAsync(IReadOnlyList<BrokerCredential> credentials, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            foreach (var credential in credentials)
            {
                await ExecuteAsync(connection, transaction, "INSERT OR REPLACE INTO broker_credential (username, kind, subject, secret_hash, issued_ms) VALUES ($1, $2, $3, $4, $5)", cancellationToken,
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
            await using var connection = await OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM broker_credential WHERE username = $1";
            command.Parameters.AddWithValue("$1", userName);
            return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        }
        finally
        {
            writeLock.Release();
        }
    }

    private static BrokerCredential ReadCredential(SqliteDataReader reader) => new(
        reader.GetString(0),
        Enum.Parse<BrokerAccountKind>(reader.GetString(1), ignoreCase: true),
        reader.GetString(2),
        reader.GetString(3),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)));
    /// <summary>
    /// Removes a patient and every assignment of theirs for good (the right to erasure), and replaces
    /// <paramref name="unassignedDevices"/> (their devices, rewritten without <c>Device.patient</c>): the devices stay
    /// registered, unassigned. The file is rewritten (VACUUM) and the write-ahead log emptied.
    /// Returns how many assignments were removed.
    /// </summary>
    public async Task<int> ErasePatientAsync(string patientId, IReadOnlyList<RegisteredDevice> unassignedDevices, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            int assignments;
            await using var connection = await OpenAsync(cancellationToken);
            await using (var secure = connection.CreateCommand())
            {
                secure.CommandText = "PRAGMA secure_delete = ON";
                await secure.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                await ExecuteAsync(connection, transaction, "DELETE FROM patient WHERE id = $1", cancellationToken, patientId);
                await using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    command.CommandText = "DELETE FROM assignment WHERE patient_id = $patient";
                    command.Parameters.AddWithValue("$patient", patientId);
                    assignments = await command.ExecuteNonQueryAsync(cancellationToken);
                }

                foreach (var device in unassignedDevices)
                {
                    await ExecuteAsync(connection, transaction, "UPDATE device SET aliases = $2, resource = $3 WHERE id = $1", cancellationToken, device.Id, string.Join('\n', device.Aliases), device.Resource);
                }

                await transaction.CommitAsync(cancellationToken);
            }

            await using (var checkpoint = connection.CreateCommand())
            {
                checkpoint.CommandText = "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)";
                await checkpoint.ExecuteNonQueryAsync(cancellationToken);
            }

            await ReloadAsync(connection, cancellationToken);
            return assignments;
        }
        finally
        {
            writeLock.Release();
        }
    }

    /// <summary>Every assignment of the registry (current and past), for erasure and audits.</summary>
    public IReadOnlyList<Assignment> AllAssignments => snapshot.Assignments.Values.SelectMany(list => list).ToList();

    private async Task ReloadAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        var patients = new Dictionary<string, RegisteredPatient>(StringComparer.Ordinal);
        var devices = new Dictionary<string, RegisteredDevice>(StringComparer.Ordinal);
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        var assignments = new Dictionary<string, List<Assignment>>(StringComparer.Ordinal);
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, zone, resource, teams FROM patient";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var patient = new RegisteredPatient(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2))
                {
                    Teams = reader.GetString(3).Split('\n', StringSplitOptions.RemoveEmptyEntries),
                };
                patients[patient.Id] = patient;
            }
        }

        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, aliases, resource FROM device";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var names = reader.GetString(1).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                var device = new RegisteredDevice(reader.GetString(0), names, reader.GetString(2));
                devices[device.Id] = device;
                foreach (var alias in names)
                {
                    aliases[alias] = device.Id;
                }
            }
        }

        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT device_id, patient_id, start_ms, end_ms, source FROM assignment";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var assignment = new Assignment(
                    reader.GetString(0),
                    reader.GetString(1),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                    reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                    reader.GetString(4));
                if (!assignments.TryGetValue(assignment.DeviceId, out var list))
                {
                    assignments[assignment.DeviceId] = list = [];
                }

                list.Add(assignment);
            }
        }

        snapshot = new Snapshot(patients, devices, aliases, assignments.ToDictionary(pair => pair.Key, pair => (IReadOnlyList<Assignment>)pair.Value, StringComparer.Ordinal));
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters.AddWithValue("$" + (i + 1).ToString(CultureInfo.InvariantCulture), values[i] ?? DBNull.Value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public void Dispose() => writeLock.Dispose();

    private sealed record Snapshot(
        IReadOnlyDictionary<string, RegisteredPatient> Patients,
        IReadOnlyDictionary<string, RegisteredDevice> Devices,
        IReadOnlyDictionary<string, string> Aliases,
        IReadOnlyDictionary<string, IReadOnlyList<Assignment>> Assignments)
    {
        public static readonly Snapshot Empty = new(
            new Dictionary<string, RegisteredPatient>(), new Dictionary<string, RegisteredDevice>(),
            new Dictionary<string, string>(), new Dictionary<string, IReadOnlyList<Assignment>>());
    }
}

/// <summary>What one import adds or replaces.</summary>
public sealed record RegistryChanges(
    IReadOnlyList<RegisteredPatient> Patients,
    IReadOnlyList<RegisteredDevice> Devices,
    IReadOnlyList<Assignment> Assignments);
