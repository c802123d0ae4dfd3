using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>One MQTT connection publishing at QoS 1 and waiting for each PUBACK: a steady stream without a process per message.</summary>
public sealed class MqttTestPublisher : IAsyncDisposable
{
    private readonly IMqttClient client;

    private MqttTestPublisher(IMqttClient client) => this.client = client;

    /// <summary>Connects anonymously, or with a broker account (<paramref name="userName"/>, <paramref name="secret"/>).</summary>
    public static async Task<MqttTestPublisher> ConnectAsync(Uri broker, string? userName = null, string? secret = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithClientId($"test-pub-{Guid.NewGuid():N}").WithCleanStart();
        if (userName is not null)
        {
            options.WithCredentials(userName, secret);
        }

        await client.ConnectAsync(options.Build(), TestContext.Current.CancellationToken);
        return new MqttTestPublisher(client);
    }

    public Task PublishAsync(string topic, string payload) => PublishAsync(topic, Encoding.UTF8.GetBytes(payload));

    public async Task PublishAsync(string topic, byte[] payload)
    {
        var result = await client.PublishAsync(
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(),
            TestContext.Current.CancellationToken);
        if (!result.IsSuccess)
        {
            throw new InvalidOperationException($"publish to {topic} failed: {result.ReasonCode} {result.ReasonString}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (client.IsConnected)
        {
            await client.DisconnectAsync();
        }

        client.Dispose();
    }
}
