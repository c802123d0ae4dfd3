using System.Collections.Concurrent;
using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Broker;

/// <summary>
/// The MQTT broker inside the host, for <c>demo</c> and small sites. Registered before the ingest client
/// so that it listens before the client connects. Production uses an external broker cluster.
/// Every client logs in (unless <see cref="BrokerOptions.AllowAnonymous"/>): devices and stations with the accounts of
/// the registry, the ingest workers with <see cref="IngestAccount"/>; each may do only what
/// <see cref="BrokerAccounts"/> allows it.
/// </summary>
public sealed partial class EmbeddedBroker(
    IOptions<BrokerOptions> options,
    DeviceRegistry registry,
    IngestAccount ingest,
    BrokerRefusals refusals,
    ILogger<EmbeddedBroker> logger) : IHostedService, IDisposable
{
    /// <summary>
    /// The account each client id logged in as, kept while its session lives. A session outlives its connection and
    /// MQTTnet resumes it, with its subscriptions and queued messages, for whoever connects next with the same client
    /// id: the broker's rights follow this map, never the session's own items.
    /// </summary>
    private readonly ConcurrentDictionary<string, BrokerPrincipal> principals = new(StringComparer.Ordinal);

    private MqttServer? server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!IPAddress.TryParse(settings.EmbeddedHost, out var ip))
        {
            throw new ConfigurationException($"embedded broker host '{settings.EmbeddedHost}' is not an IP address");
        }

        var certificate = EmbeddedBrokerCertificate.Load(settings);
        if (!settings.EmbeddedPlainListener && certificate is null)
        {
            throw new ConfigurationException("the embedded broker's plain listener is off (Broker:EmbeddedPlainListener=false) and no TLS certificate is set (Broker:EmbeddedTlsCertificate): it would listen nowhere");
        }

        var builder = new MqttServerOptionsBuilder()
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(Math.Max(1, settings.EmbeddedMaxPendingMessages));
        if (settings.EmbeddedPlainListener)
        {
            builder.WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(ip).WithDefaultEndpointPort(settings.EmbeddedPort);
        }
        else
        {
            builder.WithoutDefaultEndpoint();
        }

        if (certificate is not null)
        {
            builder.WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(ip)
                .WithEncryptedEndpointPort(settings.EmbeddedTlsPort)
                .WithEncryptionCertificate(certificate)
                .WithEncryptionSslProtocol(SslProtocols.Tls12 | SslProtocols.Tls13);
        }

        server = new MqttServerFactory().CreateMqttServer(builder.Build());
        server.ValidatingConnectionAsync += ValidateConnectionAsync;
        server.InterceptingPublishAsync += InterceptPublishAsync;
        server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        server.QueuedApplicationMessageOverwrittenAsync += e =>
        {
            // Never silent: a reading dropped here was acknowledged to its device and will not be sent again.
            refusals.Add("deliver", BrokerRefusals.QueueFull);
            LogQueueOverflow(e.ReceiverClientId, settings.EmbeddedMaxPendingMessages);
            return Task.CompletedTask;
        };
        server.SessionDeletedAsync += e =>
        {
            principals.TryRemove(e.Id, out _);
            return Task.CompletedTask;
        };
        try
        {
            await server.StartAsync();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            var ports = settings.EmbeddedPlainListener ? $"{settings.EmbeddedPort}" : string.Empty;
            ports += certificate is null ? string.Empty : $"{(ports.Length > 0 ? " or " : string.Empty)}{settings.EmbeddedTlsPort}";
            throw new ConfigurationException(
                $"cannot start the embedded MQTT broker on {ip}: port {ports} is already in use (choose another with --mqtt-port or Broker:EmbeddedTlsPort)", ex);
        }

        if (settings.EmbeddedPlainListener)
        {
            LogListening("mqtt", settings.EmbeddedHost, settings.EmbeddedPort);
        }

        if (certificate is not null)
        {
            LogListening("mqtts", settings.EmbeddedHost, settings.EmbeddedTlsPort);
        }

        if (settings.AllowAnonymous)
        {
            LogAnonymousAllowed();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (server is not null)
        {
            await server.StopAsync();
        }
    }

    public void Dispose() => server?.Dispose();

    private async Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        // MQTT 5 lets a client leave its id empty and have the server assign one (mosquitto_pub -V mqttv5 does).
        var clientId = string.IsNullOrEmpty(e.ClientId) ? e.AssignedClientIdentifier = $"auto-{Guid.NewGuid():N}" : e.ClientId;
        BrokerPrincipal? principal;
        string? refusal;
        try
        {
            (principal, refusal) = await AuthenticateAsync(e.UserName, e.Password, e.CancellationToken);
        }
        catch (DbException ex)
        {
            // The registry is not open yet (start-up) or its file fails: the device retries later.
            e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
            refusals.Add("connect", "registry-unavailable");
            LogConnectRefused(e.UserName ?? "(none)", clientId, e.RemoteEndPoint?.ToString() ?? "?", $"the registry cannot be read: {ex.Message}");
            return;
        }

        if (principal is not null
            && principals.TryGetValue(clientId, out var owner)
            && owner.Kind == BrokerPrincipalKind.Ingest && principal.Kind != BrokerPrincipalKind.Ingest)
        {
            // The ingest session holds every patient's queued readings: only the ingest account may resume it.
            (principal, refusal) = (null, BrokerRefusals.SessionOfAnotherAccount);
        }

        if (principal is null)
        {
            e.ReasonCode = refusal == BrokerRefusals.SessionOfAnotherAccount ? MqttConnectReasonCode.NotAuthorized : MqttConnectReasonCode.BadUserNameOrPassword;
            refusals.Add("connect", refusal!);
            LogConnectRefused(e.UserName ?? "(none)", clientId, e.RemoteEndPoint?.ToString() ?? "?", refusal!);
            return;
        }

        principals[clientId] = principal;
    }

    private async Task<(BrokerPrincipal? Principal, string? Refusal)> AuthenticateAsync(string? userName, string? password, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(userName))
        {
            return options.Value.AllowAnonymous && string.IsNullOrEmpty(password) ? (BrokerPrincipal.Anonymous, null) : (null, BrokerRefusals.Anonymous);
        }

        if (string.Equals(userName, ingest.UserName, StringComparison.Ordinal))
        {
            return FixedTimeEquals(password, ingest.Password)
                ? (new BrokerPrincipal(BrokerPrincipalKind.Ingest, userName, userName), null)
                : (null, BrokerRefusals.BadSecret);
        }

        var credential = await registry.FindCredentialAsync(userName, cancellationToken);
        if (credential is null)
        {
            // The same work as a wrong secret: timing does not tell which accounts exist.
            BrokerSecrets.Verify(password ?? string.Empty, UnknownUserHash.Value);
            return (null, BrokerRefusals.UnknownUser);
        }

        if (!BrokerSecrets.Verify(password ?? string.Empty, credential.SecretHash))
        {
            return (null, BrokerRefusals.BadSecret);
        }

        var kind = credential.Kind == BrokerAccountKind.Device ? BrokerPrincipalKind.Device : BrokerPrincipalKind.Station;
        return (new BrokerPrincipal(kind, credential.UserName, credential.Subject), null);
    }

    private static readonly Lazy<string> UnknownUserHash = new(() => BrokerSecrets.Hash(BrokerSecrets.NewSecret()));

    private static bool FixedTimeEquals(string? given, string? expected) =>
        given is not null && expected is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic ?? string.Empty;
        var refusal = principals.TryGetValue(e.ClientId, out var principal)
            ? BrokerAccounts.PublishRefusal(principal, topic, registry)
            : "the client has no account";
        if (refusal is not null)
        {
            // MQTT 5 clients get NotAuthorized in their PUBACK; MQTT 3.1.1 has no reason codes: the message is dropped.
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            e.Response.ReasonString = refusal;
            refusals.Add("publish", BrokerRefusals.NotAuthorized);
            LogPublishRefused(principal?.Display ?? "unknown", e.ClientId, topic, refusal);
        }

        return Task.CompletedTask;
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        if (!principals.TryGetValue(e.ClientId, out var principal) || !BrokerAccounts.MaySubscribe(principal))
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            refusals.Add("subscribe", BrokerRefusals.NotAuthorized);
            LogSubscribeRefused(principal?.Display ?? "unknown", e.ClientId, e.TopicFilter.Topic);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Embedded MQTT broker dropped the oldest message queued for client {ClientId}: {Limit} messages were waiting (Broker:EmbeddedMaxPendingMessages)")]
    private partial void LogQueueOverflow(string clientId, int limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Scheme}://{Host}:{Port}")]
    private partial void LogListening(string scheme, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Embedded MQTT broker lets ANONYMOUS clients publish and subscribe anywhere (Broker:AllowAnonymous): for development only, never with real patients")]
    private partial void LogAnonymousAllowed();

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT CONNECT refused: user {UserName}, client {ClientId} from {Endpoint}: {Reason}")]
    private partial void LogConnectRefused(string userName, string clientId, string endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT PUBLISH refused: {Account} (client {ClientId}) to {Topic}: {Reason}")]
    private partial void LogPublishRefused(string account, string clientId, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT SUBSCRIBE refused: {Account} (client {ClientId}) to {Filter}: only the ingest account subscribes")]
    private partial void LogSubscribeRefused(string account, string clientId, string filter);
}

/// <summary>Loads the embedded broker's TLS certificate from <see cref="BrokerOptions"/>: PKCS#12, or PEM.</summary>
public static class EmbeddedBrokerCertificate
{
    /// <summary>
    /// TLS for the platform's own clients (ingest, simulator) when <paramref name="address"/> asks for it. To the
    /// embedded broker they trust exactly its configured certificate, self-signed or not; to an external broker,
    /// the system's trusted authorities.
    /// </summary>
    public static void ConfigureClientTls(MqttClientOptionsBuilder builder, BrokerAddress address, BrokerOptions settings)
    {
        if (!address.UseTls)
        {
            return;
        }

        if (!address.IsEmbedded)
        {
            builder.WithTlsOptions(tls => tls.UseTls());
            return;
        }

        using var certificate = Load(settings) ?? throw new ConfigurationException("the embedded broker has no TLS certificate (Broker:EmbeddedTlsCertificate)");
        var pinned = certificate.GetCertHash(HashAlgorithmName.SHA256);
        builder.WithTlsOptions(tls => tls.UseTls().WithCertificateValidationHandler(e =>
            e.Certificate is not null && CryptographicOperations.FixedTimeEquals(pinned, e.Certificate.GetCertHash(HashAlgorithmName.SHA256))));
    }

    public static X509Certificate2? Load(BrokerOptions settings)
    {
        if (string.IsNullOrWhiteSpace(settings.EmbeddedTlsCertificate))
        {
            return null;
        }

        var path = Path.GetFullPath(settings.EmbeddedTlsCertificate);
        try
        {
            X509Certificate2 certificate;
            var extension = Path.GetExtension(path).ToLowerInvariant();
            if (extension is ".pfx" or ".p12")
            {
                certificate = X509CertificateLoader.LoadPkcs12FromFile(path, settings.EmbeddedTlsPassword);
            }
            else
            {
                var keyPath = string.IsNullOrWhiteSpace(settings.EmbeddedTlsKey) ? null : Path.GetFullPath(settings.EmbeddedTlsKey);
                var pem = string.IsNullOrEmpty(settings.EmbeddedTlsPassword)
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, settings.EmbeddedTlsPassword, keyPath);
                // SslStream wants the key in a PKCS#12 container (a PEM-loaded key is ephemeral on some platforms).
                using (pem)
                {
                    certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                }
            }

            if (!certificate.HasPrivateKey)
            {
                throw new ConfigurationException($"the embedded broker's TLS certificate {path} has no private key (give the key with Broker:EmbeddedTlsKey, or a .pfx that holds it)");
            }

            return certificate;
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ConfigurationException($"cannot load the embedded broker's TLS certificate {path}: {ex.Message}", ex);
        }
    }
}
