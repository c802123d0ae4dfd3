namespace TeleSuivi.Tests.Infrastructure;

/// <summary>
/// A mosquitto of one test's own, started with infra/services as the shared one is: for a test that floods the broker
/// (every server connected to the shared mosquitto would receive that traffic, and dead-letter it as unknown devices).
/// </summary>
public sealed class PrivateMosquitto : IAsyncDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("telesuivi-mosquitto-").FullName;

    private PrivateMosquitto()
    {
    }

    public Uri Url { get; private set; } = null!;

    /// <summary><see cref="Url"/> as the command-line option takes it (no trailing slash).</summary>
    public string BrokerOption => Url.ToString().TrimEnd('/');

    public static async Task<PrivateMosquitto> StartAsync()
    {
        var mosquitto = new PrivateMosquitto();
        var started = await ShellScript.RunAsync("services/start-mosquitto.sh", mosquitto.root);
        mosquitto.Url = new Uri(ShellScript.Value(started, "MQTT_URL"));
        return mosquitto;
    }

    /// <summary>SIGTERM: mosquitto saves its persistence file (sessions and their queued QoS 1 messages) and exits.</summary>
    public Task StopAsync() => ShellScript.RunAsync("services/stop.sh", root);

    /// <summary>Starts it again on the same port with the same persistence file.</summary>
    public Task RestartAsync() => ShellScript.RunAsync("services/start-mosquitto.sh", root, Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(root, recursive: true);
    }
}
