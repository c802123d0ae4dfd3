using System.Buffers.Binary;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.Workflow;

/// <summary>
/// One table of the workflow state: where one node keeps it (a SQLite file of the data folder, or <c>keys</c>, the
/// folder of session-cookie keys) and the key its rows are compared in, on both sides.
/// </summary>
public sealed record WorkflowTable(string Name, string Source, IReadOnlyList<string> Key);

/// <summary>One table as the migration found it on both sides: rows and content digest (SHA-256 of the rows in key order).</summary>
public sealed record TableComparison(string Table, string Source, long SourceRows, string SourceDigest, long TargetRows, string TargetDigest)
{
    public bool Matches => SourceRows == TargetRows && string.Equals(SourceDigest, TargetDigest, StringComparison.Ordinal);
}

/// <summary>
/// What a migration did: the tables compared, and, when it committed, the audit entry it wrote on PostgreSQL and the
/// verification of the chain there. <see cref="Problem"/> says why it rolled back when it did not commit.
/// </summary>
public sealed record MigrationReport(
    string DataDirectory,
    string Target,
    IReadOnlyList<TableComparison> Tables,
    bool Committed,
    string? Problem,
    AuditRecord? TargetEntry,
    AuditVerification? TargetAudit,
    string? SourceEntryProblem);

/// <summary>A migration that was not started, for a reason the operator can fix; nothing was written to PostgreSQL.</summary>
public sealed class MigrationRefusedException(string message) : Exception(message);

/// <summary>A migration that stopped (<see cref="Exception.InnerException"/> says why) and could not take back the empty tables it had created.</summary>
public sealed class MigrationCleanupException(string message, Exception inner) : Exception(message, inner);

/// <summary>How far the migration is: a stage (e.g. <c>copying alert</c>) and its rows.</summary>
public readonly record struct MigrationProgress(string Stage, long Done, long Total);

/// <summary>
/// Copies a single node's workflow state (the SQLite files of its data folder, and its session-cookie keys) into an
/// empty PostgreSQL database, the one <see cref="WorkflowOptions.PostgreSql"/> then points every node at. All or
/// nothing: one PostgreSQL transaction, which holds every workflow table locked, copies the rows as they are (ids,
/// times, claims, hashes), then reads them back and compares count and digest table by table with what it read, and
/// commits only if all agree, the audit chain verifies there, and the migration's own audit entry is appended to it.
/// While it runs it holds the data folder lock (so no <c>serve</c> uses the folder) and a write transaction on each
/// SQLite file (so no command writes there meanwhile: they wait, or fail with "database is locked").
/// </summary>
public sealed class WorkflowMigration(string dataDirectory, string postgreSql, TimeProvider time)
{
    /// <summary>The folder of session-cookie keys of a single node (<c>{data}/keys/*.xml</c>).</summary>
    public const string KeysSource = "keys";

    private const string AuditAction = "workflow.migrate";
    private const int ProgressEvery = 2_000;

    /// <summary>Every table of the workflow state; the migration refuses a SQLite file holding a table not listed here.</summary>
    public static readonly IReadOnlyList<WorkflowTable> Tables =
    [
        new("alert", WorkflowDatabase.AlertsFileName, ["id"]),
        new("alert_action", WorkflowDatabase.AlertsFileName, ["id"]),
        new("patient_threshold", WorkflowDatabase.AlertsFileName, ["patient_id", "vital"]),
        new("risk_assessment", RiskAssessmentStore.FileName, ["id"]),
        new("user", AccountStore.FileName, ["name"]),
        new("api_key", AccountStore.FileName, ["id"]),
        new("audit", AuditLog.FileName, ["seq"]),
        new("patient", DeviceRegistry.FileName, ["id"]),
        new("device", DeviceRegistry.FileName, ["id"]),
        new("assignment", DeviceRegistry.FileName, ["device_id", "source"]),
        new("broker_credential", DeviceRegistry.FileName, ["username"]),
        new("registry_version", DeviceRegistry.FileName, ["id"]),
        new("dead_letter", DeadLetterStore.FileName, ["id"]),
        new("data_protection_key", KeysSource, ["name"]),
    ];

    /// <summary>
    /// Rows the PostgreSQL schema itself inserts, which do not count as data there and are replaced by the node's:
    /// the registry's version row starts at 0.
    /// </summary>
    private static readonly Dictionary<string, string> SeededRows = new(StringComparer.Ordinal) { ["registry_version"] = "version = 0" };

    // The columns of the shared key repository (SharedDataProtectionKeys), in the order the key rows are read.
    private static readonly string[] KeyColumns = ["name", "xml"];

    private static IEnumerable<string> SourceFiles => Tables.Select(t => t.Source).Where(s => s != KeysSource).Distinct();

    /// <summary>Runs inside the PostgreSQL transaction after the copy and before the comparison: lets a test change a copied row.</summary>
    internal Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task>? BeforeVerify { get; init; }

    public async Task<MigrationReport> RunAsync(IProgress<MigrationProgress>? progress, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(dataDirectory);
        if (!Directory.Exists(directory) || !SourceFiles.Any(file => File.Exists(Path.Combine(directory, file))))
        {
            throw new MigrationRefusedException(
                $"{directory} holds no workflow state (none of {string.Join(", ", SourceFiles)}): give --data the folder serve uses");
        }

        DataFolderLock folder;
        try
        {
            folder = DataFolderLock.Acquire(directory, "migrate");
        }
        catch (ConfigurationException ex)
        {
            throw new MigrationRefusedException($"{ex.Message}: stop the platform on this folder first, the migration copies a state that no longer changes");
        }

        using (folder)
        {
            // PostgreSQL first: a database that is unreachable or already used is refused before the folder is touched.
            await using var target = new PostgresWorkflowDatabase(postgreSql);
            SchemaObjects? before = null;
            var committed = false;
            MigrationReport report;
            try
            {
                await using (var connection = await OpenTargetAsync(target, cancellationToken))
                {
                    await RefuseIfHoldsDataAsync(connection, null, target.Location, cancellationToken);
                    before = await SchemaObjectsAsync(connection, null, cancellationToken);
                    await UpgradeSourceAsync(directory, cancellationToken);
                    var sources = await SqliteSources.OpenAsync(directory, SourceFiles, cancellationToken);
                    await using (sources)
                    {
                        await CheckSourceAsync(sources, cancellationToken);
                        await CreateTargetSchemaAsync(target, cancellationToken);
                        report = await CopyAsync(directory, sources, connection, target.Location, progress, cancellationToken);
                        committed = report.Committed;
                        if (committed)
                        {
                            report = report with { SourceEntryProblem = await RecordInSourceAsync(sources, report, cancellationToken) };
                        }
                    }
                }
            }
            catch (Exception ex) when (before is not null && !committed)
            {
                // After the run's own connection is closed (its transaction rolled back, its locks released).
                if (await DropCreatedAsync(target, before) is { } left)
                {
                    throw new MigrationCleanupException($"{ex.Message}; {left}", ex);
                }

                throw;
            }

            if (!committed)
            {
                report = report with { Problem = $"{report.Problem}; {await DropCreatedAsync(target, before!) ?? "the tables this run had created were dropped"}" };
            }

            return report;
        }
    }

    /// <summary>The tables and functions of the target's schema before the run: what a run that does not commit leaves as it found it.</summary>
    private sealed record SchemaObjects(IReadOnlyList<string> Tables, IReadOnlyList<string> Functions);

    private static async Task<SchemaObjects> SchemaObjectsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken) => new(
        await Sql.QueryAsync(connection, transaction,
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p') ORDER BY relname", r => r.GetString(0), cancellationToken),
        await Sql.QueryAsync(connection, transaction,
            "SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = current_schema()::regnamespace ORDER BY 1", r => r.GetString(0), cancellationToken));

    /// <summary>
    /// Drops the tables and functions (the audit trigger's) the stores created for a run that did not commit: the
    /// schema is created by the stores' own start-up, each in its own transaction, so the copy's rollback does not take
    /// it back, and a later run would find empty tables it accepts. Only tables that hold no row: one that does was
    /// filled by a commit whose outcome the run could not learn (its connection lost during COMMIT) or by a node started
    /// meanwhile, and is not this run's to drop; then nothing is dropped. Null when the target is as it was, else what
    /// was left and why. On a connection of its own, whatever became of the run's.
    /// </summary>
    private static async Task<string?> DropCreatedAsync(PostgresWorkflowDatabase target, SchemaObjects before)
    {
        try
        {
            await using var connection = (NpgsqlConnection)await target.OpenAsync(CancellationToken.None);
            await using var transaction = await connection.BeginTransactionAsync(CancellationToken.None);
            await Sql.ExecuteAsync(connection, transaction, "SET LOCAL lock_timeout = '30s'", CancellationToken.None);
            var now = await SchemaObjectsAsync(connection, transaction, CancellationToken.None);
            var tables = now.Tables.Except(before.Tables, StringComparer.Ordinal).ToList();
            var functions = now.Functions.Except(before.Functions, StringComparer.Ordinal).ToList();
            if (tables.Count == 0 && functions.Count == 0)
            {
                return null;
            }

            var quoted = string.Join(", ", tables.Select(Quote));
            if (tables.Count > 0)
            {
                // Locked before they are counted: a commit still under way is waited for, and seen.
                await Sql.ExecuteAsync(connection, transaction, $"LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE", CancellationToken.None);
            }

            var holding = new List<string>();
            foreach (var table in tables)
            {
                var seeded = SeededRows.GetValueOrDefault(table);
                if (await Sql.ScalarAsync(connection, transaction, $"SELECT COUNT(*) FROM {Quote(table)}{(seeded is null ? string.Empty : $" WHERE NOT ({seeded})")}", CancellationToken.None) > 0)
                {
                    holding.Add(table);
                }
            }

            if (holding.Count > 0)
            {
                return $"the tables this run created were left in place, as {string.Join(", ", holding)} hold rows (a commit whose outcome was not known, or a node started on the database): check the database before running again";
            }

            if (tables.Count > 0)
            {
                await Sql.ExecuteAsync(connection, transaction, $"DROP TABLE {quoted} CASCADE", CancellationToken.None);
            }

            foreach (var function in functions)
            {
                await Sql.ExecuteAsync(connection, transaction, $"DROP FUNCTION {function}", CancellationToken.None);
            }

            await transaction.CommitAsync(CancellationToken.None);
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            return $"the empty tables this run created could not be dropped ({ex.Message}): drop them, or use a new database, before running again";
        }
    }

    /// <summary>Brings the files to the current schema with the stores' own start-up, as <c>serve</c> would.</summary>
    private static async Task UpgradeSourceAsync(string directory, CancellationToken cancellationToken)
    {
        WorkflowDatabase Sqlite(string file) => new SqliteWorkflowDatabase(Path.Combine(directory, file));
        using (var alerts = new AlertStore(Sqlite(WorkflowDatabase.AlertsFileName)))
        {
            await alerts.InitializeAsync(cancellationToken);
        }

        // A folder of the layout before risk.db had its assessments in alerts.db: moved as the server would at start.
        await new RiskAssessmentStore(Sqlite(RiskAssessmentStore.FileName), Sqlite(WorkflowDatabase.AlertsFileName)).InitializeAsync(cancellationToken);
        await new AccountStore(Sqlite(AccountStore.FileName)).InitializeAsync(cancellationToken);
        using (var audit = new AuditLog(Sqlite(AuditLog.FileName), TimeProvider.System))
        {
            await audit.InitializeAsync(cancellationToken);
        }

        using (var registry = new DeviceRegistry(Sqlite(DeviceRegistry.FileName)))
        {
            await registry.InitializeAsync(cancellationToken);
        }

        await new DeadLetterStore(Sqlite(DeadLetterStore.FileName)).InitializeAsync(cancellationToken);
    }

    /// <summary>Refuses a table this migration does not know (it would be left behind) and an audit chain that does not verify.</summary>
    private static async Task CheckSourceAsync(SqliteSources sources, CancellationToken cancellationToken)
    {
        foreach (var (file, source) in sources.Files)
        {
            var names = await Sql.QueryAsync(source.Connection, source.Transaction,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", r => r.GetString(0), cancellationToken);
            var unknown = names.Where(name => !Tables.Any(t => t.Source == file && t.Name == name)).ToList();
            if (unknown.Count > 0)
            {
                throw new MigrationRefusedException(
                    $"{file} holds table(s) this migration does not know: {string.Join(", ", unknown)}; nothing was copied, so that nothing is left behind unnoticed");
            }
        }

        var audit = sources.Files[AuditLog.FileName];
        var verification = await AuditLog.VerifyChainAsync(audit.Connection, audit.Transaction, null, cancellationToken);
        if (!verification.Intact)
        {
            throw new MigrationRefusedException(
                $"the audit trail of the data folder is broken at row {verification.BrokenSeq}: {verification.Problem} (telesuivi audit verify); a copy would not verify either: find out what happened first");
        }
    }

    private static async Task<NpgsqlConnection> OpenTargetAsync(PostgresWorkflowDatabase target, CancellationToken cancellationToken)
    {
        try
        {
            return (NpgsqlConnection)await target.OpenAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new ConfigurationException($"cannot connect to {target.Location}: {ex.Message}", ex);
        }
    }

    /// <summary>Refuses a database in which any workflow table already holds rows (before the schema exists, and again under the locks).</summary>
    private static async Task RefuseIfHoldsDataAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string location, CancellationToken cancellationToken)
    {
        var holding = new List<string>();
        foreach (var table in Tables)
        {
            if (await Sql.ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1", cancellationToken, table.Name) == 0)
            {
                continue;
            }

            var seeded = SeededRows.GetValueOrDefault(table.Name);
            var rows = await Sql.ScalarAsync(connection, transaction, $"SELECT COUNT(*) FROM {Quote(table.Name)}{(seeded is null ? string.Empty : $" WHERE NOT ({seeded})")}", cancellationToken);
            if (rows > 0)
            {
                holding.Add(string.Create(CultureInfo.InvariantCulture, $"{table.Name} ({rows} row(s))"));
            }
        }

        if (holding.Count > 0)
        {
            throw new MigrationRefusedException(
                $"{location} already holds workflow data: {string.Join(", ", holding)}; nothing was written. Migrate into a new, empty database (and start no node on it before)");
        }
    }

    /// <summary>The tables as the PostgreSQL stores create them at a node's start, so the copy fits what the nodes read.</summary>
    private static async Task CreateTargetSchemaAsync(PostgresWorkflowDatabase target, CancellationToken cancellationToken)
    {
        using (var alerts = new AlertStore(target))
        {
            await alerts.InitializeAsync(cancellationToken);
        }

        await new RiskAssessmentStore(target).InitializeAsync(cancellationToken);
        await new AccountStore(target).InitializeAsync(cancellationToken);
        using (var audit = new AuditLog(target, TimeProvider.System))
        {
            await audit.InitializeAsync(cancellationToken);
        }

        using (var registry = new DeviceRegistry(target))
        {
            await registry.InitializeAsync(cancellationToken);
        }

        await new DeadLetterStore(target).InitializeAsync(cancellationToken);
        await target.CreateSchemaAsync(SharedDataProtectionKeys.Schema, cancellationToken);
    }

    private async Task<MigrationReport> CopyAsync(
        string directory, SqliteSources sources, NpgsqlConnection connection, string location, IProgress<MigrationProgress>? progress, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Nodes already started on this database wait (or this waits for them, at most the lock timeout): none writes
        // between the check that the tables are empty and the commit.
        await Sql.ExecuteAsync(connection, transaction, "SET LOCAL lock_timeout = '30s'", cancellationToken);
        await Sql.ExecuteAsync(connection, transaction, $"LOCK TABLE {string.Join(", ", Tables.Select(t => Quote(t.Name)))} IN ACCESS EXCLUSIVE MODE", cancellationToken);
        await RefuseIfHoldsDataAsync(connection, transaction, location, cancellationToken);
        foreach (var table in SeededRows.Keys)
        {
            await Sql.ExecuteAsync(connection, transaction, $"DELETE FROM {Quote(table)}", cancellationToken);
        }

        var copied = new List<(WorkflowTable Table, IReadOnlyList<TargetColumn> Columns, long Rows, string Digest)>();
        foreach (var table in Tables)
        {
            var targetColumns = await TargetColumnsAsync(connection, transaction, table, cancellationToken);
            var (columns, rows, digest) = table.Source == KeysSource
                ? await CopyKeysAsync(directory, table, targetColumns, connection, progress, cancellationToken)
                : await CopyFromSqliteAsync(table, targetColumns, sources.Files[table.Source], connection, progress, cancellationToken);
            copied.Add((table, columns, rows, digest));
        }

        if (BeforeVerify is not null)
        {
            await BeforeVerify(connection, transaction, cancellationToken);
        }

        var comparisons = new List<TableComparison>();
        foreach (var (table, columns, rows, digest) in copied)
        {
            progress?.Report(new MigrationProgress("verifying", comparisons.Count, copied.Count));
            var (targetRows, targetDigest) = await DigestTargetAsync(connection, transaction, table, columns, cancellationToken);
            comparisons.Add(new TableComparison(table.Name, table.Source, rows, digest, targetRows, targetDigest));
        }

        progress?.Report(new MigrationProgress("verifying", copied.Count, copied.Count));
        if (comparisons.Where(c => !c.Matches).Select(c => c.Table).ToList() is { Count: > 0 } differing)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new MigrationReport(directory, location, comparisons, false,
                $"PostgreSQL does not hold what was read from the data folder in: {string.Join(", ", differing)}; rolled back, nothing was written", null, null, null);
        }

        var entry = Entry($"copied from {directory} to {location}: {Summary(comparisons)}");
        var appended = (await AuditLog.AppendAsync(connection, transaction, [entry], time.GetUtcNow(), cancellationToken))[0];
        var chain = await AuditLog.VerifyChainAsync(connection, transaction, null, cancellationToken);
        if (!chain.Intact)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new MigrationReport(directory, location, comparisons, false,
                $"the audit chain does not verify on PostgreSQL at row {chain.BrokenSeq}: {chain.Problem}; rolled back, nothing was written", null, chain, null);
        }

        await ContinueIdentitiesAsync(connection, transaction, sources, copied.Select(c => (c.Table, c.Columns)), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new MigrationReport(directory, location, comparisons, true, null, appended, chain, null);
    }

    /// <summary>
    /// Generated ids continue after the highest the node ever handed out (SQLite's AUTOINCREMENT counter, which counts
    /// erased rows too), so an id is never used for two alerts. Last, because a sequence change is never rolled back:
    /// a commit failing after it leaves only a gap in the ids.
    /// </summary>
    private static async Task ContinueIdentitiesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, SqliteSources sources, IEnumerable<(WorkflowTable Table, IReadOnlyList<TargetColumn> Columns)> tables, CancellationToken cancellationToken)
    {
        foreach (var (table, columns) in tables)
        {
            foreach (var column in columns.Where(c => c.IsIdentity))
            {
                var highest = await Sql.ScalarAsync(connection, transaction, $"SELECT COALESCE(MAX({Quote(column.Name)}), 0) FROM {Quote(table.Name)}", cancellationToken);
                if (sources.Files.TryGetValue(table.Source, out var source)
                    && await Sql.ScalarAsync(source.Connection, source.Transaction, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_sequence'", cancellationToken) > 0)
                {
                    highest = Math.Max(highest, await Sql.ScalarAsync(source.Connection, source.Transaction, "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = $1", cancellationToken, table.Name));
                }

                if (highest > 0)
                {
                    await Sql.ExecuteAsync(connection, transaction, "SELECT setval(pg_get_serial_sequence($1, $2), $3)", cancellationToken, Quote(table.Name), column.Name, highest);
                }
            }
        }
    }

    /// <summary>Writes in the data folder's own trail where it goes on; a failure there is reported, the migration stands.</summary>
    private async Task<string?> RecordInSourceAsync(SqliteSources sources, MigrationReport report, CancellationToken cancellationToken)
    {
        var audit = sources.Files[AuditLog.FileName];
        try
        {
            var entry = Entry($"copied to {report.Target}, where the trail goes on from row {report.TargetEntry!.Seq} (hash {report.TargetEntry.Hash}); this folder is no longer the platform's state");
            await AuditLog.AppendAsync(audit.Connection, audit.Transaction, [entry], time.GetUtcNow(), cancellationToken);
            await audit.Transaction.CommitAsync(cancellationToken);
            return null;
        }
        catch (SqliteException ex)
        {
            return $"the migration is committed, but its entry could not be written to the data folder's own audit trail: {ex.Message}";
        }
    }

    // Who ran it, as the other commands that work on the data folder audit themselves: cli:{account} from cli@{host}.
    private static AuditEntry Entry(string detail) =>
        new($"cli:{Environment.UserName}", "-", AuditAction, null, "workflow", "ok", $"cli@{Environment.MachineName}", detail);

    private static string Summary(IEnumerable<TableComparison> tables) => string.Join(", ", tables.Select(t =>
        string.Create(CultureInfo.InvariantCulture, $"{t.Table} {t.TargetRows} row(s) sha256 {t.TargetDigest[..16]}")));

    /// <summary>A column of the PostgreSQL table, as the stores created it.</summary>
    private sealed record TargetColumn(string Name, string Type, bool Required, bool IsIdentity)
    {
        public NpgsqlDbType DbType => Type switch
        {
            "bigint" => NpgsqlDbType.Bigint,
            "integer" => NpgsqlDbType.Integer,
            "double precision" => NpgsqlDbType.Double,
            "text" => NpgsqlDbType.Text,
            "bytea" => NpgsqlDbType.Bytea,
            _ => throw new MigrationRefusedException($"column {Name} has the type {Type}, which this migration does not copy"),
        };
    }

    private static async Task<IReadOnlyList<TargetColumn>> TargetColumnsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, WorkflowTable table, CancellationToken cancellationToken)
    {
        var columns = await Sql.QueryAsync(connection, transaction, """
            SELECT column_name, data_type, is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO', is_identity = 'YES'
            FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position
            """, r => new TargetColumn(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.GetBoolean(3)), cancellationToken, table.Name);
        // A type this migration does not know stops it here, before any row is copied.
        foreach (var column in columns)
        {
            _ = column.DbType;
        }

        return columns;
    }

    private static async Task<(IReadOnlyList<TargetColumn> Columns, long Rows, string Digest)> CopyFromSqliteAsync(
        WorkflowTable table, IReadOnlyList<TargetColumn> targetColumns, SqliteSource source, NpgsqlConnection connection, IProgress<MigrationProgress>? progress, CancellationToken cancellationToken)
    {
        var sourceColumns = await Sql.QueryAsync(source.Connection, source.Transaction, "SELECT name FROM pragma_table_info($1) ORDER BY cid", r => r.GetString(0), cancellationToken, table.Name);
        var missing = sourceColumns.Where(name => targetColumns.All(c => c.Name != name)).ToList();
        if (missing.Count > 0)
        {
            throw new MigrationRefusedException($"{table.Source}: the PostgreSQL table {table.Name} has no column {string.Join(", ", missing)}; they would be lost");
        }

        var columns = targetColumns.Where(c => sourceColumns.Contains(c.Name)).ToList();
        if (targetColumns.FirstOrDefault(c => c.Required && !sourceColumns.Contains(c.Name)) is { } unfilled)
        {
            throw new MigrationRefusedException($"{table.Source}: table {table.Name} has no column {unfilled.Name}, which PostgreSQL requires");
        }

        var total = await Sql.ScalarAsync(source.Connection, source.Transaction, $"SELECT COUNT(*) FROM {Quote(table.Name)}", cancellationToken);
        await using var command = Sql.Command(source.Connection, source.Transaction,
            $"SELECT {string.Join(", ", columns.Select(c => Quote(c.Name)))} FROM {Quote(table.Name)} ORDER BY {string.Join(", ", table.Key.Select(k => Quote(k) + " COLLATE BINARY"))}", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var (rows, digest) = await CopyAsync(table, columns, ReadRowsAsync(reader, table, columns, cancellationToken), total, connection, progress, cancellationToken);
        return (columns, rows, digest);
    }

    private static async Task<(IReadOnlyList<TargetColumn> Columns, long Rows, string Digest)> CopyKeysAsync(
        string directory, WorkflowTable table, IReadOnlyList<TargetColumn> targetColumns, NpgsqlConnection connection, IProgress<MigrationProgress>? progress, CancellationToken cancellationToken)
    {
        var columns = KeyColumns.Select(name => targetColumns.FirstOrDefault(c => c.Name == name)
            ?? throw new MigrationRefusedException($"the PostgreSQL table {table.Name} has no column {name}")).ToList();
        var (rows, digest) = await CopyAsync(table, columns, KeyRows(directory), -1, connection, progress, cancellationToken);
        return (columns, rows, digest);
    }

    private static async IAsyncEnumerable<object?[]> ReadRowsAsync(DbDataReader reader, WorkflowTable table, IReadOnlyList<TargetColumn> columns, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var number = 0L;
        while (await reader.ReadAsync(cancellationToken))
        {
            number++;
            var row = new object?[columns.Count];
            for (var i = 0; i < columns.Count; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : ValueFor(columns[i], reader.GetValue(i), table, number);
            }

            yield return row;
        }
    }

    /// <summary>
    /// The SQLite value as the PostgreSQL column's type, exactly or not at all: SQLite keeps any value in any column,
    /// and a value that would change on the way (a fraction in an integer column, say) stops the migration.
    /// </summary>
    private static object ValueFor(TargetColumn column, object value, WorkflowTable table, long rowNumber) => (column.DbType, value) switch
    {
        (NpgsqlDbType.Bigint, long l) => l,
        (NpgsqlDbType.Integer, long l) when l is >= int.MinValue and <= int.MaxValue => (int)l,
        (NpgsqlDbType.Double, double d) => d,
        (NpgsqlDbType.Double, long l) when (long)(double)l == l => (double)l,
        (NpgsqlDbType.Text, string s) => s,
        (NpgsqlDbType.Bytea, byte[] b) => b,
        _ => throw new MigrationRefusedException(string.Create(CultureInfo.InvariantCulture,
            $"{table.Source}: table {table.Name}, row {rowNumber} in the order of {string.Join(", ", table.Key)}, column {column.Name}: the value {Describe(value)} cannot be stored as {column.Type} without changing it")),
    };

    private static string Describe(object value) => value switch
    {
        byte[] bytes => $"of {bytes.Length} bytes",
        string text => $"'{(text.Length > 40 ? text[..40] + "…" : text)}'",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "?",
    };

    /// <summary>Streams the rows into the table with a binary COPY (in the open transaction), hashing them as they go.</summary>
    private static async Task<(long Rows, string Digest)> CopyAsync(
        WorkflowTable table, IReadOnlyList<TargetColumn> columns, IAsyncEnumerable<object?[]> rows, long total, NpgsqlConnection connection, IProgress<MigrationProgress>? progress, CancellationToken cancellationToken)
    {
        var stage = "copying " + table.Name;
        var digest = new RowDigest();
        await using (var importer = await connection.BeginBinaryImportAsync(
            $"COPY {Quote(table.Name)} ({string.Join(", ", columns.Select(c => Quote(c.Name)))}) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            await foreach (var row in rows.WithCancellation(cancellationToken))
            {
                await importer.StartRowAsync(cancellationToken);
                for (var i = 0; i < row.Length; i++)
                {
                    if (row[i] is null)
                    {
                        await importer.WriteNullAsync(cancellationToken);
                    }
                    else
                    {
                        await importer.WriteAsync(row[i], columns[i].DbType, cancellationToken);
                    }
                }

                digest.Add(row);
                if (digest.Rows % ProgressEvery == 0)
                {
                    progress?.Report(new MigrationProgress(stage, digest.Rows, Math.Max(total, digest.Rows)));
                }
            }

            await importer.CompleteAsync(cancellationToken);
        }

        progress?.Report(new MigrationProgress(stage, digest.Rows, digest.Rows));
        return (digest.Rows, digest.Finish());
    }

    /// <summary>The session-cookie keys of a single node, in the form the shared repository keeps them (one line of XML), by name.</summary>
    private static async IAsyncEnumerable<object?[]> KeyRows(string directory)
    {
        var folder = Path.Combine(directory, KeysSource);
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        // Sorted as PostgreSQL's "C" collation sorts: by the bytes of the UTF-8 names.
        var files = Directory.GetFiles(folder, "*.xml").OrderBy(f => Path.GetFileNameWithoutExtension(f), Comparer<string>.Create(CompareUtf8)).ToList();
        foreach (var file in files)
        {
            XElement element;
            try
            {
                await using var stream = File.OpenRead(file);
                element = await XElement.LoadAsync(stream, LoadOptions.None, CancellationToken.None);
            }
            catch (System.Xml.XmlException ex)
            {
                throw new MigrationRefusedException($"the session-cookie key {file} is not valid XML: {ex.Message}");
            }

            yield return [Path.GetFileNameWithoutExtension(file), element.ToString(SaveOptions.DisableFormatting)];
        }
    }

    private static int CompareUtf8(string a, string b) => Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    /// <summary>Count and digest of the table as PostgreSQL holds it, in the key order of the source (text by bytes).</summary>
    private static async Task<(long Rows, string Digest)> DigestTargetAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, WorkflowTable table, IReadOnlyList<TargetColumn> columns, CancellationToken cancellationToken)
    {
        var order = table.Key.Select(k => columns.First(c => c.Name == k).DbType == NpgsqlDbType.Text ? Quote(k) + " COLLATE \"C\"" : Quote(k));
        await using var command = Sql.Command(connection, transaction,
            $"SELECT {string.Join(", ", columns.Select(c => Quote(c.Name)))} FROM {Quote(table.Name)} ORDER BY {string.Join(", ", order)}", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var digest = new RowDigest();
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new object?[columns.Count];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            digest.Add(row);
        }

        return (digest.Rows, digest.Finish());
    }

    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// SHA-256 over rows: each value tagged by kind (null, integer, real, text, bytes) and length-prefixed, so two
    /// different tables cannot hash alike by shifting bytes between columns. Integers of either width hash alike.
    /// </summary>
    private sealed class RowDigest
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] number = new byte[9];

        public long Rows { get; private set; }

        public void Add(object?[] row)
        {
            foreach (var value in row)
            {
                switch (value)
                {
                    case null:
                        hash.AppendData([0]);
                        break;
                    case long or int:
                        number[0] = 1;
                        BinaryPrimitives.WriteInt64LittleEndian(number.AsSpan(1), Convert.ToInt64(value, CultureInfo.InvariantCulture));
                        hash.AppendData(number);
                        break;
                    case double d:
                        number[0] = 2;
                        BinaryPrimitives.WriteInt64LittleEndian(number.AsSpan(1), BitConverter.DoubleToInt64Bits(d));
                        hash.AppendData(number);
                        break;
                    case string s:
                        Append(3, Encoding.UTF8.GetBytes(s));
                        break;
                    case byte[] b:
                        Append(4, b);
                        break;
                    default:
                        throw new InvalidOperationException($"no digest for a value of type {value.GetType().Name}");
                }
            }

            Rows++;
        }

        public string Finish()
        {
            var result = Convert.ToHexStringLower(hash.GetHashAndReset());
            hash.Dispose();
            return result;
        }

        private void Append(byte tag, byte[] bytes)
        {
            number[0] = tag;
            BinaryPrimitives.WriteInt64LittleEndian(number.AsSpan(1), bytes.Length);
            hash.AppendData(number);
            hash.AppendData(bytes);
        }
    }

    /// <summary>One SQLite file of the data folder, read in a write transaction that keeps other writers out until the end.</summary>
    private sealed record SqliteSource(SqliteConnection Connection, SqliteTransaction Transaction);

    private sealed class SqliteSources : IAsyncDisposable
    {
        private SqliteSources(Dictionary<string, SqliteSource> files) => Files = files;

        public Dictionary<string, SqliteSource> Files { get; }

        public static async Task<SqliteSources> OpenAsync(string directory, IEnumerable<string> files, CancellationToken cancellationToken)
        {
            var sources = new SqliteSources(new Dictionary<string, SqliteSource>(StringComparer.Ordinal));
            try
            {
                foreach (var file in files)
                {
                    var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, file), Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
                    await connection.OpenAsync(cancellationToken);
                    try
                    {
                        // IMMEDIATE: the write lock now, so what is read is what the commands could not change since.
                        sources.Files[file] = new SqliteSource(connection, connection.BeginTransaction(deferred: false));
                    }
                    catch (SqliteException ex)
                    {
                        await connection.DisposeAsync();
                        throw new MigrationRefusedException($"{Path.Combine(directory, file)} is being written by another process ({ex.Message}): let it finish, then try again");
                    }
                }
            }
            catch
            {
                await sources.DisposeAsync();
                throw;
            }

            return sources;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var source in Files.Values)
            {
                await source.Transaction.DisposeAsync();
                await source.Connection.DisposeAsync();
            }
        }
    }
}
