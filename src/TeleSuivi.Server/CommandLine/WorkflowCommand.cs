using System.CommandLine;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// <c>telesuivi workflow migrate --to CONNECTION</c>: carries a single node's workflow state (alerts, users, audit
/// trail, registry, dead letters, risk assessments, session keys) from its data folder into an empty PostgreSQL
/// database, the step from one node to several.
/// </summary>
public static class WorkflowCommand
{
    /// <summary>Exit code when PostgreSQL did not hold what was read after the copy: rolled back.</summary>
    public const int Mismatch = 4;

    public static Command Create()
    {
        var data = LocalDataCommands.DataOption();
        var to = new Option<string>("--to")
        {
            Description = "Npgsql connection string of the empty PostgreSQL database the nodes will share (Host=…;Database=…;Username=…;Password=…), the value TELESUIVI_WORKFLOW__POSTGRESQL will then have",
            Required = true,
            HelpName = "CONNECTION",
        };
        var migrate = new Command(
            "migrate",
            "Copy the workflow state of the data folder into an empty PostgreSQL database, in one transaction, verified table by table (row counts and SHA-256 of the content); run it with the server stopped.")
        {
            to,
        };
        migrate.SetAction((parse, cancellationToken) => MigrateAsync(parse.GetValue(data)!, parse.GetValue(to)!, cancellationToken));
        return new Command("workflow", "The nurses' workflow state: alerts, users, audit trail, registry and dead letters (SQLite on one node, PostgreSQL for several).") { data, migrate };
    }

    private static async Task<int> MigrateAsync(string dataDirectory, string connection, CancellationToken cancellationToken)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connection);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"error: --to is not a valid PostgreSQL connection string: {ex.Message}");
            return ExitCodes.Usage;
        }

        var bar = new ConsoleProgress();
        var progress = new ImmediateProgress<MigrationProgress>(p => bar.Report(p.Stage, (int)Math.Min(p.Done, int.MaxValue), (int)Math.Min(p.Total, int.MaxValue), p.Stage == "verifying" ? "tables" : "rows"));
        MigrationReport report;
        try
        {
            report = await new WorkflowMigration(dataDirectory, connection, TimeProvider.System).RunAsync(progress, cancellationToken);
        }
        catch (MigrationRefusedException ex)
        {
            bar.Finish();
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        catch (ConfigurationException ex)
        {
            bar.Finish();
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return ExitCodes.StartFailed;
        }
        catch (MigrationCleanupException ex)
        {
            bar.Finish();
            await Console.Error.WriteLineAsync($"error: the migration stopped: {ex.Message}");
            return 1;
        }
        catch (Exception ex) when (ex is NpgsqlException or SqliteException or IOException)
        {
            bar.Finish();
            // PostgreSQL keeps nothing of a transaction that did not commit. A connection lost during the COMMIT itself
            // leaves it unknown whether it did: a second run tells, as it refuses a database that holds the data.
            await Console.Error.WriteLineAsync($"error: the migration stopped: {ex.Message} (nothing of it was kept: the copy was rolled back and the tables it had created dropped; run it again once the cause is fixed)");
            return 1;
        }

        bar.Finish();
        Print(report);
        if (!report.Committed)
        {
            await Console.Error.WriteLineAsync($"error: {report.Problem}");
            return Mismatch;
        }

        if (report.SourceEntryProblem is { } problem)
        {
            await Console.Error.WriteLineAsync($"warning: {problem}");
        }

        return ExitCodes.Success;
    }

    private static void Print(MigrationReport report)
    {
        var invariant = CultureInfo.InvariantCulture;
        Console.WriteLine($"{(report.Committed ? "Migrated" : "Not migrated (rolled back)")}: {report.DataDirectory} -> {report.Target}");
        Console.WriteLine($"  {"table",-20} {"from",-15} {"SQLite rows",11} {"PostgreSQL rows",15}  {"SQLite SHA-256",-16}  {"PostgreSQL SHA-256",-18}  ");
        foreach (var t in report.Tables)
        {
            Console.WriteLine(string.Create(invariant,
                $"  {t.Table,-20} {t.Source,-15} {t.SourceRows,11:N0} {t.TargetRows,15:N0}  {t.SourceDigest[..16],-16}  {t.TargetDigest[..16],-18}  {(t.Matches ? "same" : "DIFFERENT")}"));
        }

        if (report.TargetEntry is { } entry && report.TargetAudit is { } chain)
        {
            Console.WriteLine(string.Create(invariant,
                $"Audit trail on PostgreSQL: intact, {chain.Rows:N0} row(s): the {chain.Rows - 1:N0} copied and this migration's own entry #{entry.Seq}; hash of the last row {chain.HeadHash}."));
            Console.WriteLine("Now start every node with TELESUIVI_WORKFLOW__POSTGRESQL set to this connection; keep the data folder as the record of before.");
        }
    }
}
