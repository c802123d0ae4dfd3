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
    /// Client id of this ingest worker. It must stay the same across restarts: the broker keeps the
    /// persistent session (and the unacknowledged messages) under it.
    /// </summary>
    public string ClientId { get; set; } = "telesuivi-ingest-1";

    /// <summary>MQTT 5 shared-subscription group: workers in the same group split the messages between them.</summary>
    public string SharedGroup { get; set; } = "telesuivi-ingest";

    /// <summary>How long the broker keeps this worker's session (and its queued messages) while it is offline.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(2);

    /// <summary>Unacknowledged messages the broker may have in flight to this worker (MQTT 5 Receive Maximum).</summary>
    public int ReceiveMaximum { get; set; } = 2000;

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    public BrokerAddress ResolveAddress() => BrokerAddress.Parse(Url, EmbeddedHost, EmbeddedPort);
}
