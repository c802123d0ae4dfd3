[assembly: AssemblyFixture(typeof(TeleSuivi.Tests.Infrastructure.ExternalServices))]

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>
/// A real mosquitto and a real influxd, started once for the whole test run on free loopback ports in a
/// temporary folder (with infra/services/, as developers start them) and stopped at the end.
/// Tests isolate their data by topic prefix, client id and database name rather than by restarting servers.
/// </summary>
public sealed class ExternalServices : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("telesuivi-services-").FullName;

    /// <summary><c>mqtt://127.0.0.1:PORT</c> of the shared mosquitto.</summary>
    public Uri MqttUrl { get; private set; } = null!;

    /// <summary><c>http://127.0.0.1:PORT</c> of the shared influxd (v1 HTTP API).</summary>
    public Uri InfluxUrl { get; private set; } = null!;

    public string MosquittoDirectory => Path.Combine(root, "mosquitto");

    public string InfluxDirectory => Path.Combine(root, "influxd");

    /// <summary>A fresh database name, so that each test sees only its own data.</summary>
    public static string NewDatabaseName(string prefix = "t") => $"{prefix}_{Guid.NewGuid():N}";

    /// <summary><c>influxdb://127.0.0.1:PORT/DATABASE</c> for <c>--store</c>.</summary>
    public string InfluxStoreUrl(string database) => $"influxdb://{InfluxUrl.Host}:{InfluxUrl.Port}/{database}";


    public async ValueTask InitializeAsync()
    {
        var mosquitto = StartMosquittoAsync();
        var influx = ShellScript.RunAsync("services/start-influxd.sh", InfluxDirectory);
        await mosquitto;
        InfluxUrl = new Uri(ShellScript.Value(await influx, "INFLUX_URL"));
    }

    /// <summary>Starts (or restarts, on the same port and with the same persistence) the shared mosquitto.</summary>
    public async Task StartMosquittoAsync()
    {
        var port = MqttUrl?.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var output = port is null
            ? await ShellScript.RunAsync("services/start-mosquitto.sh", MosquittoDirectory)
            : await ShellScript.RunAsync("services/start-mosquitto.sh", MosquittoDirectory, port);
        MqttUrl = new Uri(ShellScript.Value(output, "MQTT_URL"));
    }

    public Task StopMosquittoAsync() => ShellScript.RunAsync("services/stop.sh", MosquittoDirectory);

    public async ValueTask DisposeAsync()
    {
        await ShellScript.RunAsync("services/stop.sh", MosquittoDirectory);
        await ShellScript.RunAsync("services/stop.sh", InfluxDirectory);
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a process being torn down; the OS cleans /tmp.
        }
    }
}
