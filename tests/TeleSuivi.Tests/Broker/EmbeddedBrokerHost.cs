using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Broker;

/// <summary>
/// One real <c>telesuivi serve</c> on its embedded broker (authentication on, the default) for the broker tests:
/// two patients with a device each, both devices and one zone's station given accounts with the real CLI.
/// </summary>
public sealed class EmbeddedBrokerHost : IAsyncLifetime
{
    private readonly string suffix = Guid.NewGuid().ToString("N")[..8];

    public TeleSuiviProcess Host { get; private set; } = null!;

    public string PatientA => $"pa-{suffix}";

    public string DeviceA => $"da-{suffix}";

    public string PatientB => $"pb-{suffix}";

    public string DeviceB => $"db-{suffix}";

    public const string Zone = "75011";

    public string SecretA { get; private set; } = null!;

    public string SecretB { get; private set; } = null!;

    public string StationSecret { get; private set; } = null!;

    /// <summary>The ingest worker's client id: the session holding every queued reading.</summary>
    public string IngestClientId { get; } = $"test-ingest-{Guid.NewGuid():N}";

    public async ValueTask InitializeAsync()
    {
        Host = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string> { ["TELESUIVI_BROKER__CLIENTID"] = IngestClientId });
        await Host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var since = DateTimeOffset.UtcNow.AddDays(-30);
        await RegistryBundles.ImportAsync(Host.BaseUrl, RegistryBundles.PatientWithDevice(PatientA, DeviceA, since, postalCode: Zone));
        await RegistryBundles.ImportAsync(Host.BaseUrl, RegistryBundles.PatientWithDevice(PatientB, DeviceB, since, postalCode: Zone));
        SecretA = await DeviceAccounts.IssueDeviceAsync(Host.DataDirectory, DeviceA);
        SecretB = await DeviceAccounts.IssueDeviceAsync(Host.DataDirectory, DeviceB);
        StationSecret = await DeviceAccounts.IssueStationAsync(Host.DataDirectory, Zone);
    }

    public Uri Broker => new($"mqtt://127.0.0.1:{Host.MqttPort}");

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}
