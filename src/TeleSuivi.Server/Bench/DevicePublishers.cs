using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TeleSuivi.Server.Broker;

namespace TeleSuivi.Server.Bench;

/// <summary>What one publishing run did: when each acknowledged message's publish started, and what the broker answered.</summary>
public sealed class PublishRun(long[] sent, long acknowledged, long refused, long firstStart, long lastAcknowledged, string? firstError)
{
    /// <summary>
    /// <see cref="Stopwatch"/> time stamps at which the PUBLISH of each message the broker acknowledged was handed to its
    /// connection (a message refused or never sent has none: the platform cannot count it).
    /// </summary>
    public IEnumerable<long> AcknowledgedSends => sent.Where(stamp => stamp != 0);

    public long Acknowledged { get; } = acknowledged;

    public long Refused { get; } = refused;

    public long FirstStart { get; } = firstStart;

    public long LastAcknowledged { get; } = lastAcknowledged;

    public string? FirstError { get; } = firstError;

    /// <summary>Messages acknowledged per second, from the first publish to the last PUBACK.</summary>
    public double AcknowledgedPerSecond => Acknowledged / Math.Max(Stopwatch.GetElapsedTime(FirstStart, LastAcknowledged).TotalSeconds, 1e-9);
}

/// <summary>
/// The simulated devices' MQTT connections (MQTT 5, QoS 1). With accounts each device logs in as itself, with its own
/// connection, as on the embedded broker that holds every device to its own topics; without (an external broker given
/// with one account or none), a few connections publish for every device.
/// </summary>
public sealed class DevicePublishers : IAsyncDisposable
{
    private const int SharedConnections = 16;
    private readonly Dictionary<string, IMqttClient> clients = new(StringComparer.Ordinal);
    private readonly List<IMqttClient> shared = [];
    private readonly BrokerAddress address;
    private readonly IReadOnlyDictionary<string, string>? secrets;

    public DevicePublishers(BrokerAddress address, IReadOnlyDictionary<string, string>? secrets)
    {
        this.address = address;
        this.secrets = secrets;
    }

    public int Connections => clients.Count + shared.Count;

    /// <summary>Opens the connections of <paramref name="accounts"/>, a few at a time; a refused login is an error naming the account.</summary>
    public async Task ConnectAsync(IEnumerable<string> accounts, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        if (secrets is null)
        {
            while (shared.Count < SharedConnections)
            {
                shared.Add(await OpenAsync(address.UserName, address.Password, cancellationToken));
            }

            progress?.Report(SharedConnections);
            return;
        }

        var wanted = accounts.Where(a => !clients.ContainsKey(a)).Distinct(StringComparer.Ordinal).ToList();
        var done = 0;
        foreach (var chunk in wanted.Chunk(32))
        {
            var opened = await Task.WhenAll(chunk.Select(async account =>
            {
                var secret = secrets.TryGetValue(account, out var s) ? s : throw new InvalidOperationException($"no broker account was issued to device '{account}'");
                return (account, client: await OpenAsync(account, secret, cancellationToken));
            }));
            foreach (var (account, client) in opened)
            {
                clients[account] = client;
            }

            done += chunk.Length;
            progress?.Report(done);
        }
    }

    /// <summary>
    /// Publishes <paramref name="messages"/> in order: at <paramref name="perSecond"/> messages a second (open loop:
    /// a late message does not delay the next ones' schedule), or as fast as the broker acknowledges them when null,
    /// with at most <paramref name="maxInFlight"/> PUBLISHes awaiting their PUBACK.
    /// </summary>
    public async Task<PublishRun> PublishAsync(IReadOnlyList<BenchMessage> messages, double? perSecond, int maxInFlight, Action<long>? onAcknowledged, CancellationToken cancellationToken)
    {
        var started = new long[messages.Count];
        long acknowledged = 0, refused = 0, lastAcknowledged = 0;
        string? firstError = null;
        using var window = new SemaphoreSlim(maxInFlight, maxInFlight);
        var firstStart = Stopwatch.GetTimestamp();
        var i = 0;
        while (i < messages.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var due = perSecond is { } rate ? Math.Min(messages.Count, (int)(Stopwatch.GetElapsedTime(firstStart).TotalSeconds * rate) + 1) : messages.Count;
            if (due <= i)
            {
                // Task.Delay's resolution is about a millisecond: at high rates each wake-up sends what fell due since.
                await Task.Delay(1, cancellationToken);
                continue;
            }

            for (; i < due; i++)
            {
                await window.WaitAsync(cancellationToken);
                var index = i;
                started[index] = Stopwatch.GetTimestamp();
                _ = PublishOneAsync(messages[index]).ContinueWith(
                    task =>
                    {
                        if (task.IsCompletedSuccessfully && task.Result is null)
                        {
                            onAcknowledged?.Invoke(Interlocked.Increment(ref acknowledged));
                            Interlocked.Exchange(ref lastAcknowledged, Stopwatch.GetTimestamp());
                        }
                        else
                        {
                            started[index] = 0;
                            Interlocked.Increment(ref refused);
                            Interlocked.CompareExchange(ref firstError, task.IsCompletedSuccessfully ? task.Result : task.Exception?.GetBaseException().Message, null);
                        }

                        window.Release();
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }

        for (var slot = 0; slot < maxInFlight; slot++)
        {
            await window.WaitAsync(cancellationToken);
        }

        return new PublishRun(started, acknowledged, refused, firstStart, lastAcknowledged == 0 ? Stopwatch.GetTimestamp() : lastAcknowledged, firstError);
    }

    /// <summary>
    /// Publishes each message from a connection of its own, opened for it and closed after its PUBACK, a few at a time,
    /// as battery devices do: for cohorts with more devices than connections can stay open. Returns how many were acknowledged.
    /// </summary>
    public async Task<int> PublishEachOnceAsync(IReadOnlyList<BenchMessage> messages, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        if (secrets is null)
        {
            await ConnectAsync([], null, cancellationToken);
            var acknowledged = 0;
            foreach (var message in messages)
            {
                acknowledged += await PublishOneAsync(message) is null ? 1 : 0;
            }

            progress?.Report(messages.Count);
            return acknowledged;
        }

        var done = 0;
        var total = 0;
        foreach (var chunk in messages.Chunk(64))
        {
            var results = await Task.WhenAll(chunk.Select(async message =>
            {
                var secret = secrets.TryGetValue(message.Account, out var s) ? s : throw new InvalidOperationException($"no broker account was issued to device '{message.Account}'");
                using var client = await OpenAsync(message.Account, secret, cancellationToken);
                var result = await client.PublishAsync(
                    new MqttApplicationMessageBuilder().WithTopic(message.Topic).WithPayload(message.Payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(),
                    cancellationToken);
                await client.DisconnectAsync(cancellationToken: cancellationToken);
                return result.IsSuccess;
            }));
            total += results.Count(ok => ok);
            done += chunk.Length;
            progress?.Report(done);
        }

        return total;
    }

    /// <summary>Null when acknowledged, else why not.</summary>
    public async Task<string?> PublishOneAsync(BenchMessage message)
    {
        var client = secrets is null ? shared[(message.Account.GetHashCode(StringComparison.Ordinal) & int.MaxValue) % shared.Count] : clients[message.Account];
        var result = await client.PublishAsync(
            new MqttApplicationMessageBuilder().WithTopic(message.Topic).WithPayload(message.Payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(),
            CancellationToken.None);
        return result.IsSuccess ? null : $"the broker refused {message.Topic} from '{message.Account}': {result.ReasonCode} {result.ReasonString}";
    }

    private async Task<IMqttClient> OpenAsync(string? userName, string? password, CancellationToken cancellationToken)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(address.Host, address.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId($"telesuivi-bench-{Guid.NewGuid():N}")
            .WithCleanStart(true)
            .WithTimeout(TimeSpan.FromSeconds(30));
        if (userName is not null)
        {
            builder.WithCredentials(userName, password);
        }

        var result = await client.ConnectAsync(builder.Build(), cancellationToken);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            throw new InvalidOperationException($"{address.Display} refused the login of '{userName ?? "(anonymous)"}': {result.ResultCode} {result.ReasonString}");
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in clients.Values.Concat(shared))
        {
            if (client.IsConnected)
            {
                await client.DisconnectAsync();
            }

            client.Dispose();
        }

        clients.Clear();
        shared.Clear();
    }
}
