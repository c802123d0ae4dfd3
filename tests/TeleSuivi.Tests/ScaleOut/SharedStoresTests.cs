using System.Text;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// The stores several nodes share, on the private PostgreSQL: each "node" is a store of its own (its own connection
/// pool) on one database, as two processes would be. The dead-letter claims run on SQLite too (two processes on one
/// data folder).
/// </summary>
[Collection(ScaleOutGroup.Name)]
public sealed class SharedStoresTests(ScaleOutServices services)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ClaimAsync_TwoNodesAtOnceOnPostgreSql_EachLetterGoesToOneNode()
    {
        var database = await services.NewDatabaseAsync("letters");
        await ClaimContractAsync(new DeadLetterStore(new PostgresWorkflowDatabase(database)), new DeadLetterStore(new PostgresWorkflowDatabase(database)));
    }

    [Fact]
    public async Task ClaimAsync_TwoProcessesAtOnceOnSqlite_EachLetterGoesToOne()
    {
        await OnSqliteFolderAsync(async data =>
        {
            var options = Options.Create(new StoreOptions { DataDirectory = data });
            await ClaimContractAsync(new DeadLetterStore(options), new DeadLetterStore(options));
        });
    }

    [Fact]
    public async Task AddUserIfAbsentAsync_TwoNodesStartingTogether_CreateTheUserOnce()
    {
        var database = await services.NewDatabaseAsync("users");
        var nodes = new[] { new AccountStore(new PostgresWorkflowDatabase(database)), new AccountStore(new PostgresWorkflowDatabase(database)) };
        await Task.WhenAll(nodes.Select(node => node.InitializeAsync(Ct)));

        var created = await Task.WhenAll(nodes.Select((node, i) => node.AddUserIfAbsentAsync("admin", Roles.Admin, [], $"password-of-node-{i}", Now, Ct)));

        var winner = Assert.Single(created, account => account is not null);
        Assert.Single(await nodes[1].ListUsersAsync(Ct));
        // The user is the winner's: its password signs in on the other node, the loser's does not.
        var index = Array.IndexOf(created, winner);
        Assert.Equal(LoginOutcome.Succeeded, (await nodes[1 - index].CheckPasswordAsync("ADMIN", $"password-of-node-{index}", 5, TimeSpan.FromMinutes(5), Now, Ct)).Outcome);
        Assert.Equal(LoginOutcome.Failed, (await nodes[index].CheckPasswordAsync("admin", $"password-of-node-{1 - index}", 5, TimeSpan.FromMinutes(5), Now, Ct)).Outcome);
        await Assert.ThrowsAsync<AccountException>(() => nodes[0].AddUserAsync("Admin", Roles.Admin, [], "another password", Now, Ct));
    }

    [Fact]
    public async Task RefreshAsync_AfterAnotherNodesImport_ReloadsOnceAndResolvesTheDevice()
    {
        var database = await services.NewDatabaseAsync("registry");
        using var importer = new DeviceRegistry(new PostgresWorkflowDatabase(database));
        using var worker = new DeviceRegistry(new PostgresWorkflowDatabase(database));
        await importer.InitializeAsync(Ct);
        await worker.InitializeAsync(Ct);
        var changes = 0;
        worker.Changed += () => changes++;

        await importer.ApplyAsync(new RegistryChanges(
            [new RegisteredPatient("p-1", "75011", """{"resourceType":"Patient","id":"p-1"}""")],
            [new RegisteredDevice("d-1", ["SN-1"], """{"resourceType":"Device","id":"d-1"}""")],
            [new Assignment("d-1", "p-1", Now.AddDays(-1), null, "DeviceUseStatement/d-1-use")]), Ct);

        Assert.Null(worker.ResolvePatient("SN-1", Now));
        Assert.True(await worker.RefreshAsync(Ct));
        Assert.Equal("p-1", worker.ResolvePatient("SN-1", Now));
        Assert.False(await worker.RefreshAsync(Ct));
        Assert.Equal(1, changes);
    }

    [Fact]
    public async Task AppendAsync_TwoNodesAtOnce_OneUnbrokenChain()
    {
        var database = await services.NewDatabaseAsync("audit");
        using var first = new AuditLog(new PostgresWorkflowDatabase(database), TimeProvider.System);
        using var second = new AuditLog(new PostgresWorkflowDatabase(database), TimeProvider.System);
        await first.InitializeAsync(Ct);
        await second.InitializeAsync(Ct);

        await Task.WhenAll(new[] { first, second }.Select((log, node) => Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            log.AppendAsync(new AuditEntry($"user-{node}", Roles.Nurse, "alert.claim", "p-1", $"alert/{i}", "200", "127.0.0.1"), Ct)))));

        var verification = await second.VerifyAsync(null, Ct);
        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal(40, verification.Rows);
    }

    [Fact]
    public async Task ListAsync_OnPostgreSqlWithFiltersLeftOut_ListsAsOnSqlite()
    {
        var database = await services.NewDatabaseAsync("audit_list");
        using var audit = new AuditLog(new PostgresWorkflowDatabase(database), TimeProvider.System);
        await audit.InitializeAsync(Ct);
        await audit.AppendAsync([new AuditEntry("nurse-1", Roles.Nurse, "patient.read", "p-1", "Patient/p-1", "200", "127.0.0.1"), new AuditEntry("admin", Roles.Admin, "user.add", null, "user/x", "ok", "::1")], Ct);

        Assert.Equal([1L, 2L], (await audit.ListAsync(new AuditQuery(), Ct)).Select(r => r.Seq));
        Assert.Equal([1L], (await audit.ListAsync(new AuditQuery(Patient: "p-1"), Ct)).Select(r => r.Seq));
        Assert.Equal([2L], (await audit.ListAsync(new AuditQuery(Actor: "admin", From: DateTimeOffset.UnixEpoch), Ct)).Select(r => r.Seq));
    }

    /// <summary>Two stores on one database claim at the same moment: every letter goes to exactly one, until settled or lapsed.</summary>
    [Fact]
    public async Task RejectionsAsync_OnPostgreSql_SelectsTheDevicesNamesReasonsAndWindow()
    {
        var database = await services.NewDatabaseAsync("rejections");
        await RejectionsContractAsync(new DeadLetterStore(new PostgresWorkflowDatabase(database)));
    }

    [Fact]
    public async Task RejectionsAsync_OnSqlite_SelectsTheDevicesNamesReasonsAndWindow()
    {
        await OnSqliteFolderAsync(async data =>
        {
            await RejectionsContractAsync(new DeadLetterStore(Options.Create(new StoreOptions { DataDirectory = data })));
        });
    }

    [Fact]
    public async Task InitializeAsync_DeadLettersOfARelease_BeforeFrenchReasons_OnPostgreSql_GainTheColumnAndKeepTheirLetters()
    {
        var database = await services.NewDatabaseAsync("letters_v1");
        await EarlierReleaseContractAsync(new PostgresWorkflowDatabase(database), """
            CREATE TABLE dead_letter (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, topic TEXT NOT NULL, payload BYTEA NOT NULL,
                received_at TEXT NOT NULL, received_ms BIGINT NOT NULL, reason_code TEXT NOT NULL, reason TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 1, replayed_at TEXT, claimed_until_ms BIGINT);
            INSERT INTO dead_letter (topic, payload, received_at, received_ms, reason_code, reason)
                VALUES ('telesuivi/v1/devices/withings/d-1', '\x7b7d', '2026-03-01T07:00:00.0000000+00:00', 1772348400000, 'implausible', 'before');
            """);
    }

    [Fact]
    public async Task InitializeAsync_DeadLettersOfARelease_BeforeFrenchReasons_OnSqlite_GainTheColumnAndKeepTheirLetters()
    {
        await OnSqliteFolderAsync(async data =>
        {
            await EarlierReleaseContractAsync(WorkflowDatabase.Create(new WorkflowOptions(), data, DeadLetterStore.FileName), """
                CREATE TABLE dead_letter (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL, received_at TEXT NOT NULL,
                    reason_code TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, replayed_at TEXT,
                    claimed_until_ms INTEGER, received_ms INTEGER);
                INSERT INTO dead_letter (topic, payload, received_at, received_ms, reason_code, reason)
                    VALUES ('telesuivi/v1/devices/withings/d-1', X'7b7d', '2026-03-01T07:00:00.0000000+00:00', 1772348400000, 'implausible', 'before');
                """);
        });
    }

    [Fact]
    public async Task InitializeAsync_DeadLettersOfTheFirstRelease_OnSqlite_GainEveryColumnTheInstantReadFromTheText()
    {
        await OnSqliteFolderAsync(async data =>
        {
            // Before replays claimed letters and before the instant was kept as a number: received_ms is filled from
            // received_at (an offset of +02:00 here), which the window of RejectionsAsync then finds.
            await EarlierReleaseContractAsync(WorkflowDatabase.Create(new WorkflowOptions(), data, DeadLetterStore.FileName), """
                CREATE TABLE dead_letter (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL, received_at TEXT NOT NULL,
                    reason_code TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, replayed_at TEXT);
                INSERT INTO dead_letter (topic, payload, received_at, reason_code, reason)
                    VALUES ('telesuivi/v1/devices/withings/d-1', X'7b7d', '2026-03-01T09:00:00.0000000+02:00', 'implausible', 'before');
                """);
        });
    }

    /// <summary>Runs <paramref name="test"/> on a data folder of its own, deleted afterwards with its SQLite files.</summary>
    private static async Task OnSqliteFolderAsync(Func<string, Task> test)
    {
        var data = Directory.CreateTempSubdirectory("telesuivi-letters-").FullName;
        try
        {
            await test(data);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>A dead-letter table as an earlier release left it, with one letter received at 07:00 UTC: opened by this release.</summary>
    private static async Task EarlierReleaseContractAsync(WorkflowDatabase database, string earlierRelease)
    {
        await using (var connection = await database.OpenAsync(Ct))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = earlierRelease;
            await command.ExecuteNonQueryAsync(Ct);
        }

        var store = new DeadLetterStore(database);
        await store.InitializeAsync(Ct);
        await store.InitializeAsync(Ct); // a second node, or a restart
        await store.AddAsync([new Rejection("telesuivi/v1/devices/withings/d-1", Encoding.UTF8.GetBytes("{}"), Now, "implausible", "after", "après")], Ct);

        var letters = await store.ListAsync(new DeadLetterQuery(), Ct);
        Assert.Equal([("before", null), ("after", "après")], letters.Select(l => (l.Reason, l.ReasonFr)));
        Assert.Equal(["before", "after"], (await store.RejectionsAsync(["d-1"], ["implausible"], Now.AddHours(-2), Now, Ct)).Select(r => r.Reason));
    }

    /// <summary>
    /// The device-fault monitor's query: a device known as "bp_1" and by the alias "AA:BB", whose '_' must not match any
    /// character (LIKE's wildcard), rejected within the window for the two reasons asked, beside letters it must skip.
    /// </summary>
    private static async Task RejectionsContractAsync(DeadLetterStore store)
    {
        await store.InitializeAsync(Ct);
        Rejection Letter(string device, int minutes, string code) =>
            new($"telesuivi/v1/devices/withings/{device}", Encoding.UTF8.GetBytes("{}"), Now.AddMinutes(minutes), code, $"{code} at {minutes}", minutes == -30 ? "invraisemblable à -30" : null);
        await store.AddAsync(
            [
                Letter("bp_1", -30, "implausible"),
                Letter("AA:BB", -20, "unparseable"),
                Letter("bpx1", -15, "implausible"),       // '_' is not a wildcard
                Letter("bp_1", -10, "clock"),             // another reason
                Letter("bp_1", -2000, "implausible"),     // outside the window
                Letter("bp_1", 5, "implausible"),         // after it
            ],
            Ct);

        var found = await store.RejectionsAsync(["bp_1", "AA:BB"], ["implausible", "unparseable"], Now.AddHours(-24), Now, Ct);

        Assert.Equal(["implausible at -30", "unparseable at -20"], found.Select(f => f.Reason));
        Assert.Equal(["invraisemblable à -30", null], found.Select(f => f.ReasonFr));
        Assert.Equal([Now.AddMinutes(-30), Now.AddMinutes(-20)], found.Select(f => f.ReceivedAt));
    }

    private static async Task ClaimContractAsync(DeadLetterStore first, DeadLetterStore second)
    {
        await first.InitializeAsync(Ct);
        await second.InitializeAsync(Ct);
        await first.AddAsync([.. Enumerable.Range(0, 30).Select(i => new Rejection($"telesuivi/v1/devices/withings/d-{i}", Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), Now, RejectionCodes.UnknownDevice, "unknown device"))], Ct);
        var query = new DeadLetterQuery { ReasonCode = RejectionCodes.UnknownDevice, Limit = 100 };

        var claims = await Task.WhenAll(first.ClaimAsync(query, Now, Ct), second.ClaimAsync(query, Now, Ct));

        var ids = claims.SelectMany(claim => claim.Select(letter => letter.Id)).ToList();
        Assert.Equal(30, ids.Count);
        Assert.Equal(30, ids.Distinct().Count());
        Assert.Empty(await second.ClaimAsync(query, Now.AddMinutes(1), Ct));

        // Settled letters are never claimed again; a claim not settled within the lease lapses for another node.
        var settled = ids.Take(10).ToList();
        await first.RecordReplayAsync(settled, [], Now.AddMinutes(1), Ct);
        var lapsed = await second.ClaimAsync(query, Now + DeadLetterStore.ClaimLease + TimeSpan.FromSeconds(1), Ct);
        Assert.Equal(ids.Skip(10).Order(), lapsed.Select(letter => letter.Id).Order());
        Assert.Equal(20, (await first.CountByReasonAsync(Ct))[RejectionCodes.UnknownDevice]);
    }
}
