using System.Net;
using System.Net.Sockets;

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

    /// <summary>
    /// A loopback TCP port nobody listens on, for a server a test is about to start, never the same twice in a run.
    /// Drawn below the kernel's range for outgoing connections: a port the kernel hands out (port 0) lies in that
    /// range, and one of the suite's many outgoing connections can take it before the server binds it (seen: a
    /// private influxd failing with "address already in use"). Also apart from infra/services/lib.sh's draws
    /// (20000–31999), so that a service script cannot pick it either.
    /// </summary>
    public static int FreeTcpPort()
    {
        if (LowestOutgoingPort() <= LastDrawnPort)
        {
            // An unusual ip_local_port_range: no range is safe from outgoing connections, so let the kernel choose.
            using var any = new TcpListener(IPAddress.Loopback, 0);
            any.Start();
            return ((IPEndPoint)any.LocalEndpoint).Port;
        }

        lock (DrawnPorts)
        {
            for (var attempt = 0; attempt < 500; attempt++)
            {
                var port = Random.Shared.Next(FirstDrawnPort, LastDrawnPort + 1);
                if (DrawnPorts.Contains(port))
                {
                    continue;
                }

                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                }
                catch (SocketException)
                {
                    continue; // someone listens there
                }

                DrawnPorts.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException($"no free TCP port found on 127.0.0.1 between {FirstDrawnPort} and {LastDrawnPort}");
    }

    private const int FirstDrawnPort = 10_000;
    private const int LastDrawnPort = 19_999;
    private static readonly HashSet<int> DrawnPorts = [];

    /// <summary>The first port of the kernel's range for outgoing connections (Linux's default is 32768).</summary>
    private static int LowestOutgoingPort()
    {
        const string Range = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(Range) && int.TryParse(File.ReadAllText(Range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], out var low)
            ? low
            : 32_768;
    }

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
