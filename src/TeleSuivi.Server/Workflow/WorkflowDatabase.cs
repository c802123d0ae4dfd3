using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Workflow;

/// <summary>Bound from the <c>Workflow</c> configuration section (<c>TELESUIVI_WORKFLOW__*</c>).</summary>
public sealed class WorkflowOptions
{
    public const string Section = "Workflow";

    /// <summary>
    /// An Npgsql connection string (<c>Host=db;Database=telesuivi;Username=telesuivi;Password=…</c>). Set: the alerts
    /// and their workflow live in that PostgreSQL database, shared by every node. Not set: in <c>{data}/alerts.db</c>
    /// (SQLite), which only one process may use.
    /// </summary>
    public string? PostgreSql { get; set; }
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

    public static WorkflowDatabase Create(WorkflowOptions workflow, StoreOptions store)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(store);
        return string.IsNullOrWhiteSpace(workflow.PostgreSql)
            ? new SqliteWorkflowDatabase(Path.Combine(Path.GetFullPath(store.DataDirectory), "alerts.db"))
            : new PostgresWorkflowDatabase(workflow.PostgreSql);
    }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a transaction in which the alerts are changed. Only one such transaction runs at a time over the whole
    /// database (SQLite: its single writer; PostgreSQL: an EXCLUSIVE lock on <paramref name="table"/>, which still lets
    /// readers read), so a guarded UPDATE sees every change committed before it, on any node, and board sequence
    /// numbers (<c>MAX(version) + 1</c>) are handed out in commit order.
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, string table, CancellationToken cancellationToken);

    /// <summary>Runs the schema's DDL once, even when several nodes start at the same moment.</summary>
    public abstract Task CreateSchemaAsync(string ddl, CancellationToken cancellationToken);

    /// <summary>Before an erasure: deleted content must not stay readable in free pages.</summary>
    public abstract Task PrepareEraseAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>After an erasure: rewrites <paramref name="tables"/> so no trace of the deleted rows stays on disk.</summary>
    public abstract Task ReclaimErasedAsync(DbConnection connection, IReadOnlyList<string> tables, CancellationToken cancellationToken);

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
