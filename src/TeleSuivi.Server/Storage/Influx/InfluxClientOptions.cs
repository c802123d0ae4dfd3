namespace TeleSuivi.Server.Storage.Influx;

/// <summary>How <see cref="InfluxClient"/> reaches one InfluxDB server (v1 HTTP API: 1.x, or 2.x/3.x compatibility endpoints).</summary>
public sealed record InfluxClientOptions
{
    /// <summary><c>http://host:port</c> or <c>https://host:port</c>.</summary>
    public required Uri BaseUri { get; init; }

    /// <summary>
    /// With <see cref="Password"/>, sent as HTTP basic authentication (1.x users; 2.x/3.x accept any user name
    /// with a token as password). A password without a user name is sent as <c>Authorization: Token</c>.
    /// </summary>
    public string? UserName { get; init; }

    public string? Password { get; init; }

    /// <summary>How long one attempt may take, answer included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest uncompressed body of one <c>/write</c> request; a larger batch is split at point boundaries.
    /// InfluxDB 1.x refuses bodies over its <c>max-body-size</c> (25 MB by default); InfluxData advises 5,000–10,000
    /// points per request.
    /// </summary>
    public int MaxRequestBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Bodies at least this long are sent gzip-compressed (<c>Content-Encoding: gzip</c>); 0 compresses all, -1 none.
    /// <see cref="For"/> turns it off for a server on the loopback interface, where compressing saves no wire time and
    /// costs CPU on both sides of the same machine.
    /// </summary>
    public int GzipMinBytes { get; init; } = DefaultGzipMinBytes;

    public const int DefaultGzipMinBytes = 8 * 1024;

    /// <summary>Attempts of one request in all, when the failure is transient (never for rejected data or access).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>The wait before the second attempt; doubled before each next one (with jitter), at most <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The options for the InfluxDB server named by a store address (<c>influxdb://[user:password@]host:port/database</c>).</summary>
    public static InfluxClientOptions For(StoreAddress address, StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        if (address.Kind != StoreKind.InfluxDb || address.InfluxBaseUri is null)
        {
            throw new ArgumentException($"{address.Display} is not an InfluxDB address", nameof(address));
        }

        return new InfluxClientOptions
        {
            BaseUri = address.InfluxBaseUri,
            UserName = address.UserName,
            Password = address.Password,
            RequestTimeout = options.RequestTimeout,
            GzipMinBytes = address.InfluxBaseUri.IsLoopback ? -1 : DefaultGzipMinBytes,
        };
    }
}
