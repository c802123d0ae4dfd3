using System.Globalization;

namespace TeleSuivi.Server.Storage;

public enum StoreKind
{
    Sqlite,
    InfluxDb,
}

/// <summary>The observation store named by <c>--store</c>: an SQLite file, or an InfluxDB server speaking the v1 HTTP API.</summary>
public sealed record StoreAddress(StoreKind Kind, string? SqlitePath, Uri? InfluxBaseUri, string? Database, string? UserName, string? Password)
{
    public const string DefaultSqlite = "sqlite";

    /// <summary>The address without credentials, safe for logs and health reports.</summary>
    public string Display => Kind == StoreKind.Sqlite
        ? $"sqlite:{SqlitePath}"
        : string.Create(CultureInfo.InvariantCulture, $"influxdb://{InfluxBaseUri!.Host}:{InfluxBaseUri.Port}/{Database}");

    public static StoreAddress Parse(string? value, string dataDirectory)
    {
        var text = string.IsNullOrWhiteSpace(value) ? DefaultSqlite : value.Trim();
        if (string.Equals(text, DefaultSqlite, StringComparison.OrdinalIgnoreCase))
        {
            return Sqlite(Path.Combine(dataDirectory, "telesuivi.db"));
        }

        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = text["sqlite:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                path = path[2..];
            }

            return path.Length == 0
                ? throw new ConfigurationException($"store '{text}' has no file path: expected sqlite:PATH")
                : Sqlite(path);
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ConfigurationException(
                $"store '{text}' is not valid: expected 'sqlite', sqlite:PATH or influxdb://host:port/database");
        }

        var https = uri.Scheme switch
        {
            "influxdb" or "influx" => false,
            "influxdbs" => true,
            _ => throw new ConfigurationException(
                $"store '{text}' has scheme '{uri.Scheme}': expected 'sqlite', sqlite:PATH or influxdb://host:port/database"),
        };
        var database = uri.AbsolutePath.Trim('/');
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new ConfigurationException(
                $"store '{text}' must name one database: expected influxdb://host:port/database");
        }

        var port = uri.IsDefaultPort || uri.Port <= 0 ? 8086 : uri.Port;
        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : null;
        }

        var baseUri = new UriBuilder(https ? "https" : "http", uri.Host, port).Uri;
        return new StoreAddress(StoreKind.InfluxDb, null, baseUri, Uri.UnescapeDataString(database), user, password);
    }

    private static StoreAddress Sqlite(string path) =>
        new(StoreKind.Sqlite, Path.GetFullPath(path), null, null, null, null);
}
