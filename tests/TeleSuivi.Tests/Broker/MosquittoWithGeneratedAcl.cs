using System.Diagnostics;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Broker;

/// <summary>
/// A mosquitto of its own (started with infra/services, as the shared one) that enforces the password file and ACL
/// written by <c>telesuivi broker mosquitto-config</c> from a registry, and a <c>telesuivi serve</c> ingesting from it
/// as the platform user, whose password file line is made by the real mosquitto_passwd.
/// </summary>
public sealed class MosquittoWithGeneratedAcl : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("telesuivi-acl-").FullName;
    private readonly string suffix = Guid.NewGuid().ToString("N")[..8];

    public const string Zone = "44000";

    public TeleSuiviProcess Host { get; private set; } = null!;

    public Uri Broker { get; private set; } = null!;

    public string DataDirectory => Path.Combine(root, "data");

    public string ConfigurationDirectory => Path.Combine(root, "mosquitto-config");

    private string MosquittoDirectory => Path.Combine(root, "mosquitto");

    public string PatientA => $"pa-{suffix}";

    public string DeviceA => $"da-{suffix}";

    public string PatientB => $"pb-{suffix}";

    public string DeviceB => $"db-{suffix}";

    public IReadOnlyDictionary<string, string> Secrets { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var since = DateTimeOffset.UtcNow.AddDays(-30);
        await ImportAsync(RegistryBundles.PatientWithDevice(PatientA, DeviceA, since, postalCode: Zone));
        await ImportAsync(RegistryBundles.PatientWithDevice(PatientB, DeviceB, since, postalCode: Zone));
        var devices = Path.Combine(root, "devices.csv");
        var stations = Path.Combine(root, "stations.csv");
        await RunAsync("devices", "credentials", DeviceA, DeviceB, "--out", devices, "--data", DataDirectory);
        await RunAsync("stations", "credentials", Zone, "69003", "--out", stations, "--data", DataDirectory);
        Secrets = Csv(devices).Concat(Csv(stations)).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);

        var platformPassword = Guid.NewGuid().ToString("N");
        var platform = Path.Combine(root, "platform-passwords");
        await MosquittoPasswdAsync("-c", "-b", platform, "telesuivi", platformPassword);
        await RunAsync("broker", "mosquitto-config", "--data", DataDirectory, "--out", ConfigurationDirectory, "--platform-passwords", platform);

        var started = await ShellScript.RunAsync(
            "services/start-mosquitto.sh",
            new Dictionary<string, string>
            {
                ["MOSQUITTO_PASSWORD_FILE"] = Path.Combine(ConfigurationDirectory, "mosquitto-passwords"),
                ["MOSQUITTO_ACL_FILE"] = Path.Combine(ConfigurationDirectory, "mosquitto-acl"),
            },
            MosquittoDirectory);
        Broker = new Uri(ShellScript.Value(started, "MQTT_URL"));
        Host = TeleSuiviProcess.Start("serve", ["--broker", $"mqtt://telesuivi:{platformPassword}@127.0.0.1:{Broker.Port}"], DataDirectory);
        await Host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        await ShellScript.RunAsync("services/stop.sh", MosquittoDirectory);
        Directory.Delete(root, recursive: true);
    }

    private async Task ImportAsync(string bundle)
    {
        var file = Path.Combine(root, $"bundle-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, bundle);
        await RunAsync("import", file, "--data", DataDirectory);
    }

    private static async Task RunAsync(params string[] arguments)
    {
        var run = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(60), arguments);
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"telesuivi {string.Join(' ', arguments)} failed ({run.ExitCode}): {run.Error}{run.Output}");
        }
    }

    /// <summary>The real mosquitto_passwd of the mosquitto package.</summary>
    public static async Task MosquittoPasswdAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("mosquitto_passwd") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start mosquitto_passwd (apt-get install mosquitto)");
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"mosquitto_passwd failed ({process.ExitCode}): {error}");
        }
    }

    private static IEnumerable<KeyValuePair<string, string>> Csv(string path) =>
        File.ReadAllLines(path).Skip(1).Where(line => line.Length > 0).Select(line => line.Split(',')).Select(fields => KeyValuePair.Create(fields[0], fields[3]));
}
