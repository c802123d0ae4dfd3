using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using MQTTnet.Server;

namespace TeleSuivi.Server.Broker;

/// <summary>
/// The MQTT broker inside the host, for <c>demo</c> and small sites. Registered before the ingest client
/// so that it listens before the client connects. Production uses an external broker cluster.
/// </summary>
public sealed partial class EmbeddedBroker(IOptions<BrokerOptions> options, ILogger<EmbeddedBroker> logger) : IHostedService, IDisposable
{
    private MqttServer? server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!IPAddress.TryParse(settings.EmbeddedHost, out var ip))
        {
            throw new ConfigurationException($"embedded broker host '{settings.EmbeddedHost}' is not an IP address");
        }

        var port = settings.EmbeddedPort;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(ip)
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .Build();
        server = new MqttServerFactory().CreateMqttServer(serverOptions);
        server.ValidatingConnectionAsync += e =>
        {
            // MQTT 5 lets a client leave its id empty and have the server assign one (mosquitto_pub -V mqttv5 does).
            if (string.IsNullOrEmpty(e.ClientId))
            {
                e.AssignedClientIdentifier = $"auto-{Guid.NewGuid():N}";
            }

            return Task.CompletedTask;
        };
        try
        {
            await server.StartAsync();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new ConfigurationException(
                $"cannot start the embedded MQTT broker on {ip}:{port}: the port is already in use (choose another with --mqtt-port)", ex);
        }

        LogListening(settings.EmbeddedHost, port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (server is not null)
        {
            await server.StopAsync();
        }
    }

    public void Dispose() => server?.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded MQTT broker listening on mqtt://{Host}:{Port}")]
    private partial void LogListening(string host, int port);
}
