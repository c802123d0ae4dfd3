using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Alerts;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// <c>telesuivi workflow migrate</c>: a single node's data folder, filled through the platform's own stores, copied
/// into a database of the private PostgreSQL and read back through the PostgreSQL stores; and what it refuses.
/// </summary>
[Collection(ScaleOutGroup.Name)]
public sealed class WorkflowMigrationTests(ScaleOutServices services)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrate_SingleNodeFolder_PostgreSqlStoresReadEverythingBackEqual()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate");

        var (exit, output, error) = await MigrateAsync(node.DataDirectory, database);

        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        foreach (var table in WorkflowMigration.Tables)
        {
            Assert.Matches($@"\n  {table.Name} +{Regex(table.Source)} .* same", output);
        }

        await using var target = new PostgresWorkflowDatabase(database);
        await node.AssertSameAsync(target);

        // The chain goes on in PostgreSQL with the migration's own entry, and the folder's trail says where it went.
        using var audit = new AuditLog(target, TimeProvider.System);
        var chain = await audit.VerifyAsync(null, Ct);
        Assert.True(chain.Intact, chain.Problem);
        Assert.Equal(node.AuditRows + 1, chain.Rows);
        var migration = (await audit.ListAsync(new AuditQuery(AfterSeq: node.AuditRows), Ct)).Single();
        Assert.Equal("workflow.migrate", migration.Entry.Action);
        Assert.Equal("workflow", migration.Entry.Resource);
        Assert.Contains($"copied from {node.DataDirectory} to {target.Location}: alert 4 row(s)", migration.Entry.Detail, StringComparison.Ordinal);
        Assert.Contains(chain.HeadHash, output, StringComparison.Ordinal);
        using var folderAudit = new AuditLog(node.DataDirectory, TimeProvider.System);
        var folderChain = await folderAudit.VerifyAsync(null, Ct);
        Assert.True(folderChain.Intact, folderChain.Problem);
        Assert.Equal("workflow.migrate", (await folderAudit.ListAsync(new AuditQuery(AfterSeq: node.AuditRows), Ct)).Single().Entry.Action);

        // New alerts continue after every id the node handed out, the erased patient's too; and, the registry being
        // shared now, none is raised for a patient it does not hold (erased, or never registered).
        using var alerts = new AlertStore(target);
        Assert.Null(await alerts.RaiseAsync(AlertTestBed.Draft("p-new"), node.Clock.GetUtcNow(), Ct));
        var next = await alerts.RaiseAsync(AlertTestBed.Draft("p-2", AlertSeverity.Warning, AlertKinds.VitalLimit, "spo2"), node.Clock.GetUtcNow(), Ct);
        Assert.Equal(node.HighestAlertId + 1, next!.Id);
    }

    [Fact]
    public async Task Migrate_DatabaseThatAlreadyHoldsWorkflowData_RefusesAndWritesNothing()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_full");
        await using var target = new PostgresWorkflowDatabase(database);
        var accounts = new AccountStore(target);
        await accounts.InitializeAsync(Ct);
        await accounts.AddUserAsync("admin", Roles.Admin, [], "started-on-postgresql", node.Clock.GetUtcNow(), Ct);
        var before = await CountRowsAsync(database);

        var (exit, output, error) = await MigrateAsync(node.DataDirectory, database);

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("already holds workflow data: user (1 row(s)); nothing was written", error, StringComparison.Ordinal);
        Assert.Equal(before, await CountRowsAsync(database));
        Assert.Equal(["admin"], (await accounts.ListUsersAsync(Ct)).Select(u => u.Name));
    }

    [Fact]
    public async Task Migrate_WhileServeRunsOnTheFolder_RefusesAndWritesNothing()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_busy");
        await using var server = TeleSuiviProcess.Start("serve", dataDirectory: node.DataDirectory);
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));

        var (exit, output, error) = await MigrateAsync(node.DataDirectory, database);

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("cannot migrate: another TeleSuivi process (serve, demo or patients erase) is using the data folder", error, StringComparison.Ordinal);
        Assert.Contains("stop the platform on this folder first", error, StringComparison.Ordinal);
        Assert.Empty(await CountRowsAsync(database));
    }

    [Fact]
    public async Task Migrate_FolderWithoutWorkflowState_RefusesAndCreatesNothing()
    {
        var empty = Directory.CreateTempSubdirectory("telesuivi-not-data-").FullName;
        try
        {
            var database = await services.NewDatabaseAsync("migrate_nothing");

            var (exit, output, error) = await MigrateAsync(empty, database);

            Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
            Assert.Contains($"{empty} holds no workflow state (none of alerts.db, risk.db, security.db, audit.db, registry.db, deadletters.db)", error, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(empty));
            Assert.Empty(await CountRowsAsync(database));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public async Task RunAsync_CopyDiffersFromTheFolder_RollsBackAndWritesNothing()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_differs");
        var migration = new WorkflowMigration(node.DataDirectory, database, node.Clock)
        {
            // What a faulty copy would do: one claim lost on the way.
            BeforeVerify = async (connection, transaction, ct) =>
            {
                await using var command = new NpgsqlCommand("UPDATE alert SET claimed_by = NULL WHERE claimed_by IS NOT NULL", connection, transaction);
                Assert.Equal(1, await command.ExecuteNonQueryAsync(ct));
            },
        };

        var report = await migration.RunAsync(null, Ct);

        Assert.False(report.Committed);
        Assert.Equal(["alert"], report.Tables.Where(t => !t.Matches).Select(t => t.Table));
        var alert = report.Tables.Single(t => t.Table == "alert");
        Assert.Equal(alert.SourceRows, alert.TargetRows);
        Assert.NotEqual(alert.SourceDigest, alert.TargetDigest);
        Assert.Contains("in: alert; rolled back", report.Problem, StringComparison.Ordinal);
        Assert.Contains("the tables this run had created were dropped", report.Problem, StringComparison.Ordinal);
        Assert.Empty(await SchemaObjectsAsync(database));
        using var folderAudit = new AuditLog(node.DataDirectory, TimeProvider.System);
        Assert.Equal(node.AuditRows, await folderAudit.CountAsync(Ct));
    }

    /// <summary>
    /// A value PostgreSQL cannot store unchanged, in the last SQLite table copied: the first tables are copied, the
    /// schema of every store was created before the copy began. A later run must not find empty tables to accept.
    /// </summary>
    [Fact]
    public async Task Migrate_RefusedMidCopy_LeavesTheDatabaseAsItFoundIt()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_midcopy");
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(node.DataDirectory, DeadLetterStore.FileName)};Pooling=false"))
        {
            await connection.OpenAsync(Ct);
            await using var corrupt = connection.CreateCommand();
            corrupt.CommandText = "UPDATE dead_letter SET attempts = 1.5 WHERE id = (SELECT MIN(id) FROM dead_letter)";
            Assert.Equal(1, await corrupt.ExecuteNonQueryAsync(Ct));
        }

        var (exit, output, error) = await MigrateAsync(node.DataDirectory, database);

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("table dead_letter, row 1 in the order of id, column attempts: the value 1.5 cannot be stored as integer", error, StringComparison.Ordinal);
        Assert.Empty(await SchemaObjectsAsync(database));
    }

    /// <summary>The run's PostgreSQL session dies before the comparison: the tables are dropped on a session of its own.</summary>
    [Fact]
    public async Task RunAsync_SessionKilledMidCopy_LeavesTheDatabaseAsItFoundIt()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_killed");
        var migration = new WorkflowMigration(node.DataDirectory, database, node.Clock)
        {
            BeforeVerify = async (connection, transaction, ct) =>
            {
                await using var command = new NpgsqlCommand("SELECT pg_terminate_backend(pg_backend_pid())", connection, transaction);
                await command.ExecuteNonQueryAsync(ct);
            },
        };

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => migration.RunAsync(null, Ct));

        Assert.Empty(await SchemaObjectsAsync(database));
        var report = await new WorkflowMigration(node.DataDirectory, database, node.Clock).RunAsync(null, Ct);
        Assert.True(report.Committed, report.Problem);
    }

    [Fact]
    public async Task Migrate_FolderWhoseAuditTrailWasEdited_Refuses()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_tampered");
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(node.DataDirectory, AuditLog.FileName)};Pooling=false"))
        {
            await connection.OpenAsync(Ct);
            await using var tamper = connection.CreateCommand();
            tamper.CommandText = "DROP TRIGGER audit_no_update; UPDATE audit SET outcome = '403' WHERE seq = 2";
            await tamper.ExecuteNonQueryAsync(Ct);
        }

        var (exit, output, error) = await MigrateAsync(node.DataDirectory, database);

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("the audit trail of the data folder is broken at row 2: row 2 was edited", error, StringComparison.Ordinal);
        Assert.Empty(await CountRowsAsync(database));
    }

    [Fact]
    public async Task Tables_EveryTableTheStoresCreate_IsMigrated()
    {
        await using var node = await SingleNode.FillAsync();
        var database = await services.NewDatabaseAsync("migrate_tables");
        var report = await new WorkflowMigration(node.DataDirectory, database, node.Clock).RunAsync(null, Ct);
        Assert.True(report.Committed, report.Problem);

        foreach (var file in Directory.GetFiles(node.DataDirectory, "*.db").Where(f => Path.GetFileName(f) != "telesuivi.db"))
        {
            var listed = WorkflowMigration.Tables.Where(t => t.Source == Path.GetFileName(file)).Select(t => t.Name).Order(StringComparer.Ordinal);
            Assert.Equal(listed, await SqliteTablesAsync(file));
        }

        // Every table the PostgreSQL stores create was filled from the folder: none is left for the nodes to fill anew.
        Assert.Equal(WorkflowMigration.Tables.Select(t => t.Name).Order(StringComparer.Ordinal), (await CountRowsAsync(database)).Keys.Order(StringComparer.Ordinal));
        Assert.All(await CountRowsAsync(database), t => Assert.True(t.Value > 0, $"{t.Key} is empty: the test's folder should hold rows in every table"));
    }

    private static Task<(int ExitCode, string Output, string Error)> MigrateAsync(string dataDirectory, string database) =>
        TeleSuiviProcess.RunToExitAsync(CommandTimeout, "workflow", "migrate", "--data", dataDirectory, "--to", database);

    private static string Regex(string text) => System.Text.RegularExpressions.Regex.Escape(text);

    /// <summary>Rows of every table of the database's schema.</summary>
    private static async Task<Dictionary<string, long>> CountRowsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()", connection))
        await using (var reader = await list.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                tables.Add(reader.GetString(0));
            }
        }

        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            await using var count = new NpgsqlCommand($"SELECT COUNT(*) FROM \"{table}\"", connection);
            counts[table] = (long)(await count.ExecuteScalarAsync(Ct))!;
        }

        return counts;
    }

    /// <summary>Every relation (table, index, sequence, view) and function in the database's schema, as kind and name.</summary>
    private static async Task<List<string>> SchemaObjectsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("""
            SELECT relkind::text || ' ' || relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace
            UNION ALL SELECT 'function ' || oid::regprocedure::text FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
            """, connection);
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static async Task<List<string>> SqliteTablesAsync(string file)
    {
        await using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=false");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name";
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    /// <summary>
    /// A single node's data folder with something in every table, written through the stores the server uses: alerts
    /// raised, claimed, escalated, resolved with an outcome, one patient erased; thresholds; users (one locked out after
    /// failed sign-ins, one disabled) and API keys (one revoked); the audit trail; the registry with broker accounts;
    /// dead letters (one replayed); risk assessments; a session-cookie key that protected a payload.
    /// </summary>
    private sealed class SingleNode : IAsyncDisposable
    {
        private const string NursePassword = "nurse-password-1234";
        private const string Protected = "a signed-in nurse's session";
        private readonly AlertTestBed bed;
        private string apiKeySecret = string.Empty;
        private string protectedPayload = string.Empty;

        private SingleNode(AlertTestBed bed) => this.bed = bed;

        public string DataDirectory => bed.DataDirectory;

        public ManualClock Clock => bed.Clock;

        public long AuditRows { get; private set; }

        public long HighestAlertId { get; private set; }

        public static async Task<SingleNode> FillAsync()
        {
            var node = new SingleNode(await AlertTestBed.CreateAsync());
            try
            {
                await node.FillAlertsAsync();
                await node.FillRegistryAsync();
                await node.FillAccountsAsync();
                await node.FillRestAsync();
            }
            catch
            {
                await node.DisposeAsync();
                throw;
            }

            // The stores' pooled connections would keep the files open: the migration must find them closed, as after a stop.
            SqliteConnection.ClearAllPools();
            return node;
        }

        private async Task FillAlertsAsync()
        {
            var resolved = await bed.RaiseAsync(AlertTestBed.Draft("p-1"));
            Assert.True((await bed.Workflow.ClaimAsync(resolved.Id, "nurse-north", Ct)).Succeeded);
            Assert.True((await bed.Workflow.AddNoteAsync(resolved.Id, "nurse-north", "rappelée, va mieux — SpO2 93 %", Ct)).Succeeded);
            bed.Clock.Advance(TimeSpan.FromMinutes(7));
            Assert.True((await bed.Workflow.ResolveAsync(resolved.Id, "nurse-north", AlertOutcomes.ManagedAtHome, "oxygen raised", Ct)).Succeeded);

            var claimed = await bed.RaiseAsync(AlertTestBed.Draft("p-2", AlertSeverity.Warning, AlertKinds.VitalLimit, "heart-rate"));
            Assert.True((await bed.Workflow.ClaimAsync(claimed.Id, "nurse-south", Ct)).Succeeded);
            bed.Clock.Advance(TimeSpan.FromMinutes(1));
            Assert.True((await bed.Workflow.EscalateAsync(claimed.Id, "nurse-south", "dr-house", "no answer", Ct)).Succeeded);

            var ended = await bed.RaiseAsync(AlertTestBed.Draft("p-3"));
            await bed.Store.EndConditionAsync(ended.Key, new LocalizedText("back to normal", "revenu à la normale"), bed.Clock.GetUtcNow(), Ct);
            await bed.RaiseAsync(AlertTestBed.Draft("p-4", AlertSeverity.Warning));

            // The last id handed out belongs to a patient erased since: no alert of the table holds it any more.
            var erased = await bed.RaiseAsync(AlertTestBed.Draft("p-erased"));
            HighestAlertId = erased.Id;
            Assert.Equal(1, await bed.Store.ErasePatientAsync("p-erased", Ct));

            await bed.Store.SetThresholdAsync(new PatientThreshold("p-1", "spo2", new VitalLimits(85, 88, null, null), "dr-house", bed.Clock.GetUtcNow(), "COPD, lives at 88 %"), Ct);
            await bed.Store.SetThresholdAsync(new PatientThreshold("p-2", "heart-rate", new VitalLimits(35, 40, 120, 140), "dr-house", bed.Clock.GetUtcNow(), null), Ct);
        }

        private async Task FillRegistryAsync()
        {
            var now = bed.Clock.GetUtcNow();
            await bed.Registry.ApplyAsync(new RegistryChanges(
                [new RegisteredPatient("p-1", "75011", """{"resourceType":"Patient","id":"p-1","name":[{"family":"Lefèvre"}]}""") { Teams = ["north"] },
                 new RegisteredPatient("p-2", null, """{"resourceType":"Patient","id":"p-2"}""")],
                [new RegisteredDevice("d-1", ["SN-1", "MAC-1"], """{"resourceType":"Device","id":"d-1"}"""), new RegisteredDevice("d-2", [], """{"resourceType":"Device","id":"d-2"}""")],
                [new Assignment("d-1", "p-1", now.AddDays(-30), now.AddDays(-1), "DeviceUseStatement/d-1-a"), new Assignment("d-1", "p-2", now.AddDays(-1), null, "DeviceUseStatement/d-1-b")]), Ct);
            await bed.Registry.SaveCredentialsAsync([new BrokerCredential("dev-d-1", BrokerAccountKind.Device, "d-1", "pbkdf2$hash-of-the-secret", now)], Ct);
        }

        private async Task FillAccountsAsync()
        {
            var accounts = new AccountStore(DataDirectory);
            await accounts.InitializeAsync(Ct);
            var now = bed.Clock.GetUtcNow();
            await accounts.AddUserAsync("nurse-north", Roles.Nurse, ["north"], NursePassword, now, Ct);
            await accounts.AddUserAsync("Dr.House", Roles.Physician, ["north", "south"], "physician-password-1234", now, Ct);
            await accounts.AddUserAsync("gone", Roles.Nurse, ["south"], "gone-password-12345", now, Ct);
            await accounts.SetDisabledAsync("gone", true, Ct);
            for (var i = 0; i < 5; i++)
            {
                await accounts.CheckPasswordAsync("Dr.House", "wrong password!", 5, TimeSpan.FromMinutes(15), now, Ct);
            }

            var (_, secret) = await accounts.CreateApiKeyAsync("ehr", Roles.Admin, [], now, Ct);
            apiKeySecret = secret;
            var (revoked, _) = await accounts.CreateApiKeyAsync("old-ehr", Roles.Admin, [], now, Ct);
            await accounts.RevokeApiKeyAsync(revoked.Id, now.AddMinutes(1), Ct);
            await accounts.AuthenticateApiKeyAsync(secret, now.AddMinutes(2), Ct);

            using var audit = new AuditLog(DataDirectory, bed.Clock);
            await audit.InitializeAsync(Ct);
            await audit.AppendAsync(new AuditEntry("system", "-", "user.add", null, "user/nurse-north", "ok", "start", "role nurse, teams [north]"), Ct);
            await audit.AppendAsync(new AuditEntry("nurse-north", Roles.Nurse, "alert.claim", "p-1", "alert/1", "200", "127.0.0.1"), Ct);
            await audit.AppendAsync(
                [new AuditEntry("nurse-north", Roles.Nurse, "patient.read", "p-1", "Patient/p-1", "200", "::1", "é ü 漢字"), new AuditEntry("Dr.House", "-", "login", null, null, "locked", "10.0.0.2")], Ct);
            AuditRows = await audit.CountAsync(Ct);
        }

        private async Task FillRestAsync()
        {
            var now = bed.Clock.GetUtcNow();
            var letters = new DeadLetterStore(Microsoft.Extensions.Options.Options.Create(new Server.Storage.StoreOptions { DataDirectory = DataDirectory }));
            await letters.InitializeAsync(Ct);
            await letters.AddAsync(
                [new Rejection("telesuivi/v1/devices/withings/d-9", [0x7b, 0x00, 0xff, 0x7d], now, RejectionCodes.UnknownDevice, "unknown device d-9"),
                 new Rejection("telesuivi/v1/devices/gatt/d-1/2a35", Encoding.UTF8.GetBytes("not gatt"), now.AddSeconds(1), RejectionCodes.UnknownDevice, "unknown device")], Ct);
            var first = (await letters.ListAsync(new DeadLetterQuery(), Ct))[0];
            await letters.RecordReplayAsync([first.Id], [], now.AddMinutes(3), Ct);

            var risks = new RiskAssessmentStore(WorkflowDatabase.Create(new WorkflowOptions(), DataDirectory, RiskAssessmentStore.FileName));
            await risks.InitializeAsync(Ct);
            await risks.SaveAllAsync(
                [new StoredRiskAssessment("ra-1", "p-1", now.ToUnixTimeMilliseconds(), 0.1234567890123, """{"resourceType":"RiskAssessment","id":"ra-1"}"""),
                 new StoredRiskAssessment("ra-2", "p-1", now.AddHours(1).ToUnixTimeMilliseconds(), 0.5, """{"resourceType":"RiskAssessment","id":"ra-2"}""")], Ct);

            // The cookie keys, as serve keeps them on one node; a payload protected here must be readable by the nodes after.
            protectedPayload = KeyRing(services => services.PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(DataDirectory, "keys")))).Protect(Protected);
        }

        /// <summary>Reads every store back from PostgreSQL and from the folder, and compares.</summary>
        public async Task AssertSameAsync(PostgresWorkflowDatabase target)
        {
            var folder = (Alerts: new AlertStore(WorkflowDatabase.Create(new WorkflowOptions(), DataDirectory, WorkflowDatabase.AlertsFileName)), Accounts: new AccountStore(DataDirectory));
            using var alerts = new AlertStore(target);
            var everything = new AlertQuery { IncludeClosed = true };
            AssertJsonEqual(await folder.Alerts.ListAsync(everything, Ct), await alerts.ListAsync(everything, Ct), 4);
            var actions = await folder.Alerts.ActionsAsync(null, null, null, null, Ct);
            AssertJsonEqual(actions, await alerts.ActionsAsync(null, null, null, null, Ct), actions.Count);
            Assert.Contains(actions, a => a.Action == AlertActions.Resolved);
            AssertJsonEqual(await folder.Alerts.ThresholdsAsync(null, Ct), await alerts.ThresholdsAsync(null, Ct), 2);
            Assert.Equal(await folder.Alerts.CurrentVersionAsync(Ct), await alerts.CurrentVersionAsync(Ct));
            Assert.Equal("nurse-south", (await alerts.ListAsync(everything, Ct)).Single(a => a.PatientId == "p-2").ClaimedBy);
            folder.Alerts.Dispose();

            var accounts = new AccountStore(target);
            AssertJsonEqual(await folder.Accounts.ListUsersAsync(Ct), await accounts.ListUsersAsync(Ct), 3);
            AssertJsonEqual(await folder.Accounts.ListApiKeysAsync(Ct), await accounts.ListApiKeysAsync(Ct), 2);
            Assert.Equal(LoginOutcome.Succeeded, (await accounts.CheckPasswordAsync("NURSE-NORTH", NursePassword, 5, TimeSpan.FromMinutes(15), Clock.GetUtcNow(), Ct)).Outcome);
            Assert.Equal(LoginOutcome.LockedOut, (await accounts.CheckPasswordAsync("dr.house", "physician-password-1234", 5, TimeSpan.FromMinutes(15), Clock.GetUtcNow(), Ct)).Outcome);
            Assert.Equal("ehr", (await accounts.AuthenticateApiKeyAsync(apiKeySecret, Clock.GetUtcNow(), Ct))?.Name);

            using var folderAudit = new AuditLog(DataDirectory, TimeProvider.System);
            using var audit = new AuditLog(target, TimeProvider.System);
            var all = new AuditQuery(Limit: 1000);
            AssertJsonEqual((await folderAudit.ListAsync(all, Ct)).Take((int)AuditRows), (await audit.ListAsync(all, Ct)).Take((int)AuditRows), (int)AuditRows);

            using var folderRegistry = new DeviceRegistry(WorkflowDatabase.Create(new WorkflowOptions(), DataDirectory, DeviceRegistry.FileName));
            using var registry = new DeviceRegistry(target);
            await folderRegistry.InitializeAsync(Ct);
            await registry.InitializeAsync(Ct);
            AssertJsonEqual(folderRegistry.Patients.OrderBy(p => p.Id, StringComparer.Ordinal), registry.Patients.OrderBy(p => p.Id, StringComparer.Ordinal), 2);
            AssertJsonEqual(
                folderRegistry.Devices.OrderBy(d => d.Id, StringComparer.Ordinal).Select(d => new { d.Id, d.Aliases, d.Resource }),
                registry.Devices.OrderBy(d => d.Id, StringComparer.Ordinal).Select(d => new { d.Id, d.Aliases, d.Resource }),
                2);
            AssertJsonEqual(folderRegistry.AllAssignments.OrderBy(a => a.Source, StringComparer.Ordinal), registry.AllAssignments.OrderBy(a => a.Source, StringComparer.Ordinal), 2);
            AssertJsonEqual(await folderRegistry.CredentialsAsync(Ct), await registry.CredentialsAsync(Ct), 1);
            Assert.Equal("p-2", registry.ResolvePatient("MAC-1", Clock.GetUtcNow()));

            var everyLetter = new DeadLetterQuery { IncludeReplayed = true };
            AssertJsonEqual(
                await new DeadLetterStore(WorkflowDatabase.Create(new WorkflowOptions(), DataDirectory, DeadLetterStore.FileName)).ListAsync(everyLetter, Ct),
                await new DeadLetterStore(target).ListAsync(everyLetter, Ct),
                2);

            var folderRisks = new RiskAssessmentStore(WorkflowDatabase.Create(new WorkflowOptions(), DataDirectory, RiskAssessmentStore.FileName));
            var risks = new RiskAssessmentStore(target);
            AssertJsonEqual(
                (await folderRisks.SearchAsync("p-1", 0, long.MaxValue, false, null, 100, Ct)).Matches,
                (await risks.SearchAsync("p-1", 0, long.MaxValue, false, null, 100, Ct)).Matches,
                2);

            // A session a web node issued before the move is still read by the nodes sharing the keys in PostgreSQL.
            var shared = KeyRing(services => services.Services.Configure<KeyManagementOptions>(o => o.XmlRepository = new SharedDataProtectionKeys(target)));
            Assert.Equal(Protected, shared.Unprotect(protectedPayload));
        }

        private static IDataProtector KeyRing(Action<IDataProtectionBuilder> keys)
        {
            var services = new ServiceCollection();
            keys(services.AddDataProtection().SetApplicationName("telesuivi"));
            return services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>().CreateProtector("migration-test");
        }

        private static void AssertJsonEqual<T>(IEnumerable<T> expected, IEnumerable<T> actual, int count)
        {
            var expectedRows = expected.ToList();
            Assert.Equal(count, expectedRows.Count);
            Assert.Equal(JsonSerializer.Serialize(expectedRows, Json), JsonSerializer.Serialize(actual.ToList(), Json));
        }

        public async ValueTask DisposeAsync()
        {
            SqliteConnection.ClearAllPools();
            await bed.DisposeAsync();
        }
    }
}
