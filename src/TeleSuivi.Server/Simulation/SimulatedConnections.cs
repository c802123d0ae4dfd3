using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using TeleSuivi.Server.Broker;

namespace TeleSuivi.Server.Simulation;

/// <summary>
/// The simulator's MQTT connections. With the devices' accounts each device (and each zone's station) logs in as
/// itself, as on a real broker that holds every device to its own topics; connections are opened on a device's first
/// reading and the least recently used one is closed beyond <c>maxConnections</c>, as battery devices connect to
/// publish. Without accounts one connection publishes for every device (a broker without authentication).
/// </summary>
public sealed class SimulatedConnections(
    BrokerAddress address,
    BrokerOptions brokerOptions,
    IReadOnlyDictionary<string, string>? secrets,
    int maxConnections,
    Action<string> reportFailure,
    TimeProvider time) : IAsyncDisposable
{
    private const string Shared = "";
    private readonly Dictionary<string, LinkedListNode<(string Account, IMqttClient Client)>> open = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Account, IMqttClient Client)> leastRecentlyUsed = new();

    /// <summary>Publishes as <paramref name="account"/>; true once the broker acknowledged it, false if it refused it.</summary>
    public async Task<bool> PublishAsync(string account, MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        var key = secrets is null ? Shared : account;
        if (secrets is not null && !secrets.ContainsKey(account))
        {
            reportFailure($"no account for '{account}' in the credentials: its readings are not published");
            return false;
        }

        while (true)
        {
            var client = await ConnectionAsync(key, cancellationToken);
            try
            {
                var result = await client.PublishAsync(message, cancellationToken);
                if (!result.IsSuccess)
                {
                    reportFailure($"the broker refused {message.Topic} from '{key}': {result.ReasonCode} {result.ReasonString}");
                }

                return result.IsSuccess;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                reportFailure(ex.Message);
                await CloseAsync(key);
            }
        }
    }

    private async Task<IMqttClient> ConnectionAsync(string account, CancellationToken cancellationToken)
    {
        if (open.TryGetValue(account, out var node) && node.Value.Client.IsConnected)
        {
            leastRecentlyUsed.Remove(node);
            leastRecentlyUsed.AddFirst(node);
            return node.Value.Client;
        }

        await CloseAsync(account);
        while (open.Count >= Math.Max(1, maxConnections))
        {
            await CloseAsync(leastRecentlyUsed.Last!.Value.Account);
        }

        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(address.Host, address.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId($"telesuivi-simulator-{Guid.NewGuid():N}")
            .WithCleanStart(true);
        if (secrets is not null)
        {
            builder.WithCredentials(account, secrets[account]);
        }
        else if (address.UserName is not null)
        {
            builder.WithCredentials(address.UserName, address.Password);
        }

        EmbeddedBrokerCertificate.ConfigureClientTls(builder, address, brokerOptions);
        var delay = TimeSpan.FromMilliseconds(200);
        while (!client.IsConnected)
        {
            string failure;
            try
            {
                // MQTTnet 5 reports a refused CONNECT (wrong secret...) by its result code, not by an exception.
                var result = await client.ConnectAsync(builder.Build(), cancellationToken);
                failure = $"{result.ResultCode} {result.ReasonString}";
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failure = ex.Message;
            }

            if (!client.IsConnected)
            {
                reportFailure($"cannot connect{(account.Length > 0 ? $" as '{account}'" : string.Empty)}: {failure}");
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }

        open[account] = leastRecentlyUsed.AddFirst((account, client));
        return client;
    }

    private async Task CloseAsync(string account)
    {
        if (!open.Remove(account, out var node))
        {
            return;
        }

        leastRecentlyUsed.Remove(node);
        using var client = node.Value.Client;
        if (client.IsConnected)
        {
            try
            {
                await client.DisconnectAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The connection is being dropped anyway; the next reading opens a new one.
                reportFailure(ex.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var account in open.Keys.ToList())
        {
            await CloseAsync(account);
        }
    }

    /// <summary>
    /// The accounts of a CSV written by <c>telesuivi devices credentials --out</c> or <c>stations credentials --out</c>
    /// (columns <c>username</c> and <c>secret</c>, any others ignored).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadCredentials(string path)
    {
        var lines = File.ReadAllLines(path, Encoding.UTF8).Where(line => line.Length > 0).ToList();
        var header = lines.Count == 0 ? [] : Fields(lines[0]);
        var user = header.IndexOf("username");
        var secret = header.IndexOf("secret");
        if (user < 0 || secret < 0)
        {
            throw new ConfigurationException($"{path} is not a credentials CSV: its first line must name the columns username and secret");
        }

        var accounts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            var fields = Fields(line);
            if (fields.Count <= Math.Max(user, secret))
            {
                throw new ConfigurationException($"{path}: line '{line}' has fewer columns than its header");
            }

            accounts[fields[user]] = fields[secret];
        }

        return accounts;
    }

    private static List<string> Fields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}
