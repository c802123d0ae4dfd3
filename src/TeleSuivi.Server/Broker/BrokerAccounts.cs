using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Broker;

public enum BrokerAccountKind
{
    /// <summary>A registered device: username = its device id; it publishes its own readings.</summary>
    Device,

    /// <summary>An environment station: username <c>station/{zoneId}</c>; it publishes its zone's environment.</summary>
    Station,
}

/// <summary>A broker account kept in the registry: the secret only as its <see cref="BrokerSecrets"/> hash.</summary>
public sealed record BrokerCredential(string UserName, BrokerAccountKind Kind, string Subject, string SecretHash, DateTimeOffset IssuedAt);

/// <summary>Who a connected client is, once the broker has checked its credentials.</summary>
public sealed record BrokerPrincipal(BrokerPrincipalKind Kind, string? UserName, string Subject)
{
    public static readonly BrokerPrincipal Anonymous = new(BrokerPrincipalKind.Anonymous, null, string.Empty);

    /// <summary>For logs: the username, or "anonymous".</summary>
    public string Display => UserName ?? "anonymous";
}

public enum BrokerPrincipalKind
{
    Device,
    Station,

    /// <summary>The platform's ingest workers: they subscribe to every reading and publish nothing.</summary>
    Ingest,

    /// <summary>No username, let in by <see cref="BrokerOptions.AllowAnonymous"/> (development only).</summary>
    Anonymous,
}

/// <summary>
/// The broker accounts' names and what each may do on the embedded broker. The same rules are written for mosquitto
/// by <see cref="MosquittoConfiguration"/>.
/// </summary>
public static class BrokerAccounts
{
    /// <summary>
    /// Station usernames hold a '/', which no device id may: the two never collide, and mosquitto applies no
    /// <c>pattern</c> rule to such a username, so a station gets exactly its own zone's topic and no device's.
    /// </summary>
    public const string StationPrefix = "station/";

    /// <summary>The ingest workers' username on the embedded broker (its secret is made afresh by each process).</summary>
    public const string EmbeddedIngestUserName = "service/telesuivi-ingest";

    public static string Station(string zoneId) => StationPrefix + zoneId;

    /// <summary>
    /// Why <paramref name="name"/> cannot be a device id or zone id in a topic and a username, or null when it can:
    /// one topic level (no '/', '+', '#'), no ':' (the password file's separator), nothing invisible.
    /// </summary>
    public static string? Problem(string name, string what)
    {
        if (name.Length is 0 or > 200)
        {
            return $"{what} '{name}' must have 1 to 200 characters";
        }

        foreach (var c in name)
        {
            if (c is '/' or '+' or '#' or ':' or '$' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return $"{what} '{name}' contains '{(char.IsControl(c) || char.IsWhiteSpace(c) ? $"\\u{(int)c:x4}" : c.ToString())}': a {what} used as a broker username must be one MQTT topic level without '/', '+', '#', ':', '$' or spaces";
            }
        }

        return null;
    }

    /// <summary>Why <paramref name="principal"/> may not publish to <paramref name="topic"/>, or null when it may.</summary>
    public static string? PublishRefusal(BrokerPrincipal principal, string topic, DeviceRegistry registry)
    {
        switch (principal.Kind)
        {
            case BrokerPrincipalKind.Anonymous:
                return null;
            case BrokerPrincipalKind.Ingest:
                return "the ingest account only subscribes";
        }

        if (!ContractTopic.TryParse(topic, out var parsed, out _))
        {
            return "the topic is outside the TeleSuivi contract";
        }

        if (principal.Kind == BrokerPrincipalKind.Station)
        {
            return parsed!.Kind == TopicKind.Environment && string.Equals(parsed.ZoneId, principal.Subject, StringComparison.Ordinal)
                ? null
                : $"station of zone '{principal.Subject}' may publish only to telesuivi/v1/environment/{principal.Subject}";
        }

        // A device publishes under its id or one of its registered other names (serial numbers).
        return parsed!.Kind != TopicKind.Environment
               && (string.Equals(parsed.DeviceId, principal.Subject, StringComparison.Ordinal)
                   || string.Equals(registry.CanonicalDeviceId(parsed.DeviceId), principal.Subject, StringComparison.Ordinal))
            ? null
            : $"device '{principal.Subject}' may publish only to its own topics";
    }

    /// <summary>Only the ingest account (and anonymous clients, in development) may subscribe: devices read nothing.</summary>
    public static bool MaySubscribe(BrokerPrincipal principal) =>
        principal.Kind is BrokerPrincipalKind.Ingest or BrokerPrincipalKind.Anonymous;
}
