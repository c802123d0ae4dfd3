using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Workflow;

/// <summary>Bound from the <c>Workflow</c> configuration section (<c>TELESUIVI_WORKFLOW__*</c>).</summary>
public sealed class WorkflowOptions
{
    public const string Section = "Workflow";

    /// <summary>
    /// An Npgsql connection string (<c>Host=db;Database=telesuivi;Username=telesuivi;Password=…</c>). Set: the alerts
    /// and their workflow, the users and API keys, the audit trail, the device registry (with the broker accounts) and
    /// the dead letters live in that PostgreSQL database, shared by every node. Not set: each in its SQLite file of the
    /// data folder (<c>alerts.db</c>, <c>security.db</c>, <c>audit.db</c>, <c>registry.db</c>, <c>deadletters.db</c>),
    /// which only the processes of one machine may share.
    /// </summary>
    public string? PostgreSql { get; set; }

    /// <summary>The environment variable the commands that open the data folder directly read, like <c>serve</c> does.</summary>
    public const string EnvironmentVariable = "TELESUIVI_WORKFLOW__POSTGRESQL";

    /// <summary>The setting as the commands see it (from <see cref="EnvironmentVariable"/>).</summary>
    public static WorkflowOptions FromEnvironment() => new() { PostgreSql = Environment.GetEnvironmentVariable(EnvironmentVariable) };
}

public enum WorkflowDialect
{
    Sqlite,
    PostgreSql,
}

/// <summary>
/// Where the nurses' workflow state lives: SQLite for one node, PostgreSQL when several nodes share it. The stores
/// run the same SQL on both (ADO.NET, <c>@name</c> parameters); this class holds only what the two engines do
/// differently: opening a connection, making writers wait for each other, and reclaiming erased rows.
/// </summary>
public abstract class WorkflowDatabase
{
    public abstract WorkflowDialect Dialect { get; }

    /// <summary>Where the data is, for messages (a file path, or host/database without the password).</summary>
    public abstract string Location { get; }

    /// <summary>The SQLite file of the alerts, their actions and the per-patient thresholds, without PostgreSQL.</summary>
    public const string AlertsFileName = "alerts.db";

    public static WorkflowDatabase Create(WorkflowOptions workflow, StoreOptions store) => Create(workflow, store.DataDirectory, AlertsFileName);

    /// <summary>
    /// The database of one store: PostgreSQL when <see cref="WorkflowOptions.PostgreSql"/> is set (every store in the
    /// same database, each in its own tables), else the SQLite file <paramref name="fileName"/> of the data folder.
    /// </summary>
    public static WorkflowDatabase Create(WorkflowOptions workflow, string dataDirectory, string fileName)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        return string.IsNullOrWhiteSpace(workflow.PostgreSql)
            ? new SqliteWorkflowDatabase(Path.Combine(Path.GetFullPath(dataDirectory), fileName))
            : new PostgresWorkflowDatabase(workflow.PostgreSql);
    }

    /// <summary>The database of one store, from the host's <c>Workflow</c> and <c>Store</c> options.</summary>
    public static WorkflowDatabase Create(IServiceProvider services, string fileName) => Create(
        services.GetRequiredService<IOptions<WorkflowOptions>>().Value, services.GetRequiredService<IOptions<StoreOptions>>().Value.DataDirectory, fileName);

    /// <summary>The engine's DDL: SQLite's and PostgreSQL's types differ, the SQL that uses the tables does not.</summary>
    public string Pick(string sqlite, string postgreSql) => Dialect == WorkflowDialect.PostgreSql ? postgreSql : sqlite;

    /// <summary>A unique key or primary key already held (SQLite constraint error 19, PostgreSQL 23505).</summary>
    public static bool IsUniqueViolation(DbException exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode == 19,
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a transaction in which the alerts are changed. Only one such transaction runs at a time over the whole
    /// database (SQLite: its single writer; PostgreSQL: an EXCLUSIVE lock on <paramref name="table"/>, which still lets
    /// readers read), so a guarded UPDATE sees every change committed before it, on any node, and board sequence
    /// numbers (<c>MAX(version) + 1</c>) are handed out in commit order.
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, string table, CancellationToken cancellationToken);

    /// <summary>A read-only transaction that sees one consistent state of the database for all its queries.</summary>
    public abstract Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Runs the schema's DDL once, even when several nodes start at the same moment.</summary>
    public abstract Task CreateSchemaAsync(string ddl, CancellationToken cancellationToken);

    /// <summary>Before an erasure: deleted content must not stay readable in free pages.</summary>
    public abstract Task PrepareEraseAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>After an erasure: rewrites <paramref name="tables"/> so no trace of the deleted rows stays on disk.</summary>
    public abstract Task ReclaimErasedAsync(DbConnection connection, IReadOnlyList<string> tables, CancellationToken cancellationToken);

    /// <summary>
    /// Commits a write transaction. The one place a write is committed, so that a test can make a commit that succeeded
    /// report a failure, as a PostgreSQL connection dropped just after COMMIT does.
    /// </summary>
    public virtual Task CommitAsync(DbTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        return transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Adds <paramref name="column"/> to <paramref name="table"/> when the table predates it (tables are created
    /// <c>IF NOT EXISTS</c>, so an older database keeps its old columns), then runs <paramref name="backfill"/> in the
    /// same transaction to give the existing rows a value. Safe when several nodes start at once. Returns whether it was added.
    /// </summary>
    public async Task<bool> AddColumnIfMissingAsync(string table, string column, string type, string? backfill, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, table, cancellationToken);
        await using (var exists = Command(connection, transaction, Pick(
            "SELECT COUNT(*) FROM pragma_table_info(@table) WHERE name = @column",
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = @table AND column_name = @column"),
            ("@table", table), ("@column", column)))
        {
            if (Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0)
            {
                return false;
            }
        }

        await ExecuteAsync(connection, transaction, $"ALTER TABLE {table} ADD COLUMN {column} {type}", cancellationToken);
        if (backfill is not null)
        {
            await ExecuteAsync(connection, transaction, backfill, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>A command with <c>@name</c> parameters, the same on both engines (null is sent as SQL NULL).</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(parameters);
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    protected static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

public sealed class SqliteWorkflowDatabase : WorkflowDatabase
{
    private readonly string connectionString;

    public SqliteWorkflowDatabase(string filePath)
    {
        Location = filePath;
        Directory.CreateDirectory(Path.GetDirectoryName(filePath)!);
        connectionString = new SqliteConnectionStringBuilder { DataSource = filePath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
    }

    public override WorkflowDialect Dialect => WorkflowDialect.Sqlite;

    public override string Location { get; }

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, string table, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken);

    // Deferred: a read takes no write lock, and in WAL mode sees the state of its first read until it ends.
    public override Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    public override async Task CreateSchemaAsync(string ddl, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;\n" + ddl, cancellationToken);
    }

    public override Task PrepareEraseAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, "PRAGMA secure_delete = ON", cancellationToken);

    public override Task ReclaimErasedAsync(DbConnection connection, IReadOnlyList<string> tables, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken);
}

public sealed class PostgresWorkflowDatabase : WorkflowDatabase, IAsyncDisposable
{
    // Any fixed number: the advisory lock that makes concurrent schema creation by several nodes wait for each other.
    private const long SchemaLock = 0x7e1e_5017;

    private readonly NpgsqlDataSource dataSource;

    public PostgresWorkflowDatabase(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new ConfigurationException($"Workflow:PostgreSql is not a valid PostgreSQL connection string: {ex.Message}", ex);
        }

        Location = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
        dataSource = NpgsqlDataSource.Create(builder);
    }

    public override WorkflowDialect Dialect => WorkflowDialect.PostgreSql;

    public override string Location { get; }

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, string table, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, $"LOCK TABLE {table} IN EXCLUSIVE MODE", cancellationToken);
        return transaction;
    }

    public override async Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
    }

    public override async Task CreateSchemaAsync(string ddl, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({SchemaLock})", cancellationToken);
            await ExecuteAsync(connection, transaction, ddl, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new ConfigurationException($"cannot prepare the workflow tables in {Location}: {ex.Message}", ex);
        }
    }

    // Nothing to set: VACUUM FULL below writes the tables anew, without the deleted rows.
    public override Task PrepareEraseAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public override Task ReclaimErasedAsync(DbConnection connection, IReadOnlyList<string> tables, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, "VACUUM FULL " + string.Join(", ", tables), cancellationToken);

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();
}


/// <summary>
/// Commands with positional parameters <c>$1</c>, <c>$2</c>… that run unchanged on both engines (SQLite names its
/// parameters <c>$1</c>; PostgreSQL binds unnamed parameters to <c>$1</c> in order). Null is sent as SQL NULL.
/// </summary>
internal static class Sql
{
    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = Command(connection, transaction, sql, values);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<long> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = Command(connection, transaction, sql, values);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, CultureInfo.InvariantCulture);
    }

    public static async Task<List<T>> QueryAsync<T>(DbConnection connection, DbTransaction? transaction, string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = Command(connection, transaction, sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary><c>$first, $first+1, …</c> for an <c>IN (…)</c> of <paramref name="count"/> values.</summary>
    public static string Placeholders(int first, int count) =>
        string.Join(", ", Enumerable.Range(first, count).Select(i => "$" + i.ToString(CultureInfo.InvariantCulture)));

    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, object?[] values)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        var named = connection is SqliteConnection;
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = command.CreateParameter();
            if (named)
            {
                parameter.ParameterName = "$" + (i + 1).ToString(CultureInfo.InvariantCulture);
            }

            parameter.Value = values[i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
