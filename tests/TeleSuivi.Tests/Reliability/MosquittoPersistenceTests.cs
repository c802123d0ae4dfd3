using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary>
/// What the installed mosquitto keeps of an offline persistent session across its restart (SIGTERM, persistence on),
/// the fact behind <c>Broker:SharedGroup</c>'s default (README, "Ingestion"). mosquitto 2.0.x saves a session's plain
/// subscriptions but not its shared ones: after the restart, a reading on a shared-only topic is accepted with the
/// PUBACK reason "no matching subscribers" and dropped. If this test starts failing for the shared case, the broker
/// has changed: revisit that README section and the default.
/// </summary>
public sealed class MosquittoPersistenceTests
{
    private const int Messages = 10;

    [Theory]
    [InlineData(false, Messages, MqttClientPublishReasonCode.Success)]
    [InlineData(true, 0, MqttClientPublishReasonCode.NoMatchingSubscribers)]
    public async Task Restart_SessionOffline_PlainSubscriptionStillQueuesReadingsSharedOneRoutesThemToNobody(bool shared, int expectedQueued, MqttClientPublishReasonCode expectedPuback)
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..10];
        var topic = $"telesuivi/v1/devices/withings/{id}";
        var filter = shared ? $"$share/g-{id}/telesuivi/v1/devices/#" : "telesuivi/v1/devices/#";
        var marker = $"test/marker/{id}";
        var session = Options(mosquitto.Url, $"w-{id}");
        var received = new List<string>();
        using var worker = new MqttClientFactory().CreateMqttClient();
        worker.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        await worker.ConnectAsync(session, cancel);
        await worker.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancel);
        await worker.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(600).Build(), cancel);

        await mosquitto.StopAsync();
        await mosquitto.RestartAsync();
        using var gateway = new MqttClientFactory().CreateMqttClient();
        await gateway.ConnectAsync(Options(mosquitto.Url, $"gw-{id}"), cancel);
        var pubacks = new List<MqttClientPublishReasonCode>();
        for (var i = 0; i < Messages; i++)
        {
            var result = await gateway.PublishAsync(Message(topic, i), cancel);
            pubacks.Add(result.ReasonCode);
        }

        // Resumed without subscribing to the contract topics again. A session's queued messages are sent in order
        // right after CONNACK, so once the marker (subscribed to now, published last) arrives, all of them have.
        var resumed = await worker.ConnectAsync(session, cancel);
        await worker.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(marker, MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancel);
        await gateway.PublishAsync(Message(marker, 0), cancel);
        await Poll.UntilAsync(() => Task.FromResult(Snapshot(received)), r => r.Contains(marker), TimeSpan.FromSeconds(10), "the marker published after the readings");

        Assert.True(resumed.IsSessionPresent, "mosquitto kept the worker's session across its restart");
        Assert.All(pubacks, code => Assert.Equal(expectedPuback, code));
        Assert.Equal(expectedQueued, Snapshot(received).Count(t => t == topic));
    }

    private static List<string> Snapshot(List<string> received)
    {
        lock (received)
        {
            return [.. received];
        }
    }

    private static MqttClientOptions Options(Uri broker, string clientId) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(600)
            .Build();

    private static MqttApplicationMessage Message(string topic, int i) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes($"reading {i}"))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
}
