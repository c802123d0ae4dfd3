using System.CommandLine;
using System.Globalization;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi apikey create|list|revoke</c>: keys of machine clients (an EHR reading FHIR, a metrics scraper).</summary>
public static class ApiKeyCommand
{
    public static Command Create()
    {
        var data = LocalDataCommands.DataOption();

        var name = new Argument<string>("name") { Description = "Who uses the key, e.g. ehr-north or prometheus" };
        var role = LocalDataCommands.RoleOption(Roles.ApiKeys);
        var teams = LocalDataCommands.TeamOption("Care team whose patients the key reaches (nurse and physician keys); repeat for several");
        var create = new Command("create", "Create an API key; prints it once (only its SHA-256 is kept). Use it as 'Authorization: Bearer <key>'.") { name, role, teams };
        create.SetAction((parse, ct) => LocalDataCommands.ChangeAsync(parse, data, "apikey.create", $"apikey/{parse.GetValue(name)}", async accounts =>
        {
            var (key, secret) = await accounts.CreateApiKeyAsync(parse.GetValue(name)!, parse.GetValue(role)!, parse.GetValue(teams) ?? [], DateTimeOffset.UtcNow, ct);
            Console.WriteLine($"Created API key {key.Id} '{key.Name}', role {key.Role}{UsersCommand.TeamsText(key.Teams)}.");
            Console.WriteLine($"Key (shown only now): {secret}");
            return $"id {key.Id}, role {key.Role}, teams [{string.Join(", ", key.Teams)}]";
        }, ct));

        var list = new Command("list", "List API keys (never their secrets): id, name, role, teams, created, last used, revoked.");
        list.SetAction(async (parse, ct) =>
        {
            var accounts = await LocalDataCommands.OpenAccountsAsync(parse, data, ct);
            var keys = await accounts.ListApiKeysAsync(ct);
            Console.WriteLine($"{"ID",-13} {"NAME",-24} {"ROLE",-10} {"TEAMS",-20} {"CREATED",-11} {"LAST USED",-17} STATE");
            foreach (var key in keys)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{key.Id,-13} {key.Name,-24} {key.Role,-10} {string.Join(",", key.Teams),-20} {key.CreatedAt:yyyy-MM-dd} {(key.LastUsedAt is { } used ? used.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "never"),-17} {(key.RevokedAt is { } revoked ? $"revoked {revoked:yyyy-MM-dd HH:mm}" : "active")}"));
            }

            Console.WriteLine($"{keys.Count} key(s)");
            return ExitCodes.Success;
        });

        var id = new Argument<string>("id") { Description = "Key id (see apikey list; the part after tsk_)" };
        var revoke = new Command("revoke", "Revoke an API key: refused from its next request on.") { id };
        revoke.SetAction((parse, ct) => LocalDataCommands.ChangeAsync(parse, data, "apikey.revoke", $"apikey/{parse.GetValue(id)}", async accounts =>
        {
            await accounts.RevokeApiKeyAsync(parse.GetValue(id)!, DateTimeOffset.UtcNow, ct);
            Console.WriteLine($"Revoked API key {parse.GetValue(id)}.");
            return null;
        }, ct));

        return new Command("apikey", "Manage the API keys of machine clients in the data folder's security.db.") { data, create, list, revoke };
    }
}
