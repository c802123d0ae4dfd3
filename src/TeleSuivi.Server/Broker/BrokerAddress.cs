using System.Globalization;

namespace TeleSuivi.Server.Broker;

/// <summary>
/// Where the ingest client connects: the broker embedded in this process, or an external one
/// given as <c>mqtt://host:port</c> / <c>mqtts://host:port</c> (optionally with <c>user:password@</c>).
/// </summary>
public sealed record BrokerAddress(bool IsEmbedded, string Host, int Port, bool UseTls, string? UserName, string? Password)
{
    public const string Embedded = "embedded";

    /// <summary>The address without credentials, safe for logs and health reports.</summary>
    public string Display => IsEmbedded
        ? string.Create(CultureInfo.InvariantCulture, $"embedded ({(UseTls ? "mqtts" : "mqtt")}://{Host}:{Port})")
        : string.Create(CultureInfo.InvariantCulture, $"{(UseTls ? "mqtts" : "mqtt")}://{Host}:{Port}");

    public static BrokerAddress Parse(string? value, string embeddedHost, int embeddedPort)
    {
        if (string.IsNullOrWhiteSpace(value) || string.Equals(value.Trim(), Embedded, StringComparison.OrdinalIgnoreCase))
        {
            return new BrokerAddress(true, embeddedHost, embeddedPort, false, null, null);
        }

        var text = value.Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ConfigurationException(
                $"broker '{text}' is not valid: expected '{Embedded}', mqtt://host:port or mqtts://host:port");
        }

        var useTls = uri.Scheme switch
        {
            "mqtt" or "tcp" => false,
            "mqtts" or "ssl" => true,
            _ => throw new ConfigurationException(
                $"broker '{text}' has scheme '{uri.Scheme}': expected '{Embedded}', mqtt://host:port or mqtts://host:port"),
        };
        if (uri.AbsolutePath.Length > 1 || uri.Query.Length > 0)
        {
            throw new ConfigurationException($"broker '{text}' must not have a path or query: expected mqtt://host:port");
        }

        var port = uri.IsDefaultPort || uri.Port <= 0 ? (useTls ? 8883 : 1883) : uri.Port;
        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : null;
        }

        return new BrokerAddress(false, uri.Host, port, useTls, user, password);
    }
}
