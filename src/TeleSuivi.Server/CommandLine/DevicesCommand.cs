using System.CommandLine;
using System.Globalization;
using System.Text;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// <c>telesuivi devices credentials|revoke</c> and <c>telesuivi stations credentials|revoke</c>: the broker accounts
/// of devices and environment stations, written straight into the registry of a data folder (a running server
/// reads them at each CONNECT).
/// </summary>
public static class DevicesCommand
{
    public static Command Create()
    {
        var ids = new Argument<string[]>("device-id") { Description = "Registered device ids", Arity = ArgumentArity.ZeroOrMore };
        var missing = new Option<bool>("--missing") { Description = "Every registered device that has no account yet (a provisioning batch)" };
        var credentials = new Command("credentials", "Issue broker accounts to registered devices: username = device id, a random secret shown once.") { ids, missing };
        AddIssueOptions(credentials, out var data, out var output, out var rotate);
        credentials.SetAction((parse, ct) => WithRegistryAsync(parse.GetValue(data)!, async (registry, issuer) =>
        {
            var wanted = (parse.GetValue(ids) ?? []).ToList();
            if (parse.GetValue(missing))
            {
                wanted.AddRange(await issuer.DevicesWithoutCredentialsAsync(ct));
            }

            if (wanted.Count == 0)
            {
                await Console.Error.WriteLineAsync(parse.GetValue(missing)
                    ? "Every registered device has a broker account already: nothing to issue."
                    : "error: name the devices, or use --missing for every device without an account");
                return parse.GetValue(missing) ? ExitCodes.Success : ExitCodes.Usage;
            }

            return await IssueAsync(wanted.Count, parse.GetValue(output), progress => issuer.IssueDevicesAsync(wanted, parse.GetValue(rotate), ct, progress), ct);
        }));

        return new Command("devices", "Manage the devices' broker accounts (see README, \"Device authentication\").")
        {
            credentials,
            CreateRevoke("device-id", "device", id => id),
        };
    }

    public static Command CreateStations()
    {
        var zones = new Argument<string[]>("zone-id") { Description = "Zone ids (the patients' postal codes, or the zone extension)", Arity = ArgumentArity.OneOrMore };
        var credentials = new Command("credentials", "Issue the broker account of each zone's environment station: username station/{zoneId}, a random secret shown once.") { zones };
        AddIssueOptions(credentials, out var data, out var output, out var rotate);
        credentials.SetAction((parse, ct) => WithRegistryAsync(parse.GetValue(data)!, async (registry, issuer) =>
        {
            var wanted = parse.GetValue(zones)!;
            var known = registry.Patients.Select(p => p.Zone).ToHashSet(StringComparer.Ordinal);
            foreach (var zone in wanted.Where(z => !known.Contains(z)))
            {
                await Console.Error.WriteLineAsync($"note: no registered patient lives in zone '{zone}' yet");
            }

            return await IssueAsync(wanted.Length, parse.GetValue(output), progress => issuer.IssueStationsAsync(wanted, parse.GetValue(rotate), ct, progress), ct);
        }));

        return new Command("stations", "Manage the environment stations' broker accounts (see README, \"Device authentication\").")
        {
            credentials,
            CreateRevoke("zone-id", "station", BrokerAccounts.Station),
        };
    }

    private static void AddIssueOptions(Command command, out Option<string> data, out Option<string?> output, out Option<bool> rotate)
    {
        data = DataOption();
        output = new Option<string?>("--out")
        {
            Description = "Write the accounts to this new CSV file (username,kind,subject,secret,issued_at; mode 600) instead of the terminal; required for more than one",
            HelpName = "FILE.csv",
        };
        rotate = new Option<bool>("--rotate") { Description = "Replace the secret of an account that exists (the old secret stops working at once)" };
        command.Options.Add(data);
        command.Options.Add(output);
        command.Options.Add(rotate);
    }

    internal static Option<string> DataOption() => new("--data")
    {
        Description = "Data folder whose registry holds the accounts (default ./data, as serve) [Store:DataDirectory]",
        DefaultValueFactory = _ => "./data",
        HelpName = "DIR",
    };

    private static Command CreateRevoke(string argumentName, string what, Func<string, string> userName)
    {
        var names = new Argument<string[]>(argumentName) { Description = $"The {what}s whose account to delete", Arity = ArgumentArity.OneOrMore };
        var data = DataOption();
        var revoke = new Command("revoke", $"Delete {what} broker accounts: their next CONNECT is refused (a connected client stays until it reconnects; restart the server to cut it at once).") { names, data };
        revoke.SetAction((parse, ct) => WithRegistryAsync(parse.GetValue(data)!, async (registry, _) =>
        {
            var failed = false;
            foreach (var name in parse.GetValue(names)!)
            {
                if (await registry.RevokeCredentialAsync(userName(name), ct))
                {
                    Console.WriteLine($"Revoked the broker account '{userName(name)}'.");
                }
                else
                {
                    await Console.Error.WriteLineAsync($"error: '{userName(name)}' has no broker account");
                    failed = true;
                }
            }

            return failed ? 1 : ExitCodes.Success;
        }));
        return revoke;
    }

    /// <summary>Opens the registry of a data folder that has one (a typo must not create an empty registry elsewhere).</summary>
    internal static async Task<int> WithRegistryAsync(string directory, Func<DeviceRegistry, BrokerCredentialIssuer, Task<int>> action)
    {
        var path = Path.GetFullPath(directory);
        var workflow = WorkflowOptions.FromEnvironment();
        if (string.IsNullOrWhiteSpace(workflow.PostgreSql) && !File.Exists(Path.Combine(path, DeviceRegistry.FileName)))
        {
            await Console.Error.WriteLineAsync($"error: {path} holds no registry (registry.db): give the data folder of the server with --data");
            return ExitCodes.StartFailed;
        }

        using var registry = new DeviceRegistry(WorkflowDatabase.Create(workflow, path, DeviceRegistry.FileName));
        await registry.InitializeAsync(CancellationToken.None);
        try
        {
            return await action(registry, new BrokerCredentialIssuer(registry, TimeProvider.System));
        }
        catch (BrokerCredentialException ex)
        {
            foreach (var problem in ex.Problems)
            {
                await Console.Error.WriteLineAsync($"error: {problem}");
            }

            await Console.Error.WriteLineAsync("Nothing was issued.");
            return 1;
        }
    }

    private static async Task<int> IssueAsync(int count, string? output, Func<IProgress<int>?, Task<IReadOnlyList<IssuedCredential>>> issue, CancellationToken cancellationToken)
    {
        if (output is null && count > 1)
        {
            await Console.Error.WriteLineAsync($"error: {count} accounts would print {count} secrets on the terminal: write them to a file with --out FILE.csv");
            return ExitCodes.Usage;
        }

        FileStream? file = null;
        if (output is not null)
        {
            try
            {
                // A new file only: overwriting a batch nobody has handed out yet would lose its secrets for good.
                var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                file = new FileStream(output, create);
            }
            catch (IOException ex)
            {
                await Console.Error.WriteLineAsync($"error: cannot create {Path.GetFullPath(output)}: {ex.Message} (choose a new file)");
                return 1;
            }
        }

        await using (file)
        {
            IReadOnlyList<IssuedCredential> issued;
            try
            {
                issued = await issue(count > 20 ? new ConsoleProgress().Stage("issuing", count, "accounts") : null);
            }
            catch (BrokerCredentialException) when (file is not null)
            {
                await file.DisposeAsync();
                File.Delete(file.Name);
                throw;
            }

            if (file is null)
            {
                var account = issued[0];
                Console.WriteLine($"Broker account of {(account.Kind == BrokerAccountKind.Device ? "device" : "the station of zone")} '{account.Subject}':");
                Console.WriteLine($"  username  {account.UserName}");
                Console.WriteLine($"  secret    {account.Secret}");
                Console.WriteLine("The secret is shown only this once (the registry keeps its hash): set it in the device now.");
                return ExitCodes.Success;
            }

            var csv = new StringBuilder("username,kind,subject,secret,issued_at\n");
            var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            foreach (var account in issued)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{Csv(account.UserName)},{account.Kind.ToString().ToLowerInvariant()},{Csv(account.Subject)},{account.Secret},{now}\n");
            }

            await file.WriteAsync(Encoding.UTF8.GetBytes(csv.ToString()), cancellationToken);
            await file.FlushAsync(cancellationToken);
            Console.WriteLine($"Issued {issued.Count} broker account(s); their secrets are in {file.Name} (mode 600), and nowhere else: hand it to the provisioning team over a safe channel, then delete it.");
            return ExitCodes.Success;
        }
    }

    private static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
