using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using TeleSuivi.Server;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Server.Storage.Shapes;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>What is particular to the InfluxDB store: the schema of its points, start-up against servers that say no.</summary>
public sealed class InfluxObservationStoreTests(ExternalServices services)
{
    private const string Patient = "Patient/schema-1";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WriteAsync_BloodPressurePanel_StoresOnePointWithTheDocumentedSchema()
    {
        using var store = NewStore(out _);
        await store.InitializeAsync(Cancel);
        var pressure = BloodPressure(Patient, Morning, 128, 82, 97.5m);

        await store.WriteAsync([pressure], Cancel);

        using var result = await store.Client.QueryAsync(store.Database, "SELECT * FROM observation", null, TimePrecision.Nanoseconds, Cancel);
        var series = Assert.Single(result.Series);
        Assert.Equal(
            ["time", "c:8462-4", "c:8478-0", "c:8480-6", "code", "device", "id", "identifier", "patient", "shape", "style"],
            series.Columns);
        var row = Assert.Single(series.Rows);
        Assert.Equal(BloodPressureCode, row.GetString(series.IndexOf("code")));
        Assert.Equal("Device/bp-1", row.GetString(series.IndexOf("device")));
        Assert.Equal(Patient, row.GetString(series.IndexOf("patient")));
        Assert.Equal(pressure.Id, row.GetString(series.IndexOf("id")));
        Assert.Equal(pressure.Identifier[0].Value, row.GetString(series.IndexOf("identifier")));
        Assert.Equal(128.0, row.GetDouble(series.IndexOf("c:8480-6")));
        Assert.Equal(82.0, row.GetDouble(series.IndexOf("c:8462-4")));
        Assert.Equal(97.5, row.GetDouble(series.IndexOf("c:8478-0")));
        Assert.Equal((7L << ObservationPoint.FieldCountShift) | (long)EffectiveStyle.Firely, row.GetInt64(series.IndexOf("style"))); // 7 fields in its line
        var time = row.GetEpoch(series.IndexOf("time"));
        Assert.Equal(Morning.ToUnixTimeMilliseconds(), Math.DivRem(time, 1_000_000, out var offset));
        Assert.InRange(offset, 0, 999_999);

        using var shapes = await store.Client.QueryAsync(store.Database, "SELECT * FROM observation_shape", null, TimePrecision.Nanoseconds, Cancel);
        var shapeRow = Assert.Single(Assert.Single(shapes.Series).Rows);
        Assert.Equal(ShapePoints.TagValue(row.GetInt64(series.IndexOf("shape"))!.Value), shapeRow.GetString(2));
        Assert.Equal(new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000, shapeRow.GetEpoch(0));
        var shape = shapeRow.GetString(1)!;
        Assert.DoesNotContain(pressure.Id!, shape, StringComparison.Ordinal);
        Assert.DoesNotContain("Patient/", shape, StringComparison.Ordinal);
        Assert.DoesNotContain("Device/", shape, StringComparison.Ordinal);
        Assert.DoesNotContain("effective", shape, StringComparison.Ordinal);
        Assert.DoesNotContain("128", shape, StringComparison.Ordinal);
        Assert.DoesNotContain(pressure.Identifier[0].Value!, shape, StringComparison.Ordinal);
        Assert.Contains("Systolic blood pressure", shape, StringComparison.Ordinal);
        Assert.Contains("Right upper arm structure", shape, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_BloodPressurePanel_WritesTheLinesShownInSchemaMd()
    {
        using var writer = new LineProtocolWriter();
        var pressure = BloodPressure("Patient/123", Morning, 128, 82, 97);

        ObservationPoint.Write(writer, pressure, new ShapePoints(NullLogger.Instance), []);

        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var shape = ObservationShapes.Split(pressure).ShapeId;
        Assert.StartsWith(
            $"observation_shape,shape={ShapePoints.TagValue(shape)} json=\"{{\\\"resourceType\\\":\\\"Observation\\\",\\\"identifier\\\":[",
            lines[0],
            StringComparison.Ordinal);
        Assert.EndsWith("]}\" 1768464000000000000", lines[0], StringComparison.Ordinal);
        Assert.Equal(
            $"observation,code=http://loinc.org|85354-9,device=Device/bp-1,patient=Patient/123 c:8480-6=128,c:8462-4=82,c:8478-0=97,id=\"obs-bp-1-85354-9-1768464000123\",identifier=\"bp-1/85354-9/1768464000123\",shape={shape}i,style={(7 << ObservationPoint.FieldCountShift) | 2}i 1768464000123937795",
            lines[1]);
    }

    [Fact]
    public async Task WriteAsync_Quantity_StoresValueAndUnitFields()
    {
        using var store = NewStore(out _);
        await store.InitializeAsync(Cancel);

        await store.WriteAsync([BodyWeight(Patient, Morning, 72.5m)], Cancel);

        using var result = await store.Client.QueryAsync(
            store.Database, "SELECT \"value\", \"unit\" FROM observation WHERE code = $code", new Dictionary<string, object?> { ["code"] = BodyWeightCode }, TimePrecision.Milliseconds, Cancel);
        var row = Assert.Single(Assert.Single(result.Series).Rows);
        Assert.Equal(72.5, row.GetDouble(1));
        Assert.Equal("kg", row.GetString(2));
    }

    [Fact]
    public async Task WriteAsync_SameObservationTwice_LeavesOnePoint()
    {
        using var store = NewStore(out _);
        await store.InitializeAsync(Cancel);
        var rate = HeartRate(Patient, Morning, 64);

        await store.WriteAsync([rate], Cancel);
        await store.WriteAsync([HeartRate(Patient, Morning, 64)], Cancel);

        using var result = await store.Client.QueryAsync(store.Database, "SELECT count(\"id\") FROM observation", null, TimePrecision.Milliseconds, Cancel);
        Assert.Equal(1, Assert.Single(Assert.Single(result.Series).Rows).GetInt64(1));
    }

    [Fact]
    public void Timestamp_DifferentIdsInOneMillisecond_DifferWithinThatMillisecond()
    {
        var ms = Morning.ToUnixTimeMilliseconds();
        var stamps = Enumerable.Range(0, 1000).Select(i => ObservationPoint.Timestamp(ms, $"obs-{i}")).ToList();

        Assert.All(stamps, stamp => Assert.Equal(ms, stamp / 1_000_000));
        Assert.True(stamps.Distinct().Count() >= 999, "offsets should rarely collide");
        Assert.Equal(ObservationPoint.Timestamp(ms, "obs-1"), ObservationPoint.Timestamp(ms, "obs-1"));
        Assert.Equal((ms * 1_000_000) + 71_691, ObservationPoint.Timestamp(ms, "obs-1")); // stable across runs and versions
    }

    [Fact]
    public async Task WriteAsync_ReferenceLineProtocolCannotCarry_ThrowsArgumentExceptionAndWritesNothing()
    {
        using var store = NewStore(out _);
        await store.InitializeAsync(Cancel);
        var good = HeartRate(Patient, Morning, 64);
        var bad = HeartRate(Patient, Morning.AddMinutes(1), 65, device: "Device/ends-with\\");

        await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync([good, bad], Cancel));

        Assert.Empty(await store.ReadAsync(Patient, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel));
    }

    [Fact]
    public async Task WriteAsync_BatchOfFiveHundred_SendsItInPartsInOrderAndStoresEveryObservation()
    {
        var recorder = new RecordingHandler();
        using var store = NewStore(ExternalServices.NewDatabaseName(), recorder);
        await store.InitializeAsync(Cancel);
        var batch = Enumerable.Range(0, 500).Select(i => HeartRate(Patient, Morning.AddMinutes(i), 60 + (i % 40))).ToList();
        var before = batch.Select(Json).ToList();

        await store.WriteAsync(batch, Cancel);

        // Each part: its readings and their id-index points, after the shape point of each hour they cover (the readings
        // of one part span 2 to 3 hours; a part serialised while the one before is on the wire writes its first hour's shape again).
        var writes = recorder.Requests
            .Where(r => r.Uri.AbsolutePath.EndsWith("/write", StringComparison.Ordinal))
            .Select(r => r.DecodedBody().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            .Where(lines => lines.Any(l => l.StartsWith("observation,code=http://loinc.org|8867-4", StringComparison.Ordinal)))
            .ToList();
        Assert.Equal(4, writes.Count);
        Assert.All(writes, lines => Assert.Equal(125, lines.Count(l => l.StartsWith("observation,", StringComparison.Ordinal))));
        Assert.All(writes, lines => Assert.Equal(125, lines.Count(l => l.StartsWith("observation_id,", StringComparison.Ordinal))));
        Assert.All(writes, lines => Assert.InRange(lines.Count(l => l.StartsWith("observation_shape,", StringComparison.Ordinal)), 2, 3));
        Assert.All(writes, lines => Assert.StartsWith("observation_shape,", lines[0], StringComparison.Ordinal));
        var firstIds = writes.Select(lines => lines.First(l => l.StartsWith("observation,", StringComparison.Ordinal))).ToList();
        Assert.Equal([0, 125, 250, 375], firstIds.Select(line => batch.FindIndex(o => line.Contains($"id=\"{o.Id}\"", StringComparison.Ordinal))));
        Assert.Equal(before, batch.Select(Json));
        var stored = await store.ReadAsync(Patient, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1_000, Cancel);
        Assert.Equal(before, stored.Select(Json));
    }

    [Fact]
    public async Task WriteAsync_ObservationTheLineProtocolCannotCarryInTheThirdPart_WritesTheTwoPartsBeforeIt()
    {
        using var store = NewStore(out _);
        await store.InitializeAsync(Cancel);
        var batch = Enumerable.Range(0, 500).Select(i => HeartRate(Patient, Morning.AddMinutes(i), 70)).ToList();
        batch[300] = HeartRate(Patient, Morning.AddMinutes(300), 65, device: "Device/ends-with\\");

        await Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(batch, Cancel));

        var stored = await store.ReadAsync(Patient, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1_000, Cancel);
        Assert.Equal(batch.Take(250).Select(o => o.Id), stored.Select(o => o.Id));
    }

    [Fact]
    public async Task InitializeAsync_CreatesTheDatabase()
    {
        using var store = NewStore(out var database);

        await store.InitializeAsync(Cancel);

        using var databases = await store.Client.QueryAsync(null, "SHOW DATABASES", null, TimePrecision.Milliseconds, Cancel);
        Assert.Contains(database, Assert.Single(databases.Series).Rows.Select(row => row.GetString(0)));
    }

    [Fact]
    public async Task InitializeAsync_NothingListening_ThrowsConfigurationExceptionNamingTheAddress()
    {
        var options = new StoreOptions { Url = $"influxdb://127.0.0.1:{LoopbackPort.Free()}/telesuivi" };
        var address = options.ResolveAddress();
        using var store = new InfluxObservationStore(address, options);

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => store.InitializeAsync(Cancel));

        Assert.StartsWith($"cannot reach InfluxDB at {address.Display}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task InitializeAsync_CreateDatabaseForbiddenButDatabaseWritable_Succeeds()
    {
        var database = ExternalServices.NewDatabaseName();
        using (var admin = new InfluxClient(new InfluxClientOptions { BaseUri = services.InfluxUrl }))
        using (await admin.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(database)}", null, Cancel))
        {
        }

        using var forwarder = new ForbidCreateDatabase();
        using var store = NewStore(database, forwarder);

        await store.InitializeAsync(Cancel);

        Assert.Equal(1, forwarder.Refused);
    }

    [Fact]
    public async Task InitializeAsync_CreateDatabaseForbiddenAndNoDatabase_ThrowsConfigurationException()
    {
        using var forwarder = new ForbidCreateDatabase();
        using var store = NewStore(ExternalServices.NewDatabaseName(), forwarder);

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => store.InitializeAsync(Cancel));

        Assert.StartsWith($"cannot write to InfluxDB at {store.Display}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("database not found", error.Message, StringComparison.Ordinal);
        Assert.Contains("requires admin privilege", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InitializeAsync_NotAnInfluxServer_ThrowsConfigurationException()
    {
        var stub = new StubHandler((_, _) => new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("<html>nginx</html>") });
        var options = new StoreOptions { Url = "influxdb://web.invalid:80/telesuivi" };
        using var store = new InfluxObservationStore(options.ResolveAddress(), options, handler: stub);

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => store.InitializeAsync(Cancel));

        Assert.Contains("HTTP 404", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckWritableAsync_ServerDown_Throws()
    {
        var stub = new StubHandler((_, _) => StubHandler.Answer(HttpStatusCode.ServiceUnavailable, """{"error":"shutting down"}"""));
        var options = new StoreOptions { Url = "influxdb://influx.invalid:8086/telesuivi" };
        using var store = new InfluxObservationStore(options.ResolveAddress(), options, handler: stub);

        var error = await Assert.ThrowsAsync<InfluxUnavailableException>(() => store.CheckWritableAsync(Cancel));

        Assert.Contains("shutting down", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_InfluxAddress_MakesTheInfluxStore()
    {
        var store = ObservationStoreFactory.Create(new StoreOptions { Url = "influxdb://writer:pw@influx.example:8087/vitals" });

        var influx = Assert.IsType<InfluxObservationStore>(store);
        Assert.Equal("influxdb://influx.example:8087/vitals", influx.Display);
        Assert.Equal("vitals", influx.Database);
        influx.Dispose();
    }

    [Fact]
    public async Task WriteAsync_Observation_WritesItsIdIndexPointAtTheSameTime()
    {
        using var store = NewStore(out _);
        await store.InitializeAsync(Cancel);
        var pressure = BloodPressure(Patient, Morning, 128, 82, 97);

        await store.WriteAsync([pressure], Cancel);

        using var result = await store.Client.QueryAsync(store.Database, "SELECT * FROM observation_id; SELECT \"id\" FROM observation", null, TimePrecision.Nanoseconds, Cancel);
        var index = Assert.Single(result.Statements[0].Series);
        Assert.Equal(["time", "bucket", "code", "device", "id", "patient"], index.Columns);
        var row = Assert.Single(index.Rows);
        Assert.Equal(ObservationIdIndex.Bucket(pressure.Id!), row.GetString(index.IndexOf("bucket")));
        Assert.Matches("^[0-9a-f]{3}$", row.GetString(index.IndexOf("bucket")));
        Assert.Equal(
            (pressure.Id, Patient, BloodPressureCode, "Device/bp-1"),
            (row.GetString(index.IndexOf("id")), row.GetString(index.IndexOf("patient")), row.GetString(index.IndexOf("code")), row.GetString(index.IndexOf("device"))));
        var point = Assert.Single(Assert.Single(result.Statements[1].Series).Rows);
        Assert.Equal(point.GetEpoch(0), row.GetEpoch(0));
    }

    [Fact]
    public async Task InitializeAsync_PointsWrittenBeforeTheIdIndex_IndexesThemForFindAsync()
    {
        var database = ExternalServices.NewDatabaseName();
        var old = Enumerable.Range(0, 30).Select(i => HeartRate(Patient, Morning.AddHours(-20 * i), 60 + i)).ToList();
        // What a version without the index wrote: the observation points alone.
        await SchemaVersion1.WriteDatabaseAsync(services.InfluxUrl, database, old, withIdIndex: false, Cancel);

        using var store = NewStore(database, null);
        await store.InitializeAsync(Cancel);

        foreach (var observation in old)
        {
            Assert.Equal(Json(observation), Json((await store.FindAsync(observation.Id!, Cancel))!));
        }

        await store.InitializeAsync(Cancel); // already indexed: nothing to do
        using var count = await store.Client.QueryAsync(store.Database, "SELECT count(\"id\") FROM observation_id", null, TimePrecision.Nanoseconds, Cancel);
        Assert.Equal(30, Assert.Single(Assert.Single(count.Series).Rows).GetInt64(1));
    }

    private InfluxObservationStore NewStore(out string database)
    {
        database = ExternalServices.NewDatabaseName();
        return NewStore(database, null);
    }

    private InfluxObservationStore NewStore(string database, HttpMessageHandler? handler)
    {
        var options = new StoreOptions { Url = services.InfluxStoreUrl(database) };
        return new InfluxObservationStore(options.ResolveAddress(), options, handler: handler);
    }

    /// <summary>The real server, except that <c>CREATE DATABASE</c> is refused as it is to a user without admin rights.</summary>
    private sealed class ForbidCreateDatabase() : DelegatingHandler(new SocketsHttpHandler())
    {
        public int Refused { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is FormUrlEncodedContent form
                && (await form.ReadAsStringAsync(cancellationToken)).Contains("CREATE+DATABASE", StringComparison.Ordinal))
            {
                Refused++;
                return StubHandler.Answer(
                    HttpStatusCode.Forbidden,
                    """{"error":"error authorizing query: writer not authorized to execute statement 'CREATE DATABASE x', requires admin privilege"}""");
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
