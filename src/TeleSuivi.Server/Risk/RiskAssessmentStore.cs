using System.Data.Common;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Risk;

/// <summary>One stored score: its FHIR id, patient, time (Unix ms), probability and the RiskAssessment as JSON.</summary>
public sealed record StoredRiskAssessment(string Id, string PatientId, long OccurrenceMs, double Probability, string Json);

/// <summary>
/// The RiskAssessments of the online scorer: with SQLite, in a file of their own (<c>risk.db</c>), so that the alert
/// engine's writes to <c>alerts.db</c> never wait behind a commit of a pass's scores (SQLite has one writer per file);
/// with PostgreSQL, in the database the nodes share (a web node serves what any ingest worker scored), where an insert
/// into this table takes no lock an alert's write waits for. The id is a function of patient and time
/// (<see cref="RiskAssessments.IdOf"/>), so a re-score of the same instant replaces the row rather than adding one.
/// </summary>
/// <param name="database">Where the assessments are.</param>
/// <param name="previousLayout">
/// Where a data folder of the previous layout holds them (<c>alerts.db</c>, before they had a file of their own): moved
/// from there at <see cref="InitializeAsync"/>. Null, or the same database (PostgreSQL), when there is nothing to move.
/// </param>
public sealed partial class RiskAssessmentStore(WorkflowDatabase database, WorkflowDatabase? previousLayout, ILogger? logger = null)
{
    /// <summary>The SQLite file of the data folder, without PostgreSQL.</summary>
    public const string FileName = "risk.db";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS risk_assessment (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL,
            occurrence BIGINT NOT NULL,
            probability DOUBLE PRECISION NOT NULL,
            resource TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS risk_assessment_patient ON risk_assessment (patient_id, occurrence, id);
        CREATE INDEX IF NOT EXISTS risk_assessment_occurrence ON risk_assessment (occurrence);
        """;

    public RiskAssessmentStore(WorkflowDatabase database)
        : this(database, null)
    {
    }

    /// <summary>The store as the host configures it: its own file beside <c>alerts.db</c> (the workflow database), from which a previous layout's assessments are moved.</summary>
    public static RiskAssessmentStore Create(IServiceProvider services) => new(
        WorkflowDatabase.Create(services, FileName),
        services.GetRequiredService<WorkflowDatabase>(),
        services.GetRequiredService<ILogger<RiskAssessmentStore>>());

    /// <summary>Where the assessments are, for messages.</summary>
    public string Location => database.Location;

    /// <summary>Creates the table, and moves the assessments a data folder of the previous layout kept in <c>alerts.db</c>.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await database.CreateSchemaAsync(Schema, cancellationToken);
        if (previousLayout is SqliteWorkflowDatabase previous && database is SqliteWorkflowDatabase
            && !string.Equals(previous.Location, database.Location, StringComparison.Ordinal) && File.Exists(previous.Location))
        {
            try
            {
                await MoveFromAsync(previous, cancellationToken);
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                throw new InvalidOperationException(
                    $"cannot move the risk assessments of {previous.Location} to {database.Location}: {ex.Message} (none is lost: those not moved stay where they were, and the move is tried again at the next start)", ex);
            }
        }
    }

    /// <summary>
    /// Copies the previous file's assessments here and commits, then drops its table (its pages overwritten: erasure
    /// must find nothing of a patient there later). Cut short between the two, it is simply done again at the next
    /// start: a row already here is kept, none is lost. The data folder lock keeps a second process out meanwhile.
    /// </summary>
    private async Task MoveFromAsync(SqliteWorkflowDatabase previous, CancellationToken cancellationToken)
    {
        await using (var old = await previous.OpenAsync(cancellationToken))
        {
            await using var exists = Command(old, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'risk_assessment'");
            if (Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 0)
            {
                return;
            }
        }

        int moved;
        await using (var connection = await OpenAsync(cancellationToken))
        {
            await ExecuteAsync(connection, "ATTACH DATABASE @path AS previous", cancellationToken, ("@path", previous.Location));
            try
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using var copy = WorkflowDatabase.Command(connection, transaction, $"""
                    INSERT INTO risk_assessment ({Columns}) SELECT {Columns} FROM previous.risk_assessment WHERE true
                    ON CONFLICT (id) DO NOTHING
                    """);
                moved = await copy.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
            finally
            {
                // The connection goes back to the pool: not with the other file attached.
                await ExecuteAsync(connection, "DETACH DATABASE previous", CancellationToken.None);
            }
        }

        await using (var old = await previous.OpenAsync(cancellationToken))
        {
            // The setting stays with the pooled connection, which the alert store uses next: given back as it was.
            await using var setting = Command(old, "PRAGMA secure_delete");
            var secureDelete = Convert.ToInt64(await setting.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            await ExecuteAsync(old, "PRAGMA secure_delete = ON; DROP TABLE IF EXISTS risk_assessment; PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken);
            await ExecuteAsync(old, $"PRAGMA secure_delete = {secureDelete}", CancellationToken.None);
        }

        if (logger is not null)
        {
            LogMoved(logger, moved, previous.Location, database.Location);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Moved {Count} risk assessment(s) from {Previous} to {Location}, their own file since this version")]
    private static partial void LogMoved(ILogger logger, int count, string previous, string location);

    public Task SaveAsync(StoredRiskAssessment assessment, CancellationToken cancellationToken) => SaveAllAsync([assessment], cancellationToken);

    /// <summary>
    /// Saves the assessments in one transaction: the scorer's scores of one pass. One commit each cost a file sync
    /// about 100 times a second with 10,000 patients (BENCHMARKS.md, "End to end"); in a file of its own, a commit of
    /// many no longer holds the lock the alerts are written under.
    /// </summary>
    public async Task SaveAllAsync(IReadOnlyList<StoredRiskAssessment> assessments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assessments);
        if (assessments.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await InsertAsync(connection, transaction, assessments, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task InsertAsync(DbConnection connection, DbTransaction transaction, IEnumerable<StoredRiskAssessment> assessments, CancellationToken cancellationToken)
    {
        foreach (var assessment in assessments)
        {
            await using var command = WorkflowDatabase.Command(connection, transaction, """
                INSERT INTO risk_assessment (id, patient_id, occurrence, probability, resource) VALUES (@id, @patient, @at, @p, @json)
                ON CONFLICT (id) DO UPDATE SET probability = excluded.probability, resource = excluded.resource
                """, ("@id", assessment.Id), ("@patient", assessment.PatientId), ("@at", assessment.OccurrenceMs),
                ("@p", assessment.Probability), ("@json", assessment.Json));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// The scorer's save: like <see cref="SaveAllAsync"/>, but on PostgreSQL only the assessments of patients the shared
    /// registry holds at the commit, read under <see cref="ErasureLock"/> (shared here: saves never wait
    /// for each other). A node's in-memory registry lags the database by up to <c>Registry:RefreshInterval</c>, and its
    /// scorer may hold a patient's state from before their erasure on another node: this is what keeps an erased
    /// patient's score out of the database whatever the timing. Returns the patients whose assessments were not
    /// saved. With SQLite (one node, erasure with the server stopped) the scorer's own check of the registry suffices.
    /// </summary>
    public async Task<IReadOnlySet<string>> SaveScoresAsync(IReadOnlyList<StoredRiskAssessment> assessments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assessments);
        if (database.Dialect != WorkflowDialect.PostgreSql || assessments.Count == 0)
        {
            await SaveAllAsync(assessments, cancellationToken);
            return new HashSet<string>(StringComparer.Ordinal);
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ErasureLock.ShareAsync(connection, transaction, cancellationToken);

        var patients = assessments.Select(a => a.PatientId).Distinct(StringComparer.Ordinal).ToArray();
        var registered = await ErasureLock.RegisteredAsync(connection, transaction, patients, cancellationToken);
        await InsertAsync(connection, transaction, assessments.Where(a => registered.Contains(a.PatientId)), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return patients.Where(p => !registered.Contains(p)).ToHashSet(StringComparer.Ordinal);
    }

    public async Task<StoredRiskAssessment?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var found = await ReadAsync(connection, $"SELECT {Columns} FROM risk_assessment WHERE id = @id", cancellationToken, ("@id", id));
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>
    /// A patient's assessments with an occurrence in [<paramref name="fromMs"/>, <paramref name="throughMs"/>], ordered
    /// by occurrence then id (newest first when <paramref name="descending"/>), strictly after <paramref name="after"/>
    /// in that order; and how many match in all.
    /// </summary>
    public async Task<(IReadOnlyList<StoredRiskAssessment> Matches, long Total)> SearchAsync(
        string patientId, long fromMs, long throughMs, bool descending, (long Ms, string Id)? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        const string Window = "patient_id = @patient AND occurrence >= @from AND occurrence <= @through";
        var (order, beyond) = descending ? ("DESC", "<") : ("ASC", ">");
        var cursor = after is null ? string.Empty : $" AND (occurrence, id) {beyond} (@afterMs, @afterId)";
        var window = new (string, object?)[] { ("@patient", patientId), ("@from", fromMs), ("@through", throughMs) };
        var page = after is { } cut ? [.. window, ("@afterMs", cut.Ms), ("@afterId", cut.Id), ("@limit", limit)] : window.Append(("@limit", limit)).ToArray();
        var matches = await ReadAsync(connection, $"SELECT {Columns} FROM risk_assessment WHERE {Window}{cursor} ORDER BY occurrence {order}, id {order} LIMIT @limit", cancellationToken, page);
        await using var count = Command(connection, $"SELECT COUNT(*) FROM risk_assessment WHERE {Window}", window);
        return (matches, Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The latest probability of every patient that has one.</summary>
    public async Task<IReadOnlyDictionary<string, (double Probability, long OccurrenceMs)>> LatestAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, """
            SELECT r.patient_id, r.probability, r.occurrence FROM risk_assessment r
            JOIN (SELECT patient_id, MAX(occurrence) AS at FROM risk_assessment GROUP BY patient_id) l
              ON l.patient_id = r.patient_id AND l.at = r.occurrence
            """);
        var latest = new Dictionary<string, (double, long)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            latest[reader.GetString(0)] = (reader.GetDouble(1), reader.GetInt64(2));
        }

        return latest;
    }

    /// <summary>Deletes the assessments that occurred before <paramref name="cutoff"/> (<c>Store:Retention</c>); returns how many.</summary>
    public async Task<int> PurgeBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, "DELETE FROM risk_assessment WHERE occurrence < @cutoff", cancellationToken, ("@cutoff", cutoff.ToUnixTimeMilliseconds()));
    }

    /// <summary>The right to erasure: every assessment of the patient, overwritten on disk; returns how many.</summary>
    public async Task<int> ErasePatientAsync(string patientId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await database.PrepareEraseAsync(connection, cancellationToken);
        var erased = await ExecuteAsync(connection, "DELETE FROM risk_assessment WHERE patient_id = @patient", cancellationToken, ("@patient", patientId));
        await database.ReclaimErasedAsync(connection, ["risk_assessment"], cancellationToken);
        return erased;
    }

    private const string Columns = "id, patient_id, occurrence, probability, resource";

    private static async Task<List<StoredRiskAssessment>> ReadAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<StoredRiskAssessment>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new StoredRiskAssessment(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetDouble(3), reader.GetString(4)));
        }

        return rows;
    }

    private static async Task<int> ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters) =>
        WorkflowDatabase.Command(connection, null, sql, parameters);

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);
}
