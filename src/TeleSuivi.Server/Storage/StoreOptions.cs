namespace TeleSuivi.Server.Storage;

/// <summary>Bound from the <c>Store</c> configuration section (<c>TELESUIVI_STORE__*</c>, <c>--store</c>, <c>--data</c>).</summary>
public sealed class StoreOptions
{
    public const string Section = "Store";

    /// <summary>
    /// <c>sqlite</c> (default: a file under <see cref="DataDirectory"/>), <c>sqlite:PATH</c>,
    /// or <c>influxdb://[user:password@]host:port/database</c> (<c>influxdbs://</c> for HTTPS).
    /// </summary>
    public string Url { get; set; } = StoreAddress.DefaultSqlite;

    /// <summary>Local folder for the embedded store, the dead-letter store, the spool and the registry.</summary>
    public string DataDirectory { get; set; } = "./data";

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public StoreAddress ResolveAddress() => StoreAddress.Parse(Url, DataDirectory);
}
