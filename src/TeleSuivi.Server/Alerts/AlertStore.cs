using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Alerts;

/// <summary>A physician's limits for one vital of one patient, replacing the condition defaults.</summary>
public sealed record PatientThreshold(string PatientId, string Vital, VitalLimits Limits, string SetBy, DateTimeOffset SetAt, string? Reason);

/// <summary>Which alerts to list.</summary>
public sealed record AlertQuery
{
    /// <summary>Closed alerts too (resolved or cleared).</summary>
    public bool IncludeClosed { get; init; }

    public string? PatientId { get; init; }

    public DateTimeOffset? From { get; init; }

    public DateTimeOffset? Through { get; init; }

    public int Limit { get; init; } = 1000;
}

/// <summary>
/// Alerts, the actions on them and the per-patient thresholds, in a local SQLite file (<c>alerts.db</c> beside the
/// data). Every change to an alert takes the next board sequence number (<see cref="Alert.Version"/>) inside the
/// same statement, so boards can tell which of two updates is newer. Workflow steps are single guarded UPDATEs
/// (e.g. a claim succeeds only <c>WHERE claimed_by IS NULL</c>): SQLite serialises writers, so of two simultaneous
/// claims exactly one changes a row.
/// </summary>
public sealed class AlertStore
{
    private const string Columns = """
        id, patient_id, kind, subject, severity, status, reason_en, reason_fr, evidence, risk, opened_at, updated_at,
        condition_ended_at, claimed_by, claimed_at, acknowledged_by, acknowledged_at, snoozed_until, snooze_reason,
        escalated_at, escalated_to, resolved_by, closed_at, outcome, version
        """;

    private const string NextVersion = "(SELECT COALESCE(MAX(version), 0) + 1 FROM alert)";
    private const string Active = "status NOT IN ('resolved', 'cleared')";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string connectionString;

    public AlertStore(IOptions<StoreOptions> options)
    {
        var directory = Path.GetFullPath(options.Value.DataDirectory);
        Directory.CreateDirectory(directory);
        FilePath = Path.Combine(directory, "alerts.db");
        connectionString = new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
    }

    public string FilePath { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS alert (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                patient_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                severity INTEGER NOT NULL,
                status TEXT NOT NULL,
                reason_en TEXT NOT NULL,
                reason_fr TEXT NOT NULL,
                evidence TEXT NOT NULL,
                risk REAL,
                opened_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                condition_ended_at INTEGER,
                claimed_by TEXT,
                claimed_at INTEGER,
                acknowledged_by TEXT,
                acknowledged_at INTEGER,
                snoozed_until INTEGER,
                snooze_reason TEXT,
                escalated_at INTEGER,
                escalated_to TEXT,
                resolved_by TEXT,
                closed_at INTEGER,
                outcome TEXT,
                version INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS alert_key ON alert (patient_id, kind, subject, id);
            CREATE INDEX IF NOT EXISTS alert_status ON alert (status, severity);
            CREATE INDEX IF NOT EXISTS alert_version ON alert (version);
            CREATE TABLE IF NOT EXISTS alert_action (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                alert_id INTEGER NOT NULL REFERENCES alert (id),
                patient_id TEXT NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                at INTEGER NOT NULL,
                detail TEXT
            );
            CREATE INDEX IF NOT EXISTS alert_action_alert ON alert_action (alert_id, id);
            CREATE INDEX IF NOT EXISTS alert_action_patient ON alert_action (patient_id, at);
            CREATE TABLE IF NOT EXISTS patient_threshold (
                patient_id TEXT NOT NULL,
                vital TEXT NOT NULL,
                critical_low REAL,
                low REAL,
                high REAL,
                critical_high REAL,
                set_by TEXT NOT NULL,
                set_at INTEGER NOT NULL,
                reason TEXT,
                PRIMARY KEY (patient_id, vital)
            );
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Raises <paramref name="draft"/>: updates the alert open for its key (higher severity kept, evidence replaced, a
    /// condition that had ended recurs), or opens a new one. Returns null when nothing is raised: the latest alert of
    /// the key was resolved by a nurse while its condition still lasts and the draft is no more severe (the nurse has
    /// dealt with it; the condition must end first, or get worse).
    /// </summary>
    public async Task<Alert?> RaiseAsync(AlertDraft draft, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var latest = await FindLatestAsync(connection, transaction, draft.Key, cancellationToken);
        long id;
        if (latest is { IsClosed: false })
        {
            id = latest.Id;
            var action = latest.ConditionEndedAt is not null ? AlertActions.Recurred
                : draft.Severity > latest.Severity ? AlertActions.Updated
                : draft.Risk is { } risk && risk != latest.Risk ? AlertActions.Updated
                : null;
            await ExecuteAsync(connection, transaction, $"""
                UPDATE alert SET severity = MAX(severity, $severity), reason_en = $en, reason_fr = $fr, evidence = $evidence,
                    risk = COALESCE($risk, risk), updated_at = $now, condition_ended_at = NULL, version = {NextVersion}
                WHERE id = $id
                """, cancellationToken, ("$severity", (int)draft.Severity), ("$en", draft.Reason.En), ("$fr", draft.Reason.Fr),
                ("$evidence", JsonSerializer.Serialize(draft.Evidence, Json)), ("$risk", draft.Risk), ("$now", Ms(now)), ("$id", id));
            if (action is not null)
            {
                await AddActionAsync(connection, transaction, id, draft.Key.PatientId, action, SystemActor, now, draft.Reason.En, cancellationToken);
            }
        }
        else
        {
            if (latest is { Status: AlertStatuses.Resolved, ConditionEndedAt: null } resolved && draft.Severity <= resolved.Severity)
            {
                return null;
            }

            id = await ScalarAsync(connection, transaction, $"""
                INSERT INTO alert (patient_id, kind, subject, severity, status, reason_en, reason_fr, evidence, risk, opened_at, updated_at, version)
                VALUES ($patient, $kind, $subject, $severity, 'open', $en, $fr, $evidence, $risk, $now, $now, {NextVersion})
                RETURNING id
                """, cancellationToken, ("$patient", draft.Key.PatientId), ("$kind", draft.Key.Kind), ("$subject", draft.Key.Subject),
                ("$severity", (int)draft.Severity), ("$en", draft.Reason.En), ("$fr", draft.Reason.Fr),
                ("$evidence", JsonSerializer.Serialize(draft.Evidence, Json)), ("$risk", draft.Risk), ("$now", Ms(now)));
            await AddActionAsync(connection, transaction, id, draft.Key.PatientId, AlertActions.Opened, SystemActor, now, draft.Reason.En, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return await GetAsync(id, cancellationToken);
    }

    /// <summary>
    /// Records that the condition behind <paramref name="key"/> ended. An alert nobody has taken up (open, unclaimed)
    /// is closed as <see cref="AlertStatuses.Cleared"/>; one a nurse works on stays open, marked as ended, for her to
    /// resolve. A resolved alert whose condition lasted gets its end recorded too. Returns the alerts changed.
    /// </summary>
    public async Task<IReadOnlyList<Alert>> EndConditionAsync(AlertKey key, LocalizedText why, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var ids = new List<(long Id, bool Clear)>();
        await using (var command = Command(connection, transaction, """
            SELECT id, status = 'open' AND claimed_by IS NULL FROM alert
            WHERE patient_id = $patient AND kind = $kind AND subject = $subject AND condition_ended_at IS NULL AND status != 'cleared'
            """, ("$patient", key.PatientId), ("$kind", key.Kind), ("$subject", key.Subject)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add((reader.GetInt64(0), reader.GetBoolean(1)));
            }
        }

        foreach (var (id, clear) in ids)
        {
            await ExecuteAsync(connection, transaction, clear
                ? $"UPDATE alert SET condition_ended_at = $now, status = 'cleared', closed_at = $now, updated_at = $now, version = {NextVersion} WHERE id = $id"
                : $"UPDATE alert SET condition_ended_at = $now, updated_at = $now, version = {NextVersion} WHERE id = $id",
                cancellationToken, ("$now", Ms(now)), ("$id", id));
            await AddActionAsync(connection, transaction, id, key.PatientId, clear ? AlertActions.Cleared : AlertActions.ConditionEnded, SystemActor, now, why.En, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        var changed = new List<Alert>(ids.Count);
        foreach (var (id, _) in ids)
        {
            changed.Add((await GetAsync(id, cancellationToken))!);
        }

        return changed;
    }

    /// <summary>The keys whose condition is still going on (an alert open, or resolved while the condition lasts).</summary>
    public async Task<IReadOnlyList<AlertKey>> LiveKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT DISTINCT patient_id, kind, subject FROM alert WHERE condition_ended_at IS NULL AND status != 'cleared'");
        var keys = new List<AlertKey>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new AlertKey(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return keys;
    }

    /// <summary>
    /// One guarded workflow step: runs <paramref name="update"/> (an UPDATE of alert <c>$id</c> whose WHERE clause holds
    /// the step's precondition) and, when it changed the row, records the action. Returns the alert after the step and
    /// whether it applied; null when there is no such alert.
    /// </summary>
    internal async Task<(Alert Alert, bool Applied)?> StepAsync(
        long id, string update, IReadOnlyList<(string Name, object? Value)> parameters, string action, string actor, string? detail, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using (var connection = await OpenAsync(cancellationToken))
        await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            var all = parameters.Append(("$id", id)).Append(("$now", Ms(now))).Append(("$actor", actor)).ToArray();
            var changed = await ExecuteAsync(connection, transaction, update.Replace("<next-version>", NextVersion, StringComparison.Ordinal), cancellationToken, all);
            if (changed == 1)
            {
                var patient = await ScalarTextAsync(connection, transaction, "SELECT patient_id FROM alert WHERE id = $id", cancellationToken, ("$id", id));
                await AddActionAsync(connection, transaction, id, patient!, action, actor, now, detail, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return ((await GetAsync(id, cancellationToken))!, true);
            }
        }

        return await GetAsync(id, cancellationToken) is { } unchanged ? (unchanged, false) : null;
    }

    /// <summary>Records an action that changes no field of the alert (a note), and bumps its version so boards see it.</summary>
    internal async Task<Alert?> AddNoteAsync(long id, string action, string actor, string detail, DateTimeOffset now, CancellationToken cancellationToken) =>
        await StepAsync(id, "UPDATE alert SET updated_at = $now, version = <next-version> WHERE id = $id", [], action, actor, detail, now, cancellationToken) is { } result ? result.Alert : null;

    public async Task<Alert?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {Columns} FROM alert WHERE id = $id", ("$id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<Alert>> ListAsync(AlertQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var conditions = new List<string>();
        var parameters = new List<(string, object?)> { ("$limit", query.Limit) };
        if (!query.IncludeClosed)
        {
            conditions.Add(Active);
        }

        if (query.PatientId is not null)
        {
            conditions.Add("patient_id = $patient");
            parameters.Add(("$patient", query.PatientId));
        }

        if (query.From is { } from)
        {
            conditions.Add("(closed_at IS NULL OR closed_at >= $from)");
            parameters.Add(("$from", Ms(from)));
        }

        if (query.Through is { } through)
        {
            conditions.Add("opened_at <= $through");
            parameters.Add(("$through", Ms(through)));
        }

        var where = conditions.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", conditions);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {Columns} FROM alert {where} ORDER BY id DESC LIMIT $limit", [.. parameters]);
        var alerts = new List<Alert>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            alerts.Add(Read(reader));
        }

        return alerts;
    }

    /// <summary>The latest board sequence number (0 when there is no alert).</summary>
    public async Task<long> CurrentVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM alert", cancellationToken);
    }

    /// <summary>How many alerts each patient had opened since <paramref name="since"/> (the patient's recent history, for ranking).</summary>
    public async Task<IReadOnlyDictionary<string, int>> RecentAlertCountsAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT patient_id, COUNT(*) FROM alert WHERE opened_at >= $since GROUP BY patient_id", ("$since", Ms(since)));
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt32(1);
        }

        return counts;
    }

    /// <summary>How many alerts one patient had opened since <paramref name="since"/> (an index lookup, for each pushed change).</summary>
    public async Task<int> RecentAlertCountAsync(string patientId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (int)await ScalarAsync(connection, null, "SELECT COUNT(*) FROM alert WHERE patient_id = $patient AND opened_at >= $since", cancellationToken,
            ("$patient", patientId), ("$since", Ms(since)));
    }

    /// <summary>Each patient's latest risk probability among their alerts (the risk term of the ranking).</summary>
    public async Task<IReadOnlyDictionary<string, double>> LatestRiskAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT a.patient_id, a.risk FROM alert a
            JOIN (SELECT patient_id, MAX(updated_at) AS at FROM alert WHERE risk IS NOT NULL GROUP BY patient_id) l
              ON l.patient_id = a.patient_id AND l.at = a.updated_at
            WHERE a.risk IS NOT NULL
            """);
        var risks = new Dictionary<string, double>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            risks[reader.GetString(0)] = reader.GetDouble(1);
        }

        return risks;
    }

    /// <summary>Critical alerts not acknowledged nor escalated, opened at or before <paramref name="openedBefore"/>, not snoozed at <paramref name="now"/>.</summary>
    public async Task<IReadOnlyList<long>> DueForEscalationAsync(DateTimeOffset openedBefore, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT id FROM alert WHERE {Active} AND severity = $critical AND acknowledged_at IS NULL AND escalated_at IS NULL
              AND opened_at <= $before AND (snoozed_until IS NULL OR snoozed_until <= $now) ORDER BY id
            """, ("$critical", (int)AlertSeverity.Critical), ("$before", Ms(openedBefore)), ("$now", Ms(now)));
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    /// <summary>The actions of one alert, or of every alert of a patient within a window, oldest first.</summary>
    public async Task<IReadOnlyList<AlertActionRecord>> ActionsAsync(long? alertId, string? patientId, DateTimeOffset? from, DateTimeOffset? through, CancellationToken cancellationToken)
    {
        var conditions = new List<string>();
        var parameters = new List<(string, object?)>();
        if (alertId is { } id)
        {
            conditions.Add("alert_id = $alert");
            parameters.Add(("$alert", id));
        }

        if (patientId is not null)
        {
            conditions.Add("patient_id = $patient");
            parameters.Add(("$patient", patientId));
        }

        if (from is { } start)
        {
            conditions.Add("at >= $from");
            parameters.Add(("$from", Ms(start)));
        }

        if (through is { } end)
        {
            conditions.Add("at <= $through");
            parameters.Add(("$through", Ms(end)));
        }

        var where = conditions.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", conditions);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT id, alert_id, patient_id, action, actor, at, detail FROM alert_action {where} ORDER BY id LIMIT 5000", [.. parameters]);
        var actions = new List<AlertActionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            actions.Add(new AlertActionRecord(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                FromMs(reader.GetInt64(5)), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return actions;
    }

    public async Task<IReadOnlyList<PatientThreshold>> ThresholdsAsync(string? patientId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = patientId is null
            ? Command(connection, null, "SELECT patient_id, vital, critical_low, low, high, critical_high, set_by, set_at, reason FROM patient_threshold")
            : Command(connection, null, "SELECT patient_id, vital, critical_low, low, high, critical_high, set_by, set_at, reason FROM patient_threshold WHERE patient_id = $patient", ("$patient", patientId));
        var thresholds = new List<PatientThreshold>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            double? Bound(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetDouble(ordinal);
            thresholds.Add(new PatientThreshold(reader.GetString(0), reader.GetString(1), new VitalLimits(Bound(2), Bound(3), Bound(4), Bound(5)),
                reader.GetString(6), FromMs(reader.GetInt64(7)), reader.IsDBNull(8) ? null : reader.GetString(8)));
        }

        return thresholds;
    }

    public async Task SetThresholdAsync(PatientThreshold threshold, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(threshold);
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, """
            INSERT OR REPLACE INTO patient_threshold (patient_id, vital, critical_low, low, high, critical_high, set_by, set_at, reason)
            VALUES ($patient, $vital, $cl, $l, $h, $ch, $by, $at, $reason)
            """, cancellationToken, ("$patient", threshold.PatientId), ("$vital", threshold.Vital), ("$cl", threshold.Limits.CriticalLow),
            ("$l", threshold.Limits.Low), ("$h", threshold.Limits.High), ("$ch", threshold.Limits.CriticalHigh), ("$by", threshold.SetBy),
            ("$at", Ms(threshold.SetAt)), ("$reason", threshold.Reason));
    }

    public async Task<bool> RemoveThresholdAsync(string patientId, string vital, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, "DELETE FROM patient_threshold WHERE patient_id = $patient AND vital = $vital", cancellationToken,
            ("$patient", patientId), ("$vital", vital)) > 0;
    }

    /// <summary>
    /// Removes for good every alert, workflow action and threshold of a patient (the right to erasure): deleted with
    /// <c>secure_delete</c>, then the file rewritten (VACUUM) and the write-ahead log emptied. Returns the alerts removed.
    /// </summary>
    public async Task<int> ErasePatientAsync(string patientId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA secure_delete = ON", cancellationToken);
        int alerts;
        await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM alert_action WHERE patient_id = $patient", cancellationToken, ("$patient", patientId));
            await ExecuteAsync(connection, transaction, "DELETE FROM patient_threshold WHERE patient_id = $patient", cancellationToken, ("$patient", patientId));
            alerts = await ExecuteAsync(connection, transaction, "DELETE FROM alert WHERE patient_id = $patient", cancellationToken, ("$patient", patientId));
            await transaction.CommitAsync(cancellationToken);
        }

        await ExecuteAsync(connection, null, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken);
        return alerts;
    }

    /// <summary>Who the engine's own actions are recorded as.</summary>
    public const string SystemActor = "system";

    internal static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static async Task<Alert?> FindLatestAsync(SqliteConnection connection, SqliteTransaction transaction, AlertKey key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"""
            SELECT {Columns} FROM alert WHERE patient_id = $patient AND kind = $kind AND subject = $subject ORDER BY ({Active}) DESC, id DESC LIMIT 1
            """, ("$patient", key.PatientId), ("$kind", key.Kind), ("$subject", key.Subject));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static async Task AddActionAsync(SqliteConnection connection, SqliteTransaction transaction, long alertId, string patientId, string action, string actor, DateTimeOffset at, string? detail, CancellationToken cancellationToken) =>
        await ExecuteAsync(connection, transaction, "INSERT INTO alert_action (alert_id, patient_id, action, actor, at, detail) VALUES ($alert, $patient, $action, $actor, $at, $detail)",
            cancellationToken, ("$alert", alertId), ("$patient", patientId), ("$action", action), ("$actor", actor), ("$at", Ms(at)), ("$detail", detail));

    private static Alert Read(SqliteDataReader r)
    {
        DateTimeOffset? Time(int i) => r.IsDBNull(i) ? null : FromMs(r.GetInt64(i));
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        return new Alert
        {
            Id = r.GetInt64(0),
            PatientId = r.GetString(1),
            Kind = r.GetString(2),
            Subject = r.GetString(3),
            Severity = (AlertSeverity)r.GetInt32(4),
            Status = r.GetString(5),
            Reason = new LocalizedText(r.GetString(6), r.GetString(7)),
            Evidence = JsonSerializer.Deserialize<List<AlertEvidence>>(r.GetString(8), Json) ?? [],
            Risk = r.IsDBNull(9) ? null : r.GetDouble(9),
            OpenedAt = FromMs(r.GetInt64(10)),
            UpdatedAt = FromMs(r.GetInt64(11)),
            ConditionEndedAt = Time(12),
            ClaimedBy = Text(13),
            ClaimedAt = Time(14),
            AcknowledgedBy = Text(15),
            AcknowledgedAt = Time(16),
            SnoozedUntil = Time(17),
            SnoozeReason = Text(18),
            EscalatedAt = Time(19),
            EscalatedTo = Text(20),
            ResolvedBy = Text(21),
            ClosedAt = Time(22),
            Outcome = Text(23),
            Version = r.GetInt64(24),
        };
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<string?> ScalarTextAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
