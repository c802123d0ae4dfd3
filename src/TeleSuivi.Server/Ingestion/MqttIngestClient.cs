using System.Buffers;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TeleSuivi.Server.Broker;

namespace TeleSuivi.Server.Ingestion;

/// <summary>
/// The ingest worker's MQTT connection: QoS 1, persistent session, a plain subscription (one worker) or an MQTT 5
/// shared subscription (several workers, <see cref="BrokerOptions.SharedGroup"/>), manual acknowledgement, and its own
/// reconnect loop (MQTTnet 5 has no managed client).
/// </summary>
public sealed partial class MqttIngestClient(
    IOptions<BrokerOptions> options,
    IngestAccount account,
    IngestChannel channel,
    BrokerConnectionState state,
    TimeProvider time,
    ILogger<MqttIngestClient> logger) : BackgroundService
{
    /// <summary>The topic filters of the device and environment contracts (see README, "External contracts").</summary>
    public static readonly IReadOnlyList<string> TopicFilters = ["telesuivi/v1/devices/#", "telesuivi/v1/environment/#"];

    private readonly BrokerOptions settings = options.Value;

    private readonly IMqttClient client = new MqttClientFactory().CreateMqttClient();
    private TaskCompletionSource disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource shutdown = new();

    // Held while a PUBACK is sent and while a new connection is opened: a PUBACK never reaches a connection other
    // than the one its message came on (see AcknowledgeAsync).
    private readonly SemaphoreSlim acknowledging = new(1, 1);
    private int connection;

    /// <summary>
    /// Connects once before the host reports started: a broker that cannot be reached at start-up is a
    /// configuration error, reported clearly. Later disconnections are retried for ever with back-off.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var address = settings.ResolveAddress();

        // Attached before ConnectAsync: a persistent session delivers its queued messages right after CONNACK.
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected)
            {
                state.SetDisconnected(e.Exception?.Message ?? e.ReasonString ?? e.Reason.ToString());
            }

            disconnected.TrySetResult();
            return Task.CompletedTask;
        };

        try
        {
            await ConnectAsync(address, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new ConfigurationException($"cannot connect to the MQTT broker at {address.Display}: {Describe(ex)}", ex);
        }

        await base.StartAsync(cancellationToken);
    }

    /// <summary>
    /// Graceful shutdown (SIGTERM): takes no more messages, lets the processor make durable and acknowledge every
    /// message already received, over this still-open connection, and only then disconnects. Whatever is not
    /// acknowledged when the host's shutdown timeout (Ingest:ShutdownTimeout) runs out stays with the broker and is
    /// redelivered on the next start: never lost, never stored twice.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Messages waiting to enter the full channel are dropped unacknowledged here: the broker redelivers them.
        await shutdown.CancelAsync();
        channel.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await channel.Drained.WaitAsync(cancellationToken);
            LogDrained(clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(clock.Elapsed.TotalSeconds, channel.Count);
        }

        if (client.IsConnected)
        {
            // A normal disconnect keeps the session: unacknowledged messages are redelivered on the next start.
            await client.DisconnectAsync(
                new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval((uint)settings.SessionExpiry.TotalSeconds).Build(),
                CancellationToken.None);
        }

        state.SetDisconnected("stopped");
    }

    public override void Dispose()
    {
        client.Dispose();
        shutdown.Dispose();
        acknowledging.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var address = settings.ResolveAddress();
        var attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!client.IsConnected)
                {
                    await ConnectAsync(address, stoppingToken);
                    attempt = 0;
                }

                await disconnected.Task.WaitAsync(stoppingToken);
                LogDisconnected(address.Display, state.LastError ?? "unknown reason");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                state.SetDisconnected(Describe(ex));
                var delay = ReconnectDelay(++attempt);
                LogConnectFailed(address.Display, Describe(ex), delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task ConnectAsync(BrokerAddress address, CancellationToken cancellationToken)
    {
        disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await acknowledging.WaitAsync(cancellationToken);
        try
        {
            Interlocked.Increment(ref connection);
        }
        finally
        {
            acknowledging.Release();
        }

        var result = await client.ConnectAsync(BuildClientOptions(address), cancellationToken);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"the broker refused the connection: {result.ResultCode} {result.ReasonString}");
        }

        var shared = await SubscribeAsync(result.SharedSubscriptionAvailable, cancellationToken);
        state.SetConnected(address.Display);
        LogConnected(address.Display, result.IsSessionPresent, shared ? $"shared, group '{settings.SharedGroup}'" : "plain");
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        e.AutoAcknowledge = false;
        var receivedOn = Volatile.Read(ref connection);
        var message = new IngestMessage(
            e.ApplicationMessage.Topic,
            e.ApplicationMessage.Payload.ToArray(),
            time.GetUtcNow(),
            ct => AcknowledgeAsync(e, receivedOn, ct));

        // Waiting here is the back-pressure: the receive loop pauses while the pipeline is full.
        try
        {
            await channel.Writer.WriteAsync(message, shutdown.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            // Shutting down: left unacknowledged, so the broker redelivers it to the next session.
        }
    }

    /// <summary>
    /// Sends the message's PUBACK on the connection it came on, or not at all. MQTTnet sends a late PUBACK on whatever
    /// connection is open by then, and packet identifiers are per connection: on the next one the broker redelivers
    /// the message under its old identifier, and once that is acknowledged may give the identifier to another message,
    /// which a stale PUBACK would then acknowledge before it is durable. Not sent, the broker redelivers the message
    /// and its deterministic Observation ids make the second write a no-op.
    /// </summary>
    private async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e, int receivedOn, CancellationToken cancellationToken)
    {
        await acknowledging.WaitAsync(cancellationToken);
        try
        {
            if (receivedOn != connection || !client.IsConnected)
            {
                throw new InvalidOperationException("the broker connection the message came on is closed");
            }

            await e.AcknowledgeAsync(cancellationToken);
        }
        finally
        {
            acknowledging.Release();
        }
    }

    private static string Describe(Exception ex)
    {
        var innermost = ex;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return innermost == ex ? ex.Message : $"{ex.Message} ({innermost.Message})";
    }

    internal MqttClientOptions BuildClientOptions(BrokerAddress address)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(address.Host, address.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(settings.ClientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)settings.SessionExpiry.TotalSeconds)
            .WithReceiveMaximum((ushort)Math.Clamp(settings.ReceiveMaximum, 1, ushort.MaxValue))
            .WithKeepAlivePeriod(settings.KeepAlive)
            .WithTimeout(settings.ConnectTimeout);
        if (account.UserName is not null)
        {
            builder.WithCredentials(account.UserName, account.Password);
        }

        EmbeddedBrokerCertificate.ConfigureClientTls(builder, address, settings);
        return builder.Build();
    }

    /// <summary>Subscribes to the contract topics; true when through the shared subscription.</summary>
    private async Task<bool> SubscribeAsync(bool sharedSubscriptionAvailable, CancellationToken cancellationToken)
    {
        // A broker without shared subscriptions (the embedded one) has a single worker: plain filters then.
        var shared = sharedSubscriptionAvailable && !string.IsNullOrWhiteSpace(settings.SharedGroup);
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in TopicFilters)
        {
            var topic = shared ? $"$share/{settings.SharedGroup}/{filter}" : filter;
            subscribe.WithTopicFilter(f => f.WithTopic(topic).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        }

        var result = await client.SubscribeAsync(subscribe.Build(), cancellationToken);
        foreach (var item in result.Items)
        {
            if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
            {
                throw new InvalidOperationException($"broker refused the subscription to '{item.TopicFilter.Topic}': {item.ResultCode}");
            }
        }

        return shared;
    }

    private TimeSpan ReconnectDelay(int attempt)
    {
        var exponential = TimeSpan.FromMilliseconds(250 * Math.Pow(2, Math.Min(attempt, 10)));
        var capped = exponential < settings.ReconnectMaxDelay ? exponential : settings.ReconnectMaxDelay;
        // Jitter keeps a fleet of workers from reconnecting in lock-step after a broker restart.
        return capped * (0.8 + (Random.Shared.NextDouble() * 0.4));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: every message received was made durable and acknowledged in {Seconds:F1} s")]
    private partial void LogDrained(double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: the pipeline was not drained within the shutdown timeout ({Seconds:F1} s, {Queued} message(s) still queued); what is not acknowledged stays with the broker and is redelivered on the next start (Ingest:ShutdownTimeout)")]
    private partial void LogDrainTimedOut(double seconds, int queued);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to MQTT broker {Broker} (session present: {SessionPresent}, subscription: {Subscription})")]
    private partial void LogConnected(string broker, bool sessionPresent, string subscription);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disconnected from MQTT broker {Broker}: {Reason}")]
    private partial void LogDisconnected(string broker, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot connect to MQTT broker {Broker}: {Reason}; retrying in {DelaySeconds:F1} s")]
    private partial void LogConnectFailed(string broker, string reason, double delaySeconds);
}
