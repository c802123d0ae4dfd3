using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Bench;

/// <summary>The physical limit of this traffic: the same messages, publishers and QoS 1, received by a plain MQTTnet subscriber instead of the platform.</summary>
public sealed record ReferenceResult(long Published, long Received, double PublishedPerSecond, double ReceivedPerSecond, double Seconds, string Broker, string Note);

/// <summary>
/// Measures <see cref="ReferenceResult"/>. On the embedded broker the bench runs the platform's own broker
/// (<see cref="EmbeddedBroker"/>: same options, same registry and device accounts, same authorisation) in its own
/// process, before the platform starts, with a subscriber logged in as the ingest workers are; on an external broker,
/// the same broker the platform will use, before the platform subscribes (its session does not exist yet, so the
/// broker queues nothing for it).
/// </summary>
public static class RawBrokerReference
{
    public static async Task<ReferenceResult> MeasureAsync(
        BrokerAddress address,
        BrokerOptions brokerOptions,
        DeviceRegistry registry,
        IReadOnlyDictionary<string, string>? secrets,
        IEnumerable<string> accounts,
        IReadOnlyList<BenchMessage> messages,
        int maxInFlight,
        Action<string, long, long> progress,
        CancellationToken cancellationToken)
    {
        EmbeddedBroker? broker = null;
        string? userName = address.UserName;
        string? password = address.Password;
        if (address.IsEmbedded)
        {
            var options = Options.Create(brokerOptions);
            var ingest = new IngestAccount(options);
            (userName, password) = (ingest.UserName, ingest.Password);
            broker = new EmbeddedBroker(options, registry, ingest, new BrokerRefusals(), NullLogger<EmbeddedBroker>.Instance);
            await broker.StartAsync(cancellationToken);
        }

        try
        {
            long received = 0;
            long lastReceived = 0;
            using var subscriber = new MqttClientFactory().CreateMqttClient();
            subscriber.ApplicationMessageReceivedAsync += _ =>
            {
                Interlocked.Increment(ref received);
                Interlocked.Exchange(ref lastReceived, Stopwatch.GetTimestamp());
                return Task.CompletedTask;
            };
            var login = new MqttClientOptionsBuilder()
                .WithTcpServer(address.Host, address.Port)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .WithClientId($"telesuivi-bench-reference-{Guid.NewGuid():N}")
                .WithCleanStart(true)
                .WithReceiveMaximum((ushort)Math.Clamp(brokerOptions.ReceiveMaximum, 1, ushort.MaxValue));
            if (userName is not null)
            {
                login.WithCredentials(userName, password);
            }

            var connected = await subscriber.ConnectAsync(login.Build(), cancellationToken);
            if (connected.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new InvalidOperationException($"{address.Display} refused the reference subscriber: {connected.ResultCode} {connected.ReasonString}");
            }

            await subscriber.SubscribeAsync(
                new MqttClientSubscribeOptionsBuilder().WithTopicFilter(f => f.WithTopic(MqttIngestClient.TopicFilters[0]).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build(),
                cancellationToken);

            await using var publishers = new DevicePublishers(address, secrets);
            await publishers.ConnectAsync(accounts, null, cancellationToken);
            var run = await publishers.PublishAsync(messages, null, maxInFlight, done => progress("reference: raw broker", done, messages.Count), cancellationToken);
            // A broker that dropped messages never delivers them: stop waiting once nothing arrived for 3 s.
            while (Interlocked.Read(ref received) < run.Acknowledged
                && Stopwatch.GetElapsedTime(Math.Max(Interlocked.Read(ref lastReceived), run.LastAcknowledged)) < TimeSpan.FromSeconds(3))
            {
                await Task.Delay(10, cancellationToken);
            }

            var seconds = Stopwatch.GetElapsedTime(run.FirstStart, Interlocked.Read(ref lastReceived)).TotalSeconds;
            await subscriber.DisconnectAsync(cancellationToken: cancellationToken);
            var note = run.Refused > 0 ? $"{run.Refused} refused by the broker: {run.FirstError}" : string.Empty;
            return new ReferenceResult(run.Acknowledged, received, run.AcknowledgedPerSecond, received / Math.Max(seconds, 1e-9), seconds, address.Display, note);
        }
        finally
        {
            if (broker is not null)
            {
                await broker.StopAsync(CancellationToken.None);
                broker.Dispose();
            }
        }
    }
}
