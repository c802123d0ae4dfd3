using System.CommandLine;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// What the <c>users</c>, <c>apikey</c> and <c>audit</c> commands share: they work on the files of a data folder
/// (<c>--data</c>, the same folder as <c>serve --data</c>), safely while the server runs, and audit what they change as
/// <c>cli:{OS account}</c> from <c>cli@{host}</c>. With <c>TELESUIVI_WORKFLOW__POSTGRESQL</c> set, as for
/// <c>serve</c>, they work on the PostgreSQL database the nodes share instead.
/// </summary>
internal static class LocalDataCommands
{
    public static Option<string> DataOption() => new("--data")
    {
        Description = "Data folder of the TeleSuivi installation (default: TELESUIVI_STORE__DATADIRECTORY, else ./data)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(PlatformHost.EnvironmentPrefix + "STORE__DATADIRECTORY") ?? "./data",
        Recursive = true,
        HelpName = "DIR",
    };

    public static Option<string[]> TeamOption(string description) => new("--team")
    {
        Description = description,
        AllowMultipleArgumentsPerToken = false,
        HelpName = "TEAM",
    };

    public static Option<string> RoleOption(IReadOnlyList<string> roles)
    {
        var option = new Option<string>("--role") { Description = $"Role: {string.Join(", ", roles)}", Required = true, HelpName = "ROLE" };
        option.AcceptOnlyFromAmong([.. roles]);
        return option;
    }

    public static async Task<AccountStore> OpenAccountsAsync(ParseResult parse, Option<string> data, CancellationToken cancellationToken)
    {
        var accounts = new AccountStore(WorkflowDatabase.Create(WorkflowOptions.FromEnvironment(), parse.GetValue(data)!, AccountStore.FileName));
        await accounts.InitializeAsync(cancellationToken);
        return accounts;
    }

    public static async Task<AuditLog> OpenAuditAsync(ParseResult parse, Option<string> data, CancellationToken cancellationToken)
    {
        var audit = new AuditLog(WorkflowDatabase.Create(WorkflowOptions.FromEnvironment(), parse.GetValue(data)!, AuditLog.FileName), TimeProvider.System);
        await audit.InitializeAsync(cancellationToken);
        return audit;
    }

    /// <summary>Runs an account change; a refused one is one line on standard error and exit code 1.</summary>
    public static async Task<int> ChangeAsync(ParseResult parse, Option<string> data, string action, string target, Func<AccountStore, Task<string?>> change, CancellationToken cancellationToken)
    {
        var accounts = await OpenAccountsAsync(parse, data, cancellationToken);
        using var audit = await OpenAuditAsync(parse, data, cancellationToken);
        try
        {
            var detail = await change(accounts);
            await audit.AppendAsync(Entry(action, target, "ok", detail), cancellationToken);
            return ExitCodes.Success;
        }
        catch (AccountException ex)
        {
            await audit.AppendAsync(Entry(action, target, "refused", ex.Message), cancellationToken);
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
    }

    public static AuditEntry Entry(string action, string? resource, string outcome, string? detail = null) =>
        new($"cli:{Environment.UserName}", "-", action, null, resource, outcome, $"cli@{Environment.MachineName}", detail);

    /// <summary>A password from standard input (first line), or a generated one to print.</summary>
    public static async Task<(string Password, bool Generated)> PasswordAsync(bool fromStdin)
    {
        if (!fromStdin)
        {
            return (AccountStore.GeneratePassword(), true);
        }

        var line = await Console.In.ReadLineAsync() ?? string.Empty;
        return (line.TrimEnd('\r', '\n'), false);
    }
}
