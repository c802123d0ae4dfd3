using System.Text;
using MQTTnet;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Broker;

/// <summary>
/// Real MQTTnet clients against the embedded broker of a real <c>telesuivi serve</c>: who may connect, publish where,
/// subscribe to what; what is refused is never stored.
/// </summary>
public sealed class EmbeddedBrokerAuthenticationTests(EmbeddedBrokerHost fixture) : IClassFixture<EmbeddedBrokerHost>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Connect_WithWrongSecret_IsRefusedAsBadUserNameOrPassword()
    {
        var (client, result) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, fixture.DeviceA, fixture.SecretB);

        Assert.Null(client);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result);
        // The process's log reaches the test asynchronously.
        await Poll.UntilAsync(() => fixture.Host.Output.Contains($"MQTT CONNECT refused: user {fixture.DeviceA}", StringComparison.Ordinal), Deadline, "the refusal to be logged");
        Assert.DoesNotContain(fixture.SecretB, fixture.Host.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-a-device", "whatever")]
    [InlineData(null, null)]
    public async Task Connect_AsUnknownUserOrAnonymous_IsRefused(string? userName, string? secret)
    {
        var (client, result) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, userName, secret);

        Assert.Null(client);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result);
    }

    [Fact]
    public async Task Publish_OnAnotherDevicesTopic_IsRefusedAndNothingStored()
    {
        var (client, connected) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, fixture.DeviceA, fixture.SecretA);
        Assert.Equal(MqttClientConnectResultCode.Success, connected);
        using var device = client!;
        var refusalsBefore = await RefusalsAsync("publish");

        var forged = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/withings/{fixture.DeviceB}", Withings(DateTimeOffset.UtcNow.AddMinutes(-3), 9100));
        var forgedGatt = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/gatt/{fixture.DeviceB}/2a37", [0x00, 0x99]);
        var own = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/withings/{fixture.DeviceA}", Withings(DateTimeOffset.UtcNow.AddMinutes(-2), 7250));

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forgedGatt.ReasonCode);
        Assert.True(own.IsSuccess, $"{own.ReasonCode} {own.ReasonString}");
        // The own reading, published last on the same connection, is stored: the forged ones would be by now.
        var stored = await Poll.UntilAsync(() => StoredData.ObservationsAsync(fixture.Host.DataDirectory, $"Patient/{fixture.PatientA}"), o => o.Count >= 1, Deadline, "device A's own reading");
        Assert.Equal($"Device/{fixture.DeviceA}", Assert.Single(stored).Device?.Reference);
        // Device B's own readings (another test of this class publishes some) may be there; the forged ones, a weight
        // and a heart rate of 153 /min, may not.
        Assert.DoesNotContain(await StoredData.ObservationsAsync(fixture.Host.DataDirectory, $"Patient/{fixture.PatientB}"), o =>
            o.Code.Coding[0].Code == "29463-7" || (o.Value as Hl7.Fhir.Model.Quantity)?.Value == 153m);
        Assert.DoesNotContain(await StoredData.DeadLettersAsync(fixture.Host.BaseUrl), l => l.GetProperty("topic").GetString()!.Contains(fixture.DeviceB, StringComparison.Ordinal));
        Assert.Equal(refusalsBefore + 2, await RefusalsAsync("publish"));
        await Poll.UntilAsync(() => fixture.Host.Output.Contains($"MQTT PUBLISH refused: {fixture.DeviceA}", StringComparison.Ordinal), Deadline, "the refusal to be logged");
    }

    [Fact]
    public async Task Publish_UnderItsRegisteredSerialNumber_IsAccepted_OutsideTheContract_IsRefused()
    {
        var (client, _) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, fixture.DeviceB, fixture.SecretB);
        using var device = client!;

        // RegistryBundles gives each device the identifier SN-{id}: its other name on the wire.
        var underSerial = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/gatt/SN-{fixture.DeviceB}/2a37", [0x00, 0x48]);
        var elsewhere = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/commands/{fixture.DeviceB}", [0x01]);
        var environment = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/environment/{EmbeddedBrokerHost.Zone}", Encoding.UTF8.GetBytes("""{"pm25":1}"""));

        Assert.True(underSerial.IsSuccess, $"{underSerial.ReasonCode} {underSerial.ReasonString}");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, elsewhere.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, environment.ReasonCode);
    }

    [Fact]
    public async Task Subscribe_AsDevice_IsRefused()
    {
        var (client, _) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, fixture.DeviceA, fixture.SecretA);
        using var device = client!;

        var result = await device.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter("telesuivi/v1/devices/#").WithTopicFilter($"telesuivi/v1/devices/withings/{fixture.DeviceA}").Build(),
            TestContext.Current.CancellationToken);

        Assert.All(result.Items, item => Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, item.ResultCode));
    }

    [Fact]
    public async Task Connect_AsDeviceWithTheIngestWorkersClientId_IsRefused()
    {
        // The ingest session queues every patient's readings: a device resuming it would read them all.
        var (client, result) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, fixture.DeviceA, fixture.SecretA, clientId: fixture.IngestClientId);

        Assert.Null(client);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result);
        Assert.Equal("Healthy", (await HostProbes.ReadinessCheckAsync(fixture.Host.BaseUrl, "broker")).Status);
    }

    [Fact]
    public async Task Station_PublishesToItsZoneOnly()
    {
        var (client, connected) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, $"station/{EmbeddedBrokerHost.Zone}", fixture.StationSecret);
        Assert.Equal(MqttClientConnectResultCode.Success, connected);
        using var station = client!;
        var time = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var reading = Encoding.UTF8.GetBytes($$"""{"time":"{{time}}","pm25":17.5}""");

        var otherZone = await DeviceAccounts.PublishAsync(station, "telesuivi/v1/environment/69003", reading);
        var asDevice = await DeviceAccounts.PublishAsync(station, $"telesuivi/v1/devices/withings/{fixture.DeviceA}", Withings(DateTimeOffset.UtcNow.AddMinutes(-1), 7000));
        var own = await DeviceAccounts.PublishAsync(station, $"telesuivi/v1/environment/{EmbeddedBrokerHost.Zone}", reading);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, otherZone.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, asDevice.ReasonCode);
        Assert.True(own.IsSuccess, $"{own.ReasonCode} {own.ReasonString}");
        await Poll.UntilAsync(() => StoredData.ObservationsAsync(fixture.Host.DataDirectory, $"Location/{EmbeddedBrokerHost.Zone}"), o => o.Count >= 1, Deadline, "the station's reading");
        Assert.Empty(await StoredData.ObservationsAsync(fixture.Host.DataDirectory, "Location/69003"));
    }

    [Fact]
    public async Task Publish_ByDeviceWithAccountButNoAssignment_IsDeadLetteredAsUnassigned()
    {
        var device = $"du-{Guid.NewGuid():N}";
        await RegistryBundles.ImportAsync(fixture.Host.BaseUrl, RegistryBundles.PatientWithDevice($"pu-{device}", device, assignedFrom: null));
        var secret = await DeviceAccounts.IssueDeviceAsync(fixture.Host.DataDirectory, device);
        var (client, _) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, device, secret);
        using var unassigned = client!;

        var result = await DeviceAccounts.PublishAsync(unassigned, $"telesuivi/v1/devices/withings/{device}", Withings(DateTimeOffset.UtcNow.AddMinutes(-1), 6900));

        Assert.True(result.IsSuccess, $"{result.ReasonCode} {result.ReasonString}");
        var letters = await Poll.UntilAsync(
            async () => (await StoredData.DeadLettersAsync(fixture.Host.BaseUrl)).Where(l => l.GetProperty("topic").GetString()!.EndsWith(device, StringComparison.Ordinal)).ToList(),
            found => found.Count >= 1,
            Deadline,
            "the unassigned device's reading to be dead-lettered");
        Assert.Equal("unassigned-device", Assert.Single(letters).GetProperty("reasonCode").GetString());
    }

    [Fact]
    public async Task Revoke_ThenConnect_IsRefused()
    {
        var device = $"dc-{Guid.NewGuid():N}";
        await RegistryBundles.ImportAsync(fixture.Host.BaseUrl, RegistryBundles.PatientWithDevice($"pc-{device}", device, DateTimeOffset.UtcNow.AddDays(-1)));
        var secret = await DeviceAccounts.IssueDeviceAsync(fixture.Host.DataDirectory, device);
        var (before, accepted) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, device, secret);
        before?.Dispose();

        var revoke = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(30), "devices", "revoke", device, "--data", fixture.Host.DataDirectory);
        var (after, refused) = await DeviceAccounts.ConnectAsync("127.0.0.1", fixture.Host.MqttPort, device, secret);

        Assert.Equal(MqttClientConnectResultCode.Success, accepted);
        Assert.Equal(0, revoke.ExitCode);
        Assert.Null(after);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused);
    }

    private async Task<double> RefusalsAsync(string action) =>
        (await HostProbes.MetricsAsync(fixture.Host.BaseUrl)).GetValueOrDefault($"telesuivi_broker_refusals_total{{action=\"{action}\",reason=\"not-authorized\"}}");

    internal static byte[] Withings(DateTimeOffset time, int centigrams) =>
        Encoding.UTF8.GetBytes($$"""{"measuregrps":[{"date":{{time.ToUnixTimeSeconds()}},"measures":[{"value":{{centigrams}},"type":1,"unit":-2}]}]}""");
}
