using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Audit;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Security;

/// <summary>The audit trail's hash chain, checked by the real <c>telesuivi audit verify</c> after editing the SQLite file directly.</summary>
public sealed class AuditTrailTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-audit-").FullName;

    [Fact]
    public async Task Verify_UntouchedTrail_ExitsZero()
    {
        await WriteTrailAsync(5);

        var verify = await TeleSuiviProcess.RunToExitAsync(Deadline, "audit", "verify", "--data", data);

        Assert.True(verify.ExitCode == 0, verify.Error);
        Assert.Contains("The audit trail is intact: 5 row(s)", verify.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UPDATE audit SET patient = 'someone-else' WHERE seq = 3", 3, "row 3 was edited")]
    [InlineData("DELETE FROM audit WHERE seq = 3", 4, "rows 3..3 were deleted")]
    [InlineData("UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -1", 2, "row 2")]
    [InlineData("UPDATE audit SET outcome = '200', hash = 'f00d' WHERE seq = 5", 5, "row 5 was edited")]
    public async Task Verify_TamperedTrail_NamesTheFirstBrokenRowAndExitsNonZero(string tampering, int brokenRow, string problem)
    {
        await WriteTrailAsync(6);
        await ExecuteAsync("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; " + tampering);

        var verify = await TeleSuiviProcess.RunToExitAsync(Deadline, "audit", "verify", "--data", data);

        Assert.Equal(4, verify.ExitCode);
        Assert.Contains($"is broken at row {brokenRow}:", verify.Error, StringComparison.Ordinal);
        Assert.Contains(problem, verify.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trail_RefusesUpdateAndDelete()
    {
        await WriteTrailAsync(2);

        var update = await Assert.ThrowsAsync<SqliteException>(() => ExecuteAsync("UPDATE audit SET actor = 'nobody' WHERE seq = 1"));
        var delete = await Assert.ThrowsAsync<SqliteException>(() => ExecuteAsync("DELETE FROM audit"));

        Assert.Contains("append-only", update.Message, StringComparison.Ordinal);
        Assert.Contains("append-only", delete.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_ByPatient_ShowsOnlyThatPatientsRows()
    {
        await WriteTrailAsync(4);

        var list = await TeleSuiviProcess.RunToExitAsync(Deadline, "audit", "list", "--data", data, "--patient", "p-1");

        Assert.Equal(0, list.ExitCode);
        var rows = list.Output.Split('\n').Where(l => l.StartsWith('#')).ToList();
        Assert.Equal(2, rows.Count); // rows 2 and 4 are about p-1 (see WriteTrailAsync)
        Assert.All(rows, r => Assert.Contains("patient=p-1", r, StringComparison.Ordinal));
    }

    /// <summary>Rows as the server writes them: odd rows about p-0, even rows about p-1, by two users.</summary>
    private async Task WriteTrailAsync(int rows)
    {
        using var audit = new AuditLog(data, TimeProvider.System);
        await audit.InitializeAsync(TestContext.Current.CancellationToken);
        for (var i = 1; i <= rows; i++)
        {
            await audit.AppendAsync(new AuditEntry(i % 2 == 0 ? "nurse-north" : "physician-north", "nurse", "fhir.read", $"p-{(i + 1) % 2}", $"GET /fhir/Patient/p-{(i + 1) % 2}", "200", "10.0.0.7"), TestContext.Current.CancellationToken);
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(data, AuditLog.FileName)};Pooling=False");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }
}
