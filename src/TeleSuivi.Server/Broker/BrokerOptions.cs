namespace TeleSuivi.Server.Broker;

/// <summary>Bound from the <c>Broker</c> configuration section (<c>TELESUIVI_BROKER__*</c>, <c>--broker</c>).</summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";

    /// <summary><c>embedded</c> (default), <c>mqtt://host:port</c> or <c>mqtts://host:port</c>.</summary>
    public string Url { get; set; } = BrokerAddress.Embedded;

    /// <summary>Address the embedded broker listens on. Loopback by default: devices reach it through a gateway.</summary>
    public string EmbeddedHost { get; set; } = "127.0.0.1";

    public int EmbeddedPort { get; set; } = 1883;

    /// <summary>
    /// Whether the embedded broker listens on <see cref="EmbeddedPort"/> without TLS. Turn it off once devices
    /// speak TLS: the broker then listens on <see cref="EmbeddedTlsPort"/> only (a certificate is required).
    /// </summary>
    public bool EmbeddedPlainListener { get; set; } = true;

    /// <summary>Port of the embedded broker's TLS listener, opened when <see cref="EmbeddedTlsCertificate"/> is set.</summary>
    public int EmbeddedTlsPort { get; set; } = 8883;

    /// <summary>
    /// The embedded broker's TLS certificate: a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with its private key) or a
    /// PEM certificate (with <see cref="EmbeddedTlsKey"/>, or its key in the same file). Empty: no TLS listener.
    /// </summary>
    public string? EmbeddedTlsCertificate { get; set; }

    /// <summary>The PEM private key of <see cref="EmbeddedTlsCertificate"/>, when it is in a file of its own.</summary>
    public string? EmbeddedTlsKey { get; set; }

    /// <summary>Password of the PKCS#12 file, or of an encrypted PEM key.</summary>
    public string? EmbeddedTlsPassword { get; set; }

    /// <summary>
    /// DEVELOPMENT ONLY. Lets clients without a username connect to the embedded broker and publish or subscribe
    /// anywhere, as any device: readings can then be forged for every patient. Never the default; devices that log
    /// in are held to their own topics either way.
    /// </summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>The ingest workers' username on an external broker (the <c>user:password@</c> of <see cref="Url"/> wins).</summary>
    public string? UserName { get; set; }

    /// <summary>The ingest workers' password on an external broker (<c>TELESUIVI_BROKER__PASSWORD</c>).</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Client id of this ingest worker. It must stay the same across restarts: the broker keeps the
    /// persistent session (and the unacknowledged messages) under it.
    /// </summary>
    public string ClientId { get; set; } = "telesuivi-ingest-1";

    /// <summary>
    /// MQTT 5 shared-subscription group: workers in the same group split the messages between them. Empty (the
    /// default): a plain subscription, for a single worker. mosquitto 2.0 does not save shared subscriptions across
    /// its restart, so readings published before the worker subscribes again are routed to nobody; a plain one it
    /// saves with the session (README, "Ingestion").
    /// </summary>
    public string SharedGroup { get; set; } = "";

    /// <summary>How long the broker keeps this worker's session (and its queued messages) while it is offline.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(2);

    /// <summary>Unacknowledged messages the broker may have in flight to this worker (MQTT 5 Receive Maximum).</summary>
    public int ReceiveMaximum { get; set; } = 2000;

    /// <summary>
    /// Messages the embedded broker may queue for one client while it is slower than the devices (the ingest workers'
    /// session during a burst). MQTTnet's default, 250, made the broker drop the oldest queued readings as soon as a
    /// burst outran ingestion; a dropped message is logged and counted. About 1 KB of memory per queued message.
    /// </summary>
    public int EmbeddedMaxPendingMessages { get; set; } = 500_000;

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where the platform's own clients connect. For the embedded broker: its plain listener, or its TLS listener
    /// when the plain one is off.
    /// </summary>
    public BrokerAddress ResolveAddress()
    {
        var address = BrokerAddress.Parse(Url, EmbeddedHost, EmbeddedPort);
        return address.IsEmbedded && !EmbeddedPlainListener ? address with { Port = EmbeddedTlsPort, UseTls = true } : address;
    }
}
