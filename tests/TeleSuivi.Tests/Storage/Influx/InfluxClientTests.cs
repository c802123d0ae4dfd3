using System.Net;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>The v1 HTTP API client against the real influxd of the fixture, and against stubs for what a healthy local server never does.</summary>
public sealed class InfluxClientTests(ExternalServices services)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PingAsync_RealServer_ReturnsItsVersion()
    {
        using var client = Client();

        var ping = await client.PingAsync(Cancel);

        Assert.StartsWith("1.", ping.Version, StringComparison.Ordinal);
        Assert.Equal(ping.Version, client.ServerVersion);
    }

    public static TheoryData<string> NastyTexts => new()
    {
        "with space",
        " leading and trailing ",
        "comma,inside",
        "equals=inside",
        "quote\"inside",
        "single'quote",
        @"back\slash",
        @"two\\backslashes",
        @"C:\temp\x",
        "all , = \" mixed",
        "tab\tinside",
        "ünïcødé €𝄞 日本",
        "x' OR t =~ /.*/ --",
    };

    [Theory]
    [MemberData(nameof(NastyTexts))]
    public async Task WriteAsync_NastyNamesAndValues_ReadBackUnchanged(string text)
    {
        using var client = Client();
        var database = await NewDatabaseAsync(client);
        var tagKey = "tag " + text;
        var fieldKey = "field " + text;
        using var points = new LineProtocolWriter(TimePrecision.Milliseconds);
        points.Measurement(text).Tag(tagKey, text).Field(fieldKey, text).Field("n", 1L).End(1_768_464_000_123);
        points.Measurement(text).Tag(tagKey, text + " decoy").Field(fieldKey, "decoy").Field("n", 2L).End(1_768_464_000_124);

        await client.WriteAsync(database, points, Cancel);

        using var result = await client.QueryAsync(
            database,
            $"SELECT * FROM {InfluxQl.QuoteIdentifier(text)} WHERE {InfluxQl.QuoteIdentifier(tagKey)} = $value",
            new Dictionary<string, object?> { ["value"] = text },
            TimePrecision.Milliseconds,
            Cancel);
        var series = Assert.Single(result.Series);
        Assert.Equal(text, series.Name);
        var row = Assert.Single(series.Rows);
        Assert.Equal(1_768_464_000_123, row.GetEpoch(series.IndexOf("time")));
        Assert.Equal(1, row.GetInt64(series.IndexOf("n")));
        Assert.Equal(text, row.GetString(series.IndexOf(tagKey)));
        Assert.Equal(text, row.GetString(series.IndexOf(fieldKey)));
    }

    [Fact]
    public async Task WriteAsync_StringFieldWithLineBreaksAndEscapes_ReadsBackUnchanged()
    {
        using var client = Client();
        var database = await NewDatabaseAsync(client);
        const string value = "line 1\nline 2\r\n\"quoted\" \\ end\\";
        using var points = new LineProtocolWriter(TimePrecision.Seconds);
        points.Measurement("m").Field("s", value).Field("f", 1e-7).Field("big", 1.5e300).Field("b", true).End(1_768_464_000);

        await client.WriteAsync(database, points, Cancel);

        using var result = await client.QueryAsync(database, "SELECT * FROM m", null, TimePrecision.Seconds, Cancel);
        var series = Assert.Single(result.Series);
        var row = Assert.Single(series.Rows);
        Assert.Equal(value, row.GetString(series.IndexOf("s")));
        Assert.Equal(1e-7, row.GetDouble(series.IndexOf("f")));
        Assert.Equal(1.5e300, row.GetDouble(series.IndexOf("big")));
        Assert.True(row.GetBoolean(series.IndexOf("b")));
        Assert.Equal(1_768_464_000, row.GetEpoch(series.IndexOf("time")));
    }

    [Fact]
    public async Task WriteAsync_FieldTypeConflict_ThrowsDataRejectedWithoutRetrying()
    {
        var recorder = new RecordingHandler();
        using var client = Client(recorder);
        var database = await NewDatabaseAsync(client);
        using var first = new LineProtocolWriter();
        first.Measurement("m").Field("x", 1.5).End(1);
        await client.WriteAsync(database, first, Cancel);
        using var conflicting = new LineProtocolWriter();
        conflicting.Measurement("m").Field("x", "text").End(2);
        recorder.Requests.Clear();

        var error = await Assert.ThrowsAsync<InfluxDataRejectedException>(() => client.WriteAsync(database, conflicting, Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("field type conflict", error.ServerMessage, StringComparison.Ordinal);
        Assert.Equal(1, error.DroppedPoints);
        Assert.Equal((0, 1), (error.FirstPoint, error.PointCount));
        Assert.Single(recorder.Requests);
    }

    [Fact]
    public async Task WriteAsync_PointBeyondRetentionPolicy_ThrowsDataRejected()
    {
        using var client = Client();
        var database = ExternalServices.NewDatabaseName();
        using (await client.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(database)} WITH DURATION 1h", null, Cancel))
        {
        }

        using var points = new LineProtocolWriter(TimePrecision.Seconds);
        points.Measurement("m").Field("x", 1.0).End(new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero));

        var error = await Assert.ThrowsAsync<InfluxDataRejectedException>(() => client.WriteAsync(database, points, Cancel));

        Assert.Contains("retention policy", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_UnknownDatabase_ThrowsAccess()
    {
        using var client = Client();
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        var error = await Assert.ThrowsAsync<InfluxAccessException>(() => client.WriteAsync(ExternalServices.NewDatabaseName(), points, Cancel));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Contains("database not found", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_NothingListening_ThrowsUnavailableAfterBoundedAttempts()
    {
        var recorder = new RecordingHandler();
        var port = LoopbackPort.Free();
        using var client = new InfluxClient(FastRetries(new Uri($"http://127.0.0.1:{port}")), handler: recorder);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        var error = await Assert.ThrowsAsync<InfluxUnavailableException>(() => client.WriteAsync("db", points, Cancel));

        Assert.Null(error.StatusCode);
        Assert.Contains("refused", error.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, recorder.Requests.Count);
    }

    [Fact]
    public async Task WriteAsync_ServerErrorThenSuccess_RetriesAndSucceeds()
    {
        var stub = new StubHandler((_, index) => index == 0
            ? StubHandler.Answer(HttpStatusCode.ServiceUnavailable, """{"error":"engine: cache-max-memory-size exceeded"}""")
            : StubHandler.Answer(HttpStatusCode.NoContent));
        using var client = new InfluxClient(FastRetries(), handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        await client.WriteAsync("db", points, Cancel);

        Assert.Equal(2, stub.Requests.Count);
        Assert.All(stub.Requests, request => Assert.Equal("m x=1 1\n", request.DecodedBody()));
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    public async Task WriteAsync_TransientStatusEveryTime_ThrowsUnavailableAfterBoundedAttempts(HttpStatusCode status)
    {
        var stub = new StubHandler((_, _) => StubHandler.Answer(status, """{"error":"timeout"}"""));
        using var client = new InfluxClient(FastRetries(), handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        var error = await Assert.ThrowsAsync<InfluxUnavailableException>(() => client.WriteAsync("db", points, Cancel));

        Assert.Equal(status, error.StatusCode);
        Assert.Equal("timeout", error.ServerMessage);
        Assert.Equal(3, stub.Requests.Count);
    }

    [Fact]
    public async Task WriteAsync_NoAnswerInTime_ThrowsUnavailable()
    {
        var stub = new StubHandler(async (_, _, requestAborted) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), requestAborted);
            return StubHandler.Answer(HttpStatusCode.NoContent);
        });
        using var client = new InfluxClient(FastRetries() with { RequestTimeout = TimeSpan.FromMilliseconds(100), MaxAttempts = 2 }, handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        var error = await Assert.ThrowsAsync<InfluxUnavailableException>(() => client.WriteAsync("db", points, Cancel));

        Assert.Contains("no answer within 0.1 s", error.Reason, StringComparison.Ordinal);
        Assert.Equal(2, stub.Requests.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, """{"error":"authorization failed"}""", "authorization failed")]
    [InlineData(HttpStatusCode.Forbidden, """{"code":"forbidden","message":"insufficient permissions for write"}""", "insufficient permissions for write")]
    public async Task WriteAsync_Refused_ThrowsAccessWithoutRetrying(HttpStatusCode status, string body, string message)
    {
        var stub = new StubHandler((_, _) => StubHandler.Answer(status, body));
        using var client = new InfluxClient(FastRetries(), handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        var error = await Assert.ThrowsAsync<InfluxAccessException>(() => client.WriteAsync("db", points, Cancel));

        Assert.Equal(message, error.ServerMessage);
        Assert.Single(stub.Requests);
    }

    [Fact]
    public async Task WriteAsync_SeriesLimitReached_ThrowsAccessNotDataRejected()
    {
        const string body = """{"error":"partial write: max-values-per-tag limit exceeded (100000/100000): measurement=\"observation\" tag=\"patient\" value=\"Patient/100001\" dropped=1"}""";
        var stub = new StubHandler((_, _) => StubHandler.Answer(HttpStatusCode.BadRequest, body));
        using var client = new InfluxClient(FastRetries(), handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        var error = await Assert.ThrowsAsync<InfluxAccessException>(() => client.WriteAsync("db", points, Cancel));

        Assert.Contains("raise this limit", error.Reason, StringComparison.Ordinal);
        Assert.Single(stub.Requests);
    }

    [Theory]
    [InlineData("writer", "s3cret", "Basic d3JpdGVyOnMzY3JldA==")]
    [InlineData(null, "token-abc", "Token token-abc")]
    public async Task WriteAsync_WithCredentials_AuthenticatesInTheHeader(string? user, string password, string expected)
    {
        var stub = new StubHandler((_, _) => StubHandler.Answer(HttpStatusCode.NoContent));
        using var client = new InfluxClient(FastRetries() with { UserName = user, Password = password }, handler: stub);
        using var points = new LineProtocolWriter(TimePrecision.Milliseconds);
        points.Measurement("m").Field("x", 1.0).End(1);

        await client.WriteAsync("my db", points, Cancel);

        var request = Assert.Single(stub.Requests);
        Assert.Equal(expected, request.Authorization);
        Assert.Equal("/write?db=my%20db&precision=ms", request.Uri.PathAndQuery);
        Assert.DoesNotContain(password, request.Uri.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_BodyOverGzipThreshold_IsSentCompressedAndAccepted()
    {
        var recorder = new RecordingHandler();
        using var client = new InfluxClient(new InfluxClientOptions { BaseUri = services.InfluxUrl, GzipMinBytes = 1024 }, handler: recorder);
        var database = await NewDatabaseAsync(client);
        using var points = new LineProtocolWriter(TimePrecision.Seconds);
        for (var i = 0; i < 500; i++)
        {
            points.Measurement("m").Tag("patient", "Patient/" + (i % 7)).Field("x", i * 0.5).End(1_768_464_000 + i);
        }

        recorder.Requests.Clear();
        await client.WriteAsync(database, points, Cancel);

        var request = Assert.Single(recorder.Requests);
        Assert.Equal(["gzip"], request.ContentEncoding);
        Assert.True(request.Body.Length < points.Length / 3, $"{request.Body.Length} compressed bytes for {points.Length}");
        Assert.Equal(points.ToString(), request.DecodedBody());
        Assert.Equal(500, await CountAsync(client, database, "m"));
    }

    [Theory]
    [InlineData("influxdb://127.0.0.1:8086/telesuivi", -1)]
    [InlineData("influxdb://localhost:8086/telesuivi", -1)]
    [InlineData("influxdb://[::1]:8086/telesuivi", -1)]
    [InlineData("influxdb://influx.hospital.example:8086/telesuivi", InfluxClientOptions.DefaultGzipMinBytes)]
    public void For_ServerOnTheLoopbackInterface_CompressesNothing(string url, int gzipMinBytes)
    {
        var options = new TeleSuivi.Server.Storage.StoreOptions { Url = url };

        Assert.Equal(gzipMinBytes, InfluxClientOptions.For(options.ResolveAddress(), options).GzipMinBytes);
    }

    [Fact]
    public async Task WriteAsync_SmallBody_IsSentUncompressed()
    {
        var stub = new StubHandler((_, _) => StubHandler.Answer(HttpStatusCode.NoContent));
        using var client = new InfluxClient(FastRetries(), handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1.0).End(1);

        await client.WriteAsync("db", points, Cancel);

        Assert.Empty(Assert.Single(stub.Requests).ContentEncoding);
    }

    [Fact]
    public async Task WriteAsync_BatchLargerThanRequestLimit_IsSplitAtPointBoundaries()
    {
        var recorder = new RecordingHandler();
        using var client = new InfluxClient(new InfluxClientOptions { BaseUri = services.InfluxUrl, MaxRequestBytes = 4096, GzipMinBytes = -1 }, handler: recorder);
        var database = await NewDatabaseAsync(client);
        using var points = new LineProtocolWriter(TimePrecision.Milliseconds);
        for (var i = 0; i < 2000; i++)
        {
            points.Measurement("m").Tag("patient", "Patient/" + (i % 13)).Field("x", (long)i).End(1_768_464_000_000 + i);
        }

        recorder.Requests.Clear();
        await client.WriteAsync(database, points, Cancel);

        var requests = recorder.Requests.ToList();
        Assert.True(requests.Count >= points.Length / 4096, $"{requests.Count} requests for {points.Length} bytes");
        Assert.All(requests, request => Assert.InRange(request.Body.Length, 1, 4096));
        Assert.All(requests, request => Assert.EndsWith("\n", request.DecodedBody(), StringComparison.Ordinal));
        Assert.Equal(points.ToString(), string.Concat(requests.Select(r => r.DecodedBody())));
        Assert.Equal(2000, await CountAsync(client, database, "m"));
    }

    [Fact]
    public async Task WriteAsync_ServerBodyLimitSmallerThanOurs_HalvesUntilItFits()
    {
        var stub = new StubHandler((request, _) => request.Body.Length > 100
            ? StubHandler.Answer(HttpStatusCode.RequestEntityTooLarge, """{"error":"Request Entity Too Large"}""")
            : StubHandler.Answer(HttpStatusCode.NoContent));
        using var client = new InfluxClient(FastRetries() with { GzipMinBytes = -1 }, handler: stub);
        using var points = new LineProtocolWriter();
        for (var i = 0; i < 40; i++)
        {
            points.Measurement("m").Field("x", (long)i).End(i);
        }

        await client.WriteAsync("db", points, Cancel);

        var accepted = stub.Requests.Where(r => r.Body.Length <= 100).Select(r => r.DecodedBody());
        Assert.Equal(points.ToString(), string.Concat(accepted));
    }

    [Fact]
    public async Task WriteAsync_SinglePointOverServerBodyLimit_ThrowsDataRejected()
    {
        var stub = new StubHandler((_, _) => StubHandler.Answer(HttpStatusCode.RequestEntityTooLarge, """{"error":"Request Entity Too Large"}"""));
        using var client = new InfluxClient(FastRetries(), handler: stub);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1L).End(1);
        points.Measurement("m").Field("x", 2L).End(2);

        var error = await Assert.ThrowsAsync<InfluxDataRejectedException>(() => client.WriteAsync("db", points, Cancel));

        Assert.Equal((0, 1), (error.FirstPoint, error.PointCount));
        Assert.Equal(2, stub.Requests.Count); // both points, then the first alone; the second is not tried
    }

    [Fact]
    public async Task QueryAsync_ValueLookingLikeInfluxQl_IsMatchedLiterally()
    {
        using var client = Client();
        var database = await NewDatabaseAsync(client);
        using var points = new LineProtocolWriter(TimePrecision.Seconds);
        points.Measurement("m").Tag("t", "a").Field("x", 1L).End(1);
        points.Measurement("m").Tag("t", "b").Field("x", 2L).End(2);
        await client.WriteAsync(database, points, Cancel);

        using var injected = await client.QueryAsync(database, "SELECT * FROM m WHERE t = $t", new Dictionary<string, object?> { ["t"] = "a' OR t = 'b" }, TimePrecision.Seconds, Cancel);
        using var exact = await client.QueryAsync(database, "SELECT * FROM m WHERE t = $t", new Dictionary<string, object?> { ["t"] = "b" }, TimePrecision.Seconds, Cancel);

        Assert.Empty(injected.Series);
        var series = Assert.Single(exact.Series);
        Assert.Equal(2, Assert.Single(series.Rows).GetInt64(series.IndexOf("x")));
    }

    [Fact]
    public async Task QueryAsync_TimeParameters_CompareToTheNanosecond()
    {
        using var client = Client();
        var database = await NewDatabaseAsync(client);
        var time = new DateTimeOffset(2026, 1, 15, 8, 0, 0, 123, TimeSpan.Zero);
        using var points = new LineProtocolWriter();
        points.Measurement("m").Field("x", 1L).End(time);
        await client.WriteAsync(database, points, Cancel);

        using var atOrAfter = await client.QueryAsync(database, "SELECT * FROM m WHERE time >= $t", new Dictionary<string, object?> { ["t"] = time }, TimePrecision.Nanoseconds, Cancel);
        using var after = await client.QueryAsync(database, "SELECT * FROM m WHERE time >= $t", new Dictionary<string, object?> { ["t"] = time.AddTicks(1) }, TimePrecision.Nanoseconds, Cancel);

        Assert.Equal(1_768_464_000_123_000_000, Assert.Single(Assert.Single(atOrAfter.Series).Rows).GetEpoch(0));
        Assert.Empty(after.Series);
    }

    [Fact]
    public async Task QueryAsync_GroupByTag_ReturnsOneSeriesPerTagValue()
    {
        using var client = Client();
        var database = await NewDatabaseAsync(client);
        using var points = new LineProtocolWriter(TimePrecision.Seconds);
        points.Measurement("m").Tag("t", "a").Field("x", 1.0).End(1);
        points.Measurement("m").Tag("t", "a").Field("x", 3.0).End(2);
        points.Measurement("m").Tag("t", "b").Field("x", 5.0).End(3);
        await client.WriteAsync(database, points, Cancel);

        using var result = await client.QueryAsync(database, "SELECT mean(x), count(x) FROM m GROUP BY t", null, TimePrecision.Seconds, Cancel);

        Assert.Collection(
            result.Series,
            a =>
            {
                Assert.Equal("a", a.Tags["t"]);
                Assert.Equal(["time", "mean", "count"], a.Columns);
                Assert.Equal(2.0, a.Rows[0].GetDouble(a.IndexOf("mean")));
                Assert.Equal(2, a.Rows[0].GetInt64(a.IndexOf("count")));
            },
            b => Assert.Equal("b", b.Tags["t"]));
    }

    [Fact]
    public async Task QueryAsync_SyntaxError_ThrowsQueryWithTheServersMessage()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<InfluxQueryException>(() => client.QueryAsync(null, "SELEC nothing", null, TimePrecision.Milliseconds, Cancel));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("error parsing query", error.ServerMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAsync_StatementError_ThrowsQuery()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<InfluxQueryException>(
            () => client.QueryAsync(ExternalServices.NewDatabaseName(), "SELECT * FROM m", null, TimePrecision.Milliseconds, Cancel));

        Assert.Contains("database not found", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAsync_MissingParameter_ThrowsQuery()
    {
        using var client = Client();
        var database = await NewDatabaseAsync(client);

        var error = await Assert.ThrowsAsync<InfluxQueryException>(() => client.QueryAsync(database, "SELECT * FROM m WHERE t = $t", null, TimePrecision.Milliseconds, Cancel));

        Assert.Contains("$t", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExecuteAsync_CreateDatabaseTwice_Succeeds()
    {
        var recorder = new RecordingHandler();
        using var client = Client(recorder);
        var database = ExternalServices.NewDatabaseName();

        for (var i = 0; i < 2; i++)
        {
            using var created = await client.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(database)}", null, Cancel);
            Assert.Empty(created.Statements[0].Messages);
        }

        using var databases = await client.QueryAsync(null, "SHOW DATABASES", null, TimePrecision.Milliseconds, Cancel);
        Assert.Contains(database, Assert.Single(databases.Series).Rows.Select(row => row.GetString(0)));
        Assert.All(recorder.Requests.Take(2), request => Assert.Equal(HttpMethod.Post, request.Method));
    }

    private InfluxClient Client(HttpMessageHandler? handler = null) =>
        new(FastRetries(services.InfluxUrl), handler: handler);

    private static InfluxClientOptions FastRetries(Uri? baseUri = null) => new()
    {
        BaseUri = baseUri ?? new Uri("http://influx.invalid:8086"),
        FirstRetryDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    private static async Task<string> NewDatabaseAsync(InfluxClient client)
    {
        var database = ExternalServices.NewDatabaseName();
        using var created = await client.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(database)}", null, Cancel);
        return database;
    }

    private static async Task<long> CountAsync(InfluxClient client, string database, string measurement)
    {
        using var result = await client.QueryAsync(database, $"SELECT count(*) FROM {InfluxQl.QuoteIdentifier(measurement)}", null, TimePrecision.Milliseconds, Cancel);
        var series = Assert.Single(result.Series);
        return series.Rows[0].GetInt64(1) ?? 0;
    }
}
