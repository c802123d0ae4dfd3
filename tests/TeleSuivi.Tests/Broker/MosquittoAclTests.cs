using System.Text;
using MQTTnet;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Broker;

/// <summary>
/// A real mosquitto 2.0 enforcing the files <c>telesuivi broker mosquitto-config</c> wrote, real MQTTnet clients as the
/// devices, and the real <c>telesuivi serve</c> reading through its shared subscription as the platform user.
/// </summary>
public sealed class MosquittoAclTests(MosquittoWithGeneratedAcl fixture) : IClassFixture<MosquittoWithGeneratedAcl>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Connect_WithWrongSecret_IsRefused()
    {
        var (client, result) = await ConnectAsync(fixture.DeviceA, fixture.Secrets[fixture.DeviceB]);

        Assert.Null(client);
        // mosquitto answers an MQTT 5 client "not authorized" for a wrong password.
        Assert.Contains(result, new[] { MqttClientConnectResultCode.NotAuthorized, MqttClientConnectResultCode.BadUserNameOrPassword });
    }

    [Fact]
    public async Task Publish_OnAnotherDevicesTopic_IsRefusedAndNotDelivered_OwnTopicIsStored()
    {
        var (client, connected) = await ConnectAsync(fixture.DeviceA, fixture.Secrets[fixture.DeviceA]);
        Assert.Equal(MqttClientConnectResultCode.Success, connected);
        using var device = client!;

        var forged = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/withings/{fixture.DeviceB}", EmbeddedBrokerAuthenticationTests.Withings(DateTimeOffset.UtcNow.AddMinutes(-3), 9100));
        var forgedGatt = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/gatt/{fixture.DeviceB}/2a37", [0x00, 0x48]);
        var own = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/withings/{fixture.DeviceA}", EmbeddedBrokerAuthenticationTests.Withings(DateTimeOffset.UtcNow.AddMinutes(-2), 7250));
        var ownGatt = await DeviceAccounts.PublishAsync(device, $"telesuivi/v1/devices/gatt/{fixture.DeviceA}/2a37", [0x00, 0x47]);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forgedGatt.ReasonCode);
        Assert.True(own.IsSuccess, $"{own.ReasonCode}");
        Assert.True(ownGatt.IsSuccess, $"{ownGatt.ReasonCode}");
        // Both own readings, published after the forged ones on the same connection, arrive through the platform's
        // $share subscription: the read rule on telesuivi/v1/# covers it. The forged ones would have by now.
        var stored = await Poll.UntilAsync(() => StoredData.ObservationsAsync(fixture.DataDirectory, $"Patient/{fixture.PatientA}"), o => o.Count >= 2, Deadline, "device A's own readings");
        Assert.All(stored, o => Assert.Equal($"Device/{fixture.DeviceA}", o.Device?.Reference));
        Assert.Empty(await StoredData.ObservationsAsync(fixture.DataDirectory, $"Patient/{fixture.PatientB}"));
        Assert.DoesNotContain(await StoredData.DeadLettersAsync(fixture.Host.BaseUrl), l => l.GetProperty("topic").GetString()!.Contains(fixture.DeviceB, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Subscribe_AsDevice_ReceivesNothing()
    {
        var (client, _) = await ConnectAsync(fixture.DeviceB, fixture.Secrets[fixture.DeviceB]);
        using var device = client!;
        var received = 0;
        device.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref received);
            return Task.CompletedTask;
        };
        var subscribed = await device.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("telesuivi/v1/#").Build(), TestContext.Current.CancellationToken);
        var (publisherClient, _) = await ConnectAsync(fixture.DeviceA, fixture.Secrets[fixture.DeviceA]);
        using var publisher = publisherClient!;

        await DeviceAccounts.PublishAsync(publisher, $"telesuivi/v1/devices/withings/{fixture.DeviceA}", EmbeddedBrokerAuthenticationTests.Withings(DateTimeOffset.UtcNow.AddMinutes(-5), 7300));
        await Poll.UntilAsync(() => StoredData.ObservationsAsync(fixture.DataDirectory, $"Patient/{fixture.PatientA}"), o => o.Any(x => x.Value is Hl7.Fhir.Model.Quantity { Value: 73.00m }), Deadline, "the reading to reach the platform");

        // Whatever mosquitto answers in the SUBACK, it checks read access at delivery: the device gets nothing.
        Assert.Single(subscribed.Items);
        Assert.Equal(0, received);
    }

    [Fact]
    public async Task Station_PublishesToItsZoneOnly()
    {
        var (client, connected) = await ConnectAsync($"station/{MosquittoWithGeneratedAcl.Zone}", fixture.Secrets[$"station/{MosquittoWithGeneratedAcl.Zone}"]);
        Assert.Equal(MqttClientConnectResultCode.Success, connected);
        using var station = client!;
        var time = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var reading = Encoding.UTF8.GetBytes($$"""{"time":"{{time}}","no2":22.0}""");

        var otherZone = await DeviceAccounts.PublishAsync(station, "telesuivi/v1/environment/69003", reading);
        var asDevice = await DeviceAccounts.PublishAsync(station, $"telesuivi/v1/devices/withings/{fixture.DeviceA}", EmbeddedBrokerAuthenticationTests.Withings(DateTimeOffset.UtcNow.AddMinutes(-1), 7000));
        var own = await DeviceAccounts.PublishAsync(station, $"telesuivi/v1/environment/{MosquittoWithGeneratedAcl.Zone}", reading);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, otherZone.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, asDevice.ReasonCode);
        Assert.True(own.IsSuccess, $"{own.ReasonCode}");
        await Poll.UntilAsync(() => StoredData.ObservationsAsync(fixture.DataDirectory, $"Location/{MosquittoWithGeneratedAcl.Zone}"), o => o.Count >= 1, Deadline, "the station's reading");
        Assert.Empty(await StoredData.ObservationsAsync(fixture.DataDirectory, "Location/69003"));
    }

    private Task<(IMqttClient? Client, MqttClientConnectResultCode Result)> ConnectAsync(string userName, string secret) =>
        DeviceAccounts.ConnectAsync(fixture.Broker.Host, fixture.Broker.Port, userName, secret);
}
