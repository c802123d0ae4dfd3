using Microsoft.Extensions.Options;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Simulation;

namespace TeleSuivi.Server.Security;

/// <summary>
/// At start, before the web server listens: opens the account store and the audit trail; on the very first start
/// creates the administrator <c>admin</c> (password from <c>TELESUIVI_ADMIN_PASSWORD</c>, or generated and printed
/// once); under <c>demo</c>, creates a nurse and a physician per demo team and prints their logins. When several nodes
/// share the accounts (PostgreSQL) and start together, each user is created once: the node whose insert wins prints
/// the password, the others print nothing for it.
/// </summary>
public sealed class SecurityInitializer(
    AccountStore accounts,
    AuditLog audit,
    IOptions<SecurityOptions> security,
    IOptions<SimulatorOptions> simulator,
    IConfiguration configuration,
    TimeProvider time) : IHostedService
{
    public const string AdminName = "admin";

    /// <summary>The environment variable (<c>TELESUIVI_</c> + this key) that sets the first administrator's password.</summary>
    public const string AdminPasswordKey = "ADMIN_PASSWORD";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (security.Value.BootstrapApiKey is { } bootstrap && bootstrap.Length < SecurityOptions.MinBootstrapKeyLength)
        {
            throw new ConfigurationException($"Security:BootstrapApiKey must have at least {SecurityOptions.MinBootstrapKeyLength} characters");
        }

        await accounts.InitializeAsync(cancellationToken);
        await audit.InitializeAsync(cancellationToken);
        var created = new List<(UserAccount Account, string Password)>();
        if (!await accounts.AnyUserAsync(cancellationToken))
        {
            var given = configuration[AdminPasswordKey];
            if (given is not null && given.Length < AccountStore.MinPasswordLength)
            {
                throw new ConfigurationException($"TELESUIVI_ADMIN_PASSWORD must have at least {AccountStore.MinPasswordLength} characters");
            }

            var password = given ?? AccountStore.GeneratePassword();
            if (await accounts.AddUserIfAbsentAsync(AdminName, Roles.Admin, [], password, time.GetUtcNow(), cancellationToken) is { } admin)
            {
                created.Add((admin, given is null ? password : "(from TELESUIVI_ADMIN_PASSWORD)"));
            }
        }

        if (simulator.Value.Enabled)
        {
            foreach (var team in DemoTeams.All)
            {
                foreach (var role in new[] { Roles.Nurse, Roles.Physician })
                {
                    var name = $"{role}-{team}";
                    var password = AccountStore.GeneratePassword();
                    if (await accounts.AddUserIfAbsentAsync(name, role, [team], password, time.GetUtcNow(), cancellationToken) is { } account)
                    {
                        created.Add((account, password));
                    }
                }
            }
        }

        if (created.Count > 0)
        {
            await audit.AppendAsync(created.Select(c => new AuditEntry("system", "-", "user.add", null, $"user/{c.Account.Name}", "ok", "start", $"role {c.Account.Role}, teams [{string.Join(", ", c.Account.Teams)}]")).ToList(), cancellationToken);

            // On the console only, never in the log: these passwords are shown this once and stored hashed.
            Console.WriteLine("TeleSuivi accounts created (passwords are shown only now; change one with 'telesuivi users password NAME'):");
            foreach (var (account, password) in created)
            {
                var teams = account.Teams.Count == 0 ? "every patient" : $"team {string.Join(", ", account.Teams)}";
                Console.WriteLine($"  {account.Name,-18} {account.Role,-10} {teams,-16} password: {password}");
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The care teams of the simulated cohort: each simulated patient is in one of them (see <see cref="CohortBundle"/>).</summary>
public static class DemoTeams
{
    public static readonly IReadOnlyList<string> All = ["north", "south"];

    public static string Of(int patientIndex) => All[patientIndex % All.Count];
}
