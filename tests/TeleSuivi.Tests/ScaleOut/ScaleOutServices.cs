using Npgsql;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// A private redis-server and a private PostgreSQL (initdb into a temporary folder; as the <c>postgres</c> account
/// when the tests run as root, since initdb refuses root), started with infra/services/ once for the tests of the
/// <see cref="ScaleOutGroup"/> and stopped after them. Tests isolate their data by database.
/// </summary>
public sealed class ScaleOutServices : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("telesuivi-scaleout-").FullName;

    /// <summary><c>127.0.0.1:PORT</c>, the value for <c>Redis:Configuration</c>.</summary>
    public string RedisConfiguration { get; private set; } = null!;

    /// <summary>An Npgsql connection string to the cluster's <c>postgres</c> database, as the superuser <c>telesuivi</c>.</summary>
    public string PostgresConnection { get; private set; } = null!;

    private string RedisDirectory => Path.Combine(root, "redis");

    private string PostgresDirectory => Path.Combine(root, "postgres");

    public async ValueTask InitializeAsync()
    {
        var redis = ShellScript.RunAsync("services/start-redis.sh", RedisDirectory);
        var postgres = ShellScript.RunAsync("services/start-postgres.sh", PostgresDirectory);
        RedisConfiguration = ShellScript.Value(await redis, "REDIS_CONFIGURATION");
        PostgresConnection = ShellScript.Value(await postgres, "POSTGRES_CONNECTION");
    }

    /// <summary>Creates an empty database and returns its connection string (<c>Workflow:PostgreSql</c>).</summary>
    public async Task<string> NewDatabaseAsync(string prefix = "t")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(PostgresConnection))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(PostgresConnection) { Database = name }.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        // PostgreSQL's SIGTERM (stop.sh) waits for every session to end: the pooled idle ones too.
        NpgsqlConnection.ClearAllPools();
        await ShellScript.RunAsync("services/stop.sh", RedisDirectory);
        await ShellScript.RunAsync("services/stop.sh", PostgresDirectory);
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a server being torn down; the OS cleans /tmp.
        }
        catch (UnauthorizedAccessException)
        {
            // The cluster's files belong to the postgres account when the tests run as root; the OS cleans /tmp.
        }
    }
}

/// <summary>The tests that share <see cref="ScaleOutServices"/> (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class ScaleOutGroup : ICollectionFixture<ScaleOutServices>
{
    public const string Name = "Scale-out services";
}

/// <summary>The alert workflow contract on PostgreSQL, the store several nodes share.</summary>
[Collection(ScaleOutGroup.Name)]
public sealed class PostgreSqlAlertWorkflowTests(ScaleOutServices services) : Alerts.AlertWorkflowContract
{
    protected override async Task<Alerts.AlertTestBed> NewBedAsync(Func<Server.Workflow.WorkflowDatabase, Server.Workflow.WorkflowDatabase>? wrap = null) =>
        await Alerts.AlertTestBed.CreateAsync(new Server.Workflow.PostgresWorkflowDatabase(await services.NewDatabaseAsync("alerts")), wrap);
}
