using System.CommandLine;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi broker mosquitto-config</c>: mosquitto's password and ACL files from the registry's accounts.</summary>
public static class BrokerCommand
{
    public static Command Create()
    {
        var data = DevicesCommand.DataOption();
        var output = new Option<string>("--out") { Description = "Folder to write mosquitto-passwords and mosquitto-acl to", Required = true, HelpName = "DIR" };
        var platform = new Option<string?>("--platform-passwords")
        {
            Description = "mosquitto_passwd file of the platform's own users (ingest, health check), copied first (infra/deploy/make-secrets.sh writes it)",
            HelpName = "FILE",
        };
        var ingestUser = new Option<string>("--ingest-user") { Description = "Username of the ingest workers: reads every reading (default telesuivi)", DefaultValueFactory = _ => "telesuivi", HelpName = "NAME" };
        var healthUser = new Option<string>("--healthcheck-user") { Description = "Username of the health check: reads $SYS/broker/uptime ('' for none; default healthcheck)", DefaultValueFactory = _ => "healthcheck", HelpName = "NAME" };
        var generate = new Command("mosquitto-config", "Write mosquitto 2.0's password_file and acl_file from the registry's device and station accounts (hashes only: no secret is needed).")
        {
            data, output, platform, ingestUser, healthUser,
        };
        generate.SetAction((parse, ct) => DevicesCommand.WithRegistryAsync(parse.GetValue(data)!, async (registry, _) =>
        {
            var platformFile = parse.GetValue(platform);
            if (platformFile is not null && !File.Exists(platformFile))
            {
                await Console.Error.WriteLineAsync($"error: {Path.GetFullPath(platformFile)} does not exist");
                return ExitCodes.StartFailed;
            }

            var credentials = await registry.CredentialsAsync(ct);
            MosquittoConfiguration configuration;
            try
            {
                configuration = MosquittoConfiguration.Build(
                    credentials,
                    registry.Devices,
                    platformFile is null ? string.Empty : await File.ReadAllTextAsync(platformFile, ct),
                    parse.GetValue(ingestUser)!,
                    parse.GetValue(healthUser) is { Length: > 0 } name ? name : null);
            }
            catch (FormatException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }

            foreach (var warning in configuration.Warnings)
            {
                await Console.Error.WriteLineAsync($"warning: {warning}");
            }

            var target = Path.GetFullPath(parse.GetValue(output)!);
            configuration.WriteTo(target);
            Console.WriteLine($"Wrote {Path.Combine(target, MosquittoConfiguration.PasswordFileName)} and {Path.Combine(target, MosquittoConfiguration.AclFileName)}: " +
                $"{credentials.Count(c => c.Kind == BrokerAccountKind.Device)} device and {credentials.Count(c => c.Kind == BrokerAccountKind.Station)} station account(s). Reload mosquitto (SIGHUP) to apply them.");
            return ExitCodes.Success;
        }));

        return new Command("broker", "Configure an external MQTT broker for TeleSuivi's devices.") { generate };
    }
}
