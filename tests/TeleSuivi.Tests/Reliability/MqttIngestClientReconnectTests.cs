using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary>
/// The ingest client's acknowledgements across a reconnection, on a real mosquitto restarted in between. Packet
/// identifiers belong to one connection: a PUBACK that MQTTnet would send late, on the next connection, could
/// acknowledge another message than its own.
/// </summary>
public sealed class MqttIngestClientReconnectTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AcknowledgeAsync_MessageReceivedBeforeABrokerRestart_RefusedAndTheRedeliveredCopyAcknowledged()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        var id = Guid.NewGuid().ToString("N")[..10];
        var broker = Options.Create(new BrokerOptions { Url = mosquitto.BrokerOption, ClientId = $"w-{id}", ReconnectMaxDelay = TimeSpan.FromSeconds(1) });
        var channel = new IngestChannel(Options.Create(new IngestOptions { ChannelCapacity = 10 }));
        var state = new BrokerConnectionState();
        using var ingest = new MqttIngestClient(broker, new IngestAccount(broker), channel, state, TimeProvider.System, NullLogger<MqttIngestClient>.Instance);
        await ingest.StartAsync(cancel);
        try
        {
            var topic = $"telesuivi/v1/devices/withings/{id}";
            await PublishAsync(mosquitto.Url, topic);
            var first = await channel.Reader.ReadAsync(cancel).AsTask().WaitAsync(Deadline, cancel);

            await mosquitto.StopAsync();
            await Poll.UntilAsync(() => Task.FromResult(state.IsConnected), connected => !connected, Deadline, "the client to see the broker gone");
            await mosquitto.RestartAsync();
            var redelivered = await channel.Reader.ReadAsync(cancel).AsTask().WaitAsync(Deadline, cancel);

            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => first.AcknowledgeAsync(cancel));
            Assert.Contains("connection the message came on is closed", refused.Message, StringComparison.Ordinal);
            Assert.Equal(topic, redelivered.Topic);
            Assert.Equal(first.Payload, redelivered.Payload);
            await Poll.UntilAsync(() => Task.FromResult(state.IsConnected), connected => connected, Deadline, "the client to subscribe again");
            await redelivered.AcknowledgeAsync(cancel);
        }
        finally
        {
            channel.MarkDrained(); // no processor here: nothing else in flight to wait for
            await ingest.StopAsync(CancellationToken.None);
        }
    }

    private static async Task PublishAsync(Uri broker, string topic)
    {
        using var gateway = new MqttClientFactory().CreateMqttClient();
        await gateway.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithClientId($"gw-{Guid.NewGuid():N}").Build(), TestContext.Current.CancellationToken);
        await gateway.PublishAsync(
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes("{\"reading\":1}")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(),
            TestContext.Current.CancellationToken);
        await gateway.DisconnectAsync();
    }
}
