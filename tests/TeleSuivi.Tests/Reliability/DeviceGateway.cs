using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace TeleSuivi.Tests.Reliability;

/// <summary>
/// A device gateway publishing readings at QoS 1 with a persistent session, as one in the field does: a reading it
/// could not get a PUBACK for (broker down, connection lost) is kept and published again once it has reconnected.
/// Each reading acknowledged by the broker is recorded in the ledger, which is what the platform must account for.
/// </summary>
public sealed class DeviceGateway : IAsyncDisposable
{
    private static readonly TimeSpan ReconnectFor = TimeSpan.FromSeconds(90);

    private readonly IMqttClient client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions options;
    private readonly List<PublishedReading> unrouted = [];

    private DeviceGateway(Uri broker) =>
        options = new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId($"test-gateway-{Guid.NewGuid():N}")
            .WithCleanStart(false)
            .WithSessionExpiryInterval(600)
            .WithTimeout(TimeSpan.FromSeconds(5))
            .Build();

    /// <summary>Publications the broker did not acknowledge and that were sent again after a reconnection.</summary>
    public int Republished { get; private set; }

    /// <summary>
    /// Readings whose PUBACK said "no matching subscribers" (MQTT 5 reason 0x10): accepted by the broker and delivered
    /// to nobody. MQTTnet counts that reason as a success.
    /// </summary>
    public IReadOnlyList<PublishedReading> Unrouted
    {
        get
        {
            lock (unrouted)
            {
                return [.. unrouted];
            }
        }
    }

    /// <summary>
    /// Whether a "no matching subscribers" PUBACK counts as not delivered and the reading is published again, as the
    /// device contract asks of MQTT 5 gateways (README, "Ingestion"): telesuivi/v1 topics always have the platform as
    /// subscriber, so nobody subscribed means the platform is not (yet) listening.
    /// </summary>
    public bool RepublishUnrouted { get; private init; }

    public static async Task<DeviceGateway> ConnectAsync(Uri broker, bool republishUnrouted = false)
    {
        var stream = new DeviceGateway(broker) { RepublishUnrouted = republishUnrouted };
        await stream.client.ConnectAsync(stream.options, TestContext.Current.CancellationToken);
        return stream;
    }

    /// <summary>Publishes the readings in order, <paramref name="interval"/> apart, until each one is acknowledged.</summary>
    public async Task PublishAsync(IEnumerable<PublishedReading> readings, ReadingLedger ledger, TimeSpan interval)
    {
        foreach (var reading in readings)
        {
            await PublishUntilAcknowledgedAsync(reading);
            ledger.Record(reading);
            if (interval > TimeSpan.Zero)
            {
                await Task.Delay(interval, TestContext.Current.CancellationToken);
            }
        }
    }

    private async Task PublishUntilAcknowledgedAsync(PublishedReading reading)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(reading.Topic).WithPayload(Encoding.UTF8.GetBytes(reading.Payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var attempt = 0;
        while (true)
        {
            try
            {
                if (!client.IsConnected)
                {
                    await client.ConnectAsync(options, TestContext.Current.CancellationToken);
                }

                var result = await client.PublishAsync(message, TestContext.Current.CancellationToken);
                if (result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers)
                {
                    lock (unrouted)
                    {
                        unrouted.Add(reading);
                    }

                    if (RepublishUnrouted)
                    {
                        throw new InvalidOperationException($"no subscriber for {reading.Topic} yet");
                    }
                }

                if (result.IsSuccess)
                {
                    if (attempt > 0)
                    {
                        Republished++;
                    }

                    return;
                }

                throw new InvalidOperationException($"publish refused: {result.ReasonCode} {result.ReasonString}");
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !TestContext.Current.CancellationToken.IsCancellationRequested)
            {
                if (clock.Elapsed > ReconnectFor)
                {
                    throw new TimeoutException($"the broker did not take {reading.Topic} back within {ReconnectFor.TotalSeconds:F0} s", ex);
                }

                attempt++;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * attempt, 1000)), TestContext.Current.CancellationToken);
            }
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
