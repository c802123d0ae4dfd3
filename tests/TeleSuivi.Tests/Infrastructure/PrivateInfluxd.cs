using System.Globalization;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>
/// An influxd of one test's own, started with infra/services/start-influxd.sh on a fixed free port, that the test
/// may stop (stop.sh) and start again on the same port with the same data, as an outage would.
/// </summary>
public sealed class PrivateInfluxd : IAsyncDisposable
{
    private PrivateInfluxd(string directory, int port)
    {
        Directory = directory;
        Port = port;
        Url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
    }

    public string Directory { get; }

    public int Port { get; }

    public Uri Url { get; }

    public static async Task<PrivateInfluxd> StartAsync()
    {
        var influx = new PrivateInfluxd(System.IO.Directory.CreateTempSubdirectory("telesuivi-influxd-").FullName, LoopbackPort.Free());
        await influx.RestartAsync();
        return influx;
    }

    /// <summary><c>influxdb://127.0.0.1:PORT/DATABASE</c> for <c>--store</c>.</summary>
    public string StoreUrl(string database) => $"influxdb://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/{database}";

    /// <summary>SIGTERM (then SIGKILL after 10 s), and waits until it is gone.</summary>
    public Task StopAsync() => ShellScript.RunAsync("services/stop.sh", Directory);

    /// <summary>SIGKILL, as a crash or the OOM killer would: nothing flushed, no goodbye to its clients.</summary>
    public async Task KillAsync()
    {
        var pidFile = Path.Combine(Directory, "influxd.pid");
        using var influxd = System.Diagnostics.Process.GetProcessById(int.Parse(await File.ReadAllTextAsync(pidFile), CultureInfo.InvariantCulture));
        influxd.Kill();
        File.Delete(pidFile);
        await Poll.UntilAsync(() => influxd.HasExited, TimeSpan.FromSeconds(10), "influxd to die");
    }

    /// <summary>Starts it on the same port with the same data; returns once <c>/ping</c> answers.</summary>
    public Task RestartAsync() => ShellScript.RunAsync("services/start-influxd.sh", Directory, Port.ToString(CultureInfo.InvariantCulture));

    public InfluxClient Client() => new(new InfluxClientOptions { BaseUri = Url });

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean in /tmp.
        }
    }
}
