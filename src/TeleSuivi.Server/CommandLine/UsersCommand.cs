using System.CommandLine;
using System.Globalization;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi users add|list|disable|enable|password</c>: the people who sign in to the web pages.</summary>
public static class UsersCommand
{
    public static Command Create()
    {
        var data = LocalDataCommands.DataOption();

        var name = new Argument<string>("name") { Description = "User name (letters, digits, '.', '_', '-', '@')" };
        var role = LocalDataCommands.RoleOption(Roles.People);
        var teams = LocalDataCommands.TeamOption("Care team whose patients this nurse or physician sees (the id of its FHIR Organization); repeat for several");
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input instead of generating one" };
        var add = new Command("add", "Add a user; prints the generated password once (only its hash is kept).") { name, role, teams, passwordStdin };
        add.SetAction((parse, ct) => LocalDataCommands.ChangeAsync(parse, data, "user.add", $"user/{parse.GetValue(name)}", async accounts =>
        {
            var (password, generated) = await LocalDataCommands.PasswordAsync(parse.GetValue(passwordStdin));
            var user = await accounts.AddUserAsync(parse.GetValue(name)!, parse.GetValue(role)!, parse.GetValue(teams) ?? [], password, DateTimeOffset.UtcNow, ct);
            Console.WriteLine($"Added {user.Role} '{user.Name}'{TeamsText(user.Teams)}.");
            if (generated)
            {
                Console.WriteLine($"Password (shown only now): {password}");
            }

            return $"role {user.Role}, teams [{string.Join(", ", user.Teams)}]";
        }, ct));

        var list = new Command("list", "List users: role, teams, and whether they are active, disabled or locked out.");
        list.SetAction(async (parse, ct) =>
        {
            var accounts = await LocalDataCommands.OpenAccountsAsync(parse, data, ct);
            var users = await accounts.ListUsersAsync(ct);
            Console.WriteLine($"{"NAME",-24} {"ROLE",-10} {"TEAMS",-24} {"STATE",-28} CREATED");
            foreach (var user in users)
            {
                var state = user.Disabled ? "disabled"
                    : user.LockedUntil > DateTimeOffset.UtcNow ? string.Create(CultureInfo.InvariantCulture, $"locked until {user.LockedUntil:yyyy-MM-dd HH:mm}Z")
                    : "active";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{user.Name,-24} {user.Role,-10} {string.Join(",", user.Teams),-24} {state,-28} {user.CreatedAt:yyyy-MM-dd}"));
            }

            Console.WriteLine($"{users.Count} user(s)");
            return ExitCodes.Success;
        });

        var disableName = new Argument<string>("name") { Description = "User name" };
        var disable = new Command("disable", "Disable a user: their session ends at their next request, and they cannot sign in.") { disableName };
        disable.SetAction((parse, ct) => LocalDataCommands.ChangeAsync(parse, data, "user.disable", $"user/{parse.GetValue(disableName)}", async accounts =>
        {
            await accounts.SetDisabledAsync(parse.GetValue(disableName)!, disabled: true, ct);
            Console.WriteLine($"Disabled '{parse.GetValue(disableName)}'.");
            return null;
        }, ct));

        var enableName = new Argument<string>("name") { Description = "User name" };
        var enable = new Command("enable", "Re-enable a disabled user, or unlock one locked out after wrong passwords.") { enableName };
        enable.SetAction((parse, ct) => LocalDataCommands.ChangeAsync(parse, data, "user.enable", $"user/{parse.GetValue(enableName)}", async accounts =>
        {
            await accounts.SetDisabledAsync(parse.GetValue(enableName)!, disabled: false, ct);
            Console.WriteLine($"Enabled '{parse.GetValue(enableName)}'.");
            return null;
        }, ct));

        var passwordName = new Argument<string>("name") { Description = "User name" };
        var passwordStdin2 = new Option<bool>("--password-stdin") { Description = "Read the new password from the first line of standard input instead of generating one" };
        var password = new Command("password", "Set a new password (generated and printed once, or from standard input); also unlocks.") { passwordName, passwordStdin2 };
        password.SetAction((parse, ct) => LocalDataCommands.ChangeAsync(parse, data, "user.password", $"user/{parse.GetValue(passwordName)}", async accounts =>
        {
            var (secret, generated) = await LocalDataCommands.PasswordAsync(parse.GetValue(passwordStdin2));
            await accounts.SetPasswordAsync(parse.GetValue(passwordName)!, secret, ct);
            Console.WriteLine(generated ? $"New password of '{parse.GetValue(passwordName)}' (shown only now): {secret}" : $"Password of '{parse.GetValue(passwordName)}' changed.");
            return null;
        }, ct));

        return new Command("users", "Manage the people who sign in (nurses, physicians, admins) in the data folder's security.db (or, with TELESUIVI_WORKFLOW__POSTGRESQL, in the database the nodes share).") { data, add, list, disable, enable, password };
    }

    internal static string TeamsText(IReadOnlyList<string> teams) => teams.Count == 0 ? " (every patient)" : $" (team {string.Join(", ", teams)})";
}
