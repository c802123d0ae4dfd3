using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>What <c>/ping</c> said about the server.</summary>
/// <param name="Version">The <c>X-Influxdb-Version</c> header, e.g. <c>1.8.10</c>, <c>v2.7.11</c>, <c>3.0.1</c>.</param>
/// <param name="Build">The <c>X-Influxdb-Build</c> header, e.g. <c>OSS</c>.</param>
public sealed record InfluxPing(string? Version, string? Build);

/// <summary>
/// A small client of the InfluxDB v1 HTTP API (<c>/ping</c>, <c>/write</c> with line protocol, <c>/query</c> with
/// InfluxQL), which InfluxDB 1.x serves and 2.x/3.x serve as compatibility endpoints. One instance per server,
/// shared: it holds one connection pool. Thread-safe.
/// </summary>
/// <remarks>
/// Every request is attempted up to <see cref="InfluxClientOptions.MaxAttempts"/> times when the failure is
/// transient (no connection, timeout, 5xx, 429, 408), with exponential back-off and jitter (or the server's
/// <c>Retry-After</c>), then fails with <see cref="InfluxUnavailableException"/>. Other failures are not retried:
/// see <see cref="InfluxException"/> for what each means. Writes are safe to retry: a point written twice is stored once.
/// </remarks>
public sealed partial class InfluxClient : IDisposable
{
    private static readonly MediaTypeHeaderValue LineProtocolType = MediaTypeHeaderValue.Parse("text/plain; charset=utf-8");

    private readonly HttpClient http;
    private readonly InfluxClientOptions options;
    private readonly ILogger logger;
    private string? loggedVersion;

    /// <param name="handler">The HTTP handler to send through (tests); by default one <see cref="SocketsHttpHandler"/>, owned by the client.</param>
    public InfluxClient(InfluxClientOptions options, ILogger<InfluxClient>? logger = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxAttempts);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxRequestBytes);
        this.options = options;
        this.logger = logger ?? NullLogger<InfluxClient>.Instance;
        var ownsHandler = handler is null;
        handler ??= new SocketsHttpHandler
        {
            // Re-resolve the server's name now and then (a fail-over behind DNS), while keeping connections warm.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = options.RequestTimeout,
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
        };
        http = new HttpClient(handler, ownsHandler)
        {
            BaseAddress = options.BaseUri,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (!string.IsNullOrEmpty(options.Password) || !string.IsNullOrEmpty(options.UserName))
        {
            http.DefaultRequestHeaders.Authorization = string.IsNullOrEmpty(options.UserName)
                ? new AuthenticationHeaderValue("Token", options.Password)
                : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.UserName}:{options.Password}")));
        }
    }

    public Uri BaseUri => options.BaseUri;

    /// <summary>The <c>X-Influxdb-Version</c> the server last answered with; null before the first answer.</summary>
    public string? ServerVersion { get; private set; }

    /// <summary>Checks that an InfluxDB server answers at <see cref="BaseUri"/>.</summary>
    public async Task<InfluxPing> PingAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "ping"), $"cannot ping {BaseUri}", cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var (serverMessage, summary) = await ReadErrorAsync(response, cancellationToken);
            throw new InfluxAccessException($"{BaseUri}ping is not an InfluxDB ping", summary, response.StatusCode, serverMessage);
        }

        return new InfluxPing(HeaderValue(response, "X-Influxdb-Version"), HeaderValue(response, "X-Influxdb-Build"));
    }

    /// <summary>
    /// Writes the points of <paramref name="points"/> to <paramref name="database"/>, in as many requests as
    /// <see cref="InfluxClientOptions.MaxRequestBytes"/> requires (split at point boundaries, in order). When a request
    /// fails, the ones before it are stored and the exception says which points it carried.
    /// </summary>
    public async Task WriteAsync(string database, LineProtocolWriter points, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(database);
        ArgumentNullException.ThrowIfNull(points);
        var path = string.Create(CultureInfo.InvariantCulture, $"write?db={Uri.EscapeDataString(database)}&precision={PrecisionParameter(points.Precision)}");
        foreach (var (first, count) in points.Chunks(options.MaxRequestBytes))
        {
            await WriteChunkAsync(database, path, points, first, count, cancellationToken);
        }
    }

    /// <summary>
    /// Runs a read-only InfluxQL query (<c>SELECT</c>, <c>SHOW</c>) with <c>GET /query</c>. Values go in
    /// <paramref name="parameters"/> and are referred to as <c>$name</c> in the query: never paste them into the text.
    /// Times come back as integers in <paramref name="epoch"/> units.
    /// </summary>
    public Task<InfluxQueryResult> QueryAsync(
        string? database,
        string query,
        IReadOnlyDictionary<string, object?>? parameters,
        TimePrecision epoch,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(query);
        var builder = new StringBuilder("query?q=").Append(Uri.EscapeDataString(query)).Append("&epoch=").Append(EpochParameter(epoch));
        if (!string.IsNullOrEmpty(database))
        {
            builder.Append("&db=").Append(Uri.EscapeDataString(database));
        }

        if (parameters is { Count: > 0 })
        {
            builder.Append("&params=").Append(Uri.EscapeDataString(ParametersJson(parameters)));
        }

        var path = builder.ToString();
        return RunQueryAsync(() => new HttpRequestMessage(HttpMethod.Get, path), query, cancellationToken);
    }

    /// <summary>Runs an InfluxQL command that changes something (<c>CREATE</c>, <c>DROP</c>, <c>DELETE</c>...) with <c>POST /query</c>.</summary>
    public Task<InfluxQueryResult> ExecuteAsync(
        string? database,
        string command,
        IReadOnlyDictionary<string, object?>? parameters,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        var form = new List<KeyValuePair<string, string>> { new("q", command) };
        if (!string.IsNullOrEmpty(database))
        {
            form.Add(new("db", database));
        }

        if (parameters is { Count: > 0 })
        {
            form.Add(new("params", ParametersJson(parameters)));
        }

        return RunQueryAsync(() => new HttpRequestMessage(HttpMethod.Post, "query") { Content = new FormUrlEncodedContent(form) }, command, cancellationToken);
    }

    public void Dispose() => http.Dispose();

    internal static string PrecisionParameter(TimePrecision precision) => precision switch
    {
        TimePrecision.Nanoseconds => "ns",
        TimePrecision.Milliseconds => "ms",
        TimePrecision.Seconds => "s",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    private static string EpochParameter(TimePrecision precision) => PrecisionParameter(precision);

    /// <summary>
    /// The <c>params</c> JSON of a query. Times are sent as RFC 3339 text with nanoseconds, which InfluxQL compares
    /// with <c>time</c> exactly (a JSON number that large may be read as a double elsewhere).
    /// </summary>
    internal static string ParametersJson(IReadOnlyDictionary<string, object?> parameters)
    {
        var output = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            foreach (var (name, value) in parameters)
            {
                switch (value)
                {
                    case null:
                        json.WriteNull(name);
                        break;
                    case string text:
                        json.WriteString(name, text);
                        break;
                    case bool flag:
                        json.WriteBoolean(name, flag);
                        break;
                    case int or long or short or byte:
                        json.WriteNumber(name, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                        break;
                    case double or float:
                        json.WriteNumber(name, Convert.ToDouble(value, CultureInfo.InvariantCulture));
                        break;
                    case DateTimeOffset time:
                        json.WriteString(name, Rfc3339Nano(time));
                        break;
                    default:
                        throw new ArgumentException($"query parameter '{name}' is a {value.GetType().Name}: use a string, number, boolean or DateTimeOffset", nameof(parameters));
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    internal static string Rfc3339Nano(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffff'00Z'", CultureInfo.InvariantCulture);

    private async Task WriteChunkAsync(string database, string path, LineProtocolWriter points, int first, int count, CancellationToken cancellationToken)
    {
        var body = points.Slice(first, count);
        using var compressed = body.Length >= options.GzipMinBytes && options.GzipMinBytes >= 0 ? Compress(body) : null;
        var what = string.Create(CultureInfo.InvariantCulture, $"cannot write {count} point(s) to {BaseUri} database {database}");
        using var response = await SendAsync(
            () =>
            {
                var content = new ReadOnlyMemoryContent(compressed?.WrittenMemory ?? body);
                content.Headers.ContentType = LineProtocolType;
                if (compressed is not null)
                {
                    content.Headers.ContentEncoding.Add("gzip");
                }

                return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
            },
            what,
            cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var (serverMessage, summary) = await ReadErrorAsync(response, cancellationToken);
        switch (response.StatusCode)
        {
            case HttpStatusCode.RequestEntityTooLarge when count > 1:
                // The server's body limit is smaller than ours: halve until it fits.
                LogSplitting(count, body.Length);
                var half = count / 2;
                await WriteChunkAsync(database, path, points, first, half, cancellationToken);
                await WriteChunkAsync(database, path, points, first + half, count - half, cancellationToken);
                return;
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound:
                throw new InfluxAccessException(what, summary, response.StatusCode, serverMessage);
            case HttpStatusCode.BadRequest when serverMessage is not null && LimitPattern().IsMatch(serverMessage):
                // 1.x reports its series limits as a partial write, but the points are fine: the server's
                // max-series-per-database or max-values-per-tag must be raised (see SCHEMA.md).
                throw new InfluxAccessException(what, $"{summary} (raise this limit in the server's configuration)", response.StatusCode, serverMessage);
            default:
                int? dropped = serverMessage is not null && DroppedPattern().Match(serverMessage) is { Success: true } match
                    ? int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture)
                    : null;
                throw new InfluxDataRejectedException(what, summary, response.StatusCode, serverMessage, first, count, dropped);
        }
    }

    private async Task<InfluxQueryResult> RunQueryAsync(Func<HttpRequestMessage> createRequest, string query, CancellationToken cancellationToken)
    {
        var what = $"cannot query {BaseUri} with '{InfluxQueryResult.Abbreviate(query)}'";
        using var response = await SendAsync(createRequest, what, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var (serverMessage, summary) = await ReadErrorAsync(response, cancellationToken);
            throw response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound
                ? new InfluxAccessException(what, summary, response.StatusCode, serverMessage)
                : new InfluxQueryException(what, summary, response.StatusCode, serverMessage);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(stream, default, cancellationToken);
        }
        catch (JsonException ex)
        {
            throw new InfluxQueryException(what, $"the answer is not JSON ({ex.Message})", response.StatusCode, null);
        }

        return InfluxQueryResult.Parse(document, query);
    }

    /// <summary>
    /// Sends a request, retrying transient failures; returns the first non-transient answer (success or not) for the
    /// caller to interpret, or throws <see cref="InfluxUnavailableException"/> once the attempts are spent.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> createRequest, string what, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            InfluxUnavailableException failure;
            TimeSpan? retryAfter = null;
            using (var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptTimeout.CancelAfter(options.RequestTimeout);
                try
                {
                    using var request = createRequest();
                    var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, attemptTimeout.Token);
                    NoteVersion(response);
                    if (!IsTransient(response.StatusCode))
                    {
                        return response;
                    }

                    using (response)
                    {
                        var (serverMessage, summary) = await ReadErrorAsync(response, cancellationToken);
                        failure = new InfluxUnavailableException(what, summary, response.StatusCode, serverMessage);
                        retryAfter = RetryAfter(response);
                    }
                }
                catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new InfluxUnavailableException(
                        what, string.Create(CultureInfo.InvariantCulture, $"no answer within {options.RequestTimeout.TotalSeconds:0.#} s"), innerException: ex);
                }
                catch (HttpRequestException ex)
                {
                    failure = new InfluxUnavailableException(what, Describe(ex), innerException: ex);
                }
            }

            if (attempt >= options.MaxAttempts)
            {
                throw failure;
            }

            var delay = retryAfter is { } serverDelay && serverDelay > TimeSpan.Zero
                ? TimeSpan.FromTicks(Math.Min(serverDelay.Ticks, options.MaxRetryDelay.Ticks))
                : BackOff(attempt);
            LogRetrying(failure.Message, attempt, options.MaxAttempts, delay.TotalSeconds);
            await Task.Delay(delay, cancellationToken);
        }
    }

    private TimeSpan BackOff(int attempt)
    {
        var exponential = options.FirstRetryDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
#pragma warning disable CA5394 // Jitter spreads the retries of several writers; it needs no cryptographic randomness.
        var jittered = exponential * (0.8 + (0.4 * Random.Shared.NextDouble()));
#pragma warning restore CA5394
        return TimeSpan.FromMilliseconds(Math.Min(jittered, options.MaxRetryDelay.TotalMilliseconds));
    }

    private static bool IsTransient(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout;

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private static PooledBufferStream Compress(ReadOnlyMemory<byte> body)
    {
        var output = new PooledBufferStream(Math.Max(1024, body.Length / 4));
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(body.Span);
        }

        return output;
    }

    /// <summary>The server's message (<c>{"error":"..."}</c> from 1.x, <c>{"message":"..."}</c> from 2.x) and a one-line summary with the status.</summary>
    private static async Task<(string? ServerMessage, string Summary)> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string? message = null;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && (json.RootElement.TryGetProperty("error", out var error) || json.RootElement.TryGetProperty("message", out error))
                && error.ValueKind == JsonValueKind.String)
            {
                message = error.GetString();
            }
        }
        catch (JsonException)
        {
            message = string.IsNullOrWhiteSpace(body) ? null : InfluxQueryResult.Abbreviate(body.Trim());
        }

        var status = string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        return (message, message is null ? status : $"{status}: {message.ReplaceLineEndings(" ")}");
    }

    private static string Describe(HttpRequestException ex)
    {
        var message = ex.Message;
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException or IOException or System.Security.Authentication.AuthenticationException)
            {
                if (!message.Contains(inner.Message, StringComparison.OrdinalIgnoreCase))
                {
                    message = $"{message} ({inner.Message})";
                }

                break;
            }
        }

        return message.ReplaceLineEndings(" ");
    }

    private static string? HeaderValue(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private void NoteVersion(HttpResponseMessage response)
    {
        var version = HeaderValue(response, "X-Influxdb-Version");
        if (version is null)
        {
            return;
        }

        ServerVersion = version;
        if (!string.Equals(Interlocked.Exchange(ref loggedVersion, version), version, StringComparison.Ordinal))
        {
            var build = HeaderValue(response, "X-Influxdb-Build") ?? "unknown";
            LogServerVersion(BaseUri, version, build);
        }
    }

    [GeneratedRegex(@"dropped=(\d+)")]
    private static partial Regex DroppedPattern();

    [GeneratedRegex("max-values-per-tag limit exceeded|max-series-per-database limit exceeded")]
    private static partial Regex LimitPattern();

    [LoggerMessage(Level = LogLevel.Information, Message = "InfluxDB at {BaseUri} is version {Version} ({Build} build)")]
    private partial void LogServerVersion(Uri baseUri, string version, string build);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Failure}; attempt {Attempt} of {MaxAttempts}, retrying in {DelaySeconds:F1} s")]
    private partial void LogRetrying(string failure, int attempt, int maxAttempts, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "InfluxDB refused a {Bytes}-byte body as too large; splitting its {Points} points in two")]
    private partial void LogSplitting(int points, int bytes);
}
