using System.Globalization;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Ingestion;

/// <summary>
/// The write path against real processes: the real telesuivi on the shared mosquitto and an influxd that the test
/// stops and restarts, or that refuses some data. Each test accounts for every reading it published, in InfluxDB
/// itself; the process-wide counters are not used for that, as each process also receives the other tests' messages
/// (the subscription covers every device).
/// </summary>
public sealed class WritePathTests(ExternalServices services) : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly List<TeleSuiviProcess> hosts = [];

    /// <summary>When a test fails, the output of the processes it ran goes with the failure.</summary>
    public ValueTask DisposeAsync()
    {
        if (TestContext.Current.TestState?.Result == TestResult.Failed)
        {
            foreach (var host in hosts)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"--- telesuivi {host.BaseUrl} ---\n{host.Output}");
            }
        }

        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task InfluxdStoppedMidStream_ReadingsAreSpooledThenReplayed_EachStoredExactlyOnce()
    {
        const int Total = 400;
        var (patient, device) = Ids();
        await using var influx = await PrivateInfluxd.StartAsync();
        var database = ExternalServices.NewDatabaseName("outage");
        await using var host = await StartAsync(influx.StoreUrl(database));
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var readings = Readings(Total);
        await using var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);

        // A steady stream, one reading every 20 ms, while influxd goes away and comes back.
        var stream = Task.Run(async () =>
        {
            foreach (var (time, centigrams) in readings)
            {
                await publisher.PublishAsync($"telesuivi/v1/devices/withings/{device}", Withings(time, centigrams));
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_ingest_observations_total"), stored => stored >= 50, Deadline, "readings stored before the outage");
        await influx.StopAsync();

        // influxd is down: readings are still acknowledged, once they are in the spool.
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_spool_observations"), depth => depth >= 50, Deadline, "readings spooled during the outage");
        var spool = await Poll.UntilAsync(() => HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool"), c => c.Status == "Degraded", Deadline, "the spool check to be degraded");
        Assert.Contains("waiting for the store", spool.Description, StringComparison.Ordinal);
        await influx.RestartAsync();
        await stream;

        var stored = await Poll.UntilAsync(() => StoredWeightsAsync(influx, database, patient), s => s.Count >= Total, Deadline, "every reading in InfluxDB");
        var metrics = await Poll.UntilAsync(() => HostProbes.MetricsAsync(host.BaseUrl), m => m["telesuivi_spool_observations"] == 0 && m["telesuivi_spool_bytes"] == 0, Deadline, "the spool drained");
        Assert.True(metrics["telesuivi_spool_spooled_observations_total"] >= 50, $"{metrics["telesuivi_spool_spooled_observations_total"]} observations spooled");
        Assert.Equal(metrics["telesuivi_spool_spooled_observations_total"], metrics["telesuivi_spool_replayed_observations_total"]);
        Assert.True(metrics["telesuivi_store_write_failures_total{kind=\"unavailable\"}"] + metrics["telesuivi_store_write_failures_total{kind=\"timeout\"}"] >= 1);
        stored = await StoredWeightsAsync(influx, database, patient);
        Assert.Equal(Total, stored.Count);
        Assert.Equal(Total, stored.Select(s => s.Id).Distinct().Count());
        Assert.Equal(readings.Select(r => r.Centigrams / 100.0).Order(), stored.Select(s => s.Kilograms).Order());
        Assert.DoesNotContain(await StoredData.DeadLettersAsync(host.BaseUrl, includeReplayed: true), l => l.GetProperty("topic").GetString()!.Contains(device, StringComparison.Ordinal));
        Assert.Equal("Healthy", (await HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool")).Status);
    }

    [Fact]
    public async Task SpooledReadings_ProcessKilledBeforeTheStoreCameBack_AreReplayedByTheNextProcess()
    {
        const int Total = 20;
        var (patient, device) = Ids();
        await using var influx = await PrivateInfluxd.StartAsync();
        var database = ExternalServices.NewDatabaseName("restart");
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var worker = new Dictionary<string, string> { ["TELESUIVI_BROKER__CLIENTID"] = $"w-{device}", ["TELESUIVI_BROKER__SHAREDGROUP"] = $"g-{device}" };
        var readings = Readings(Total);
        await using (var first = await StartAsync(influx.StoreUrl(database), worker, data))
        {
            await RegistryBundles.ImportAsync(first.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
            await influx.StopAsync();
            foreach (var (time, centigrams) in readings)
            {
                await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", Withings(time, centigrams));
            }

            await Poll.UntilAsync(() => HostProbes.MetricAsync(first.BaseUrl, "telesuivi_spool_messages"), m => m >= Total, Deadline, "every reading in the spool");
            await first.KillAsync();
        }

        await influx.RestartAsync();
        await using var second = await StartAsync(influx.StoreUrl(database), worker, data);

        var stored = await Poll.UntilAsync(() => StoredWeightsAsync(influx, database, patient), s => s.Count >= Total, Deadline, "the spooled readings in InfluxDB");
        Assert.Equal(readings.Select(r => r.Centigrams / 100.0).Order(), stored.Select(s => s.Kilograms).Order());
        await Poll.UntilAsync(() => HostProbes.MetricAsync(second.BaseUrl, "telesuivi_spool_bytes"), b => b == 0, Deadline, "the replayed segments to be deleted");
        Assert.Contains("left by a previous run", second.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(data, "spool")));
    }

    [Fact]
    public async Task FieldTypeConflict_DeadLettersTheReadingAsStoreRejected_AndTheFollowingOnesAreStored()
    {
        var (patient, device) = Ids();
        var database = ExternalServices.NewDatabaseName("conflict");
        await using var host = await StartAsync(
            services.InfluxStoreUrl(database),
            new Dictionary<string, string> { ["TELESUIVI_INGEST__BATCHDELAY"] = "00:00:00.500" });
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var pressureTime = DateTime.UtcNow.AddMinutes(-5);

        // Someone wrote the systolic field as text into this shard: a blood pressure reading of that week cannot be stored.
        using (var influx = new InfluxClient(new InfluxClientOptions { BaseUri = services.InfluxUrl }))
        using (var conflicting = new LineProtocolWriter())
        {
            conflicting.Measurement("observation").Field("c:8480-6", "not a number").End(new DateTimeOffset(pressureTime, TimeSpan.Zero));
            await influx.WriteAsync(database, conflicting, TestContext.Current.CancellationToken);
        }

        var weights = Readings(4);
        var pressure = GattEncoder.Encode(new BloodPressureMeasurement(
            PressureUnit.MillimetreOfMercury, Ieee11073Value.Number(135, 0), Ieee11073Value.Number(85, 0), Ieee11073Value.Number(101, 0))
        {
            TimeStamp = GattDateTime.From(pressureTime),
        });
        var withings = $"telesuivi/v1/devices/withings/{device}";
        var gatt = $"telesuivi/v1/devices/gatt/{device}/2a35";
        await using (var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl))
        {
            // In one batch: a reading before, the refused one, readings after.
            await publisher.PublishAsync(withings, Withings(weights[0].Time, weights[0].Centigrams));
            await publisher.PublishAsync(gatt, pressure);
            await publisher.PublishAsync(withings, Withings(weights[1].Time, weights[1].Centigrams));
            await publisher.PublishAsync(withings, Withings(weights[2].Time, weights[2].Centigrams));
        }

        var letter = await Poll.UntilAsync(
            async () => (await StoredData.DeadLettersAsync(host.BaseUrl)).FirstOrDefault(l => l.GetProperty("topic").GetString() == gatt),
            l => l.ValueKind != System.Text.Json.JsonValueKind.Undefined,
            Deadline,
            "the blood pressure reading to be dead-lettered");
        Assert.Equal("store-rejected", letter.GetProperty("reasonCode").GetString());
        Assert.Contains("field type conflict", letter.GetProperty("reason").GetString(), StringComparison.Ordinal);
        await MosquittoClients.PublishAsync(services.MqttUrl, withings, Withings(weights[3].Time, weights[3].Centigrams));

        var stored = await Poll.UntilAsync(() => StoredWeightsAsync(services.InfluxUrl, database, patient), s => s.Count >= 4, Deadline, "the four weights");
        Assert.Equal(weights.Select(w => w.Centigrams / 100.0).Order(), stored.Select(s => s.Kilograms).Order());
        var metrics = await HostProbes.MetricsAsync(host.BaseUrl);
        Assert.Equal(0, metrics["telesuivi_spool_spooled_observations_total"]);
        Assert.True(metrics["telesuivi_store_write_failures_total{kind=\"rejected\"}"] >= 1);
        Assert.Equal(1, metrics["telesuivi_ingest_dead_letters_total{reason=\"store-rejected\"}"]);
        Assert.Single(await StoredData.DeadLettersAsync(host.BaseUrl), l => l.GetProperty("topic").GetString()!.Contains(device, StringComparison.Ordinal));
    }

    [Fact]
    public async Task DatabaseDropped_WritesRefusedAccess_BatchesHeldUnacknowledgedAndNotSpooled_ThenStoredOnceRecreated()
    {
        var (patient, device) = Ids();
        var database = ExternalServices.NewDatabaseName("access");
        await using var host = await StartAsync(services.InfluxStoreUrl(database));
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        using var influx = new InfluxClient(new InfluxClientOptions { BaseUri = services.InfluxUrl });
        (await influx.ExecuteAsync(null, $"DROP DATABASE {InfluxQl.QuoteIdentifier(database)}", null, TestContext.Current.CancellationToken)).Dispose();
        var readings = Readings(3);

        foreach (var (time, centigrams) in readings)
        {
            await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", Withings(time, centigrams));
        }

        // A configuration problem (here 404 database not found; 401/403 alike): not the data's fault, not transient.
        var store = await Poll.UntilAsync(() => HostProbes.ReadinessCheckAsync(host.BaseUrl, "store"), c => c.Status == "Unhealthy", Deadline, "the store check to report unhealthy");
        Assert.Contains("database not found", store.Description, StringComparison.Ordinal);
        var held = await Poll.UntilAsync(
            () => HostProbes.MetricsAsync(host.BaseUrl), m => m["telesuivi_store_write_failures_total{kind=\"access\"}"] >= 2, Deadline, "writes retried while access is refused");
        Assert.True(held["telesuivi_ingest_in_flight"] >= 1);
        Assert.Equal(0, held["telesuivi_spool_spooled_observations_total"]);
        Assert.Contains("refuses access", host.Output, StringComparison.Ordinal);

        (await influx.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(database)}", null, TestContext.Current.CancellationToken)).Dispose();

        var stored = await Poll.UntilAsync(() => StoredWeightsAsync(services.InfluxUrl, database, patient), s => s.Count >= readings.Count, Deadline, "the held readings in InfluxDB");
        Assert.Equal(readings.Select(r => r.Centigrams / 100.0).Order(), stored.Select(s => s.Kilograms).Order());
        Assert.DoesNotContain(await StoredData.DeadLettersAsync(host.BaseUrl, includeReplayed: true), l => l.GetProperty("topic").GetString()!.Contains(device, StringComparison.Ordinal));
        Assert.Equal("Healthy", (await HostProbes.ReadinessCheckAsync(host.BaseUrl, "store")).Status);
    }

    [Fact]
    public async Task SpoolFull_IngestionPausesAndReportsUnhealthy_ThenEveryReadingIsStoredOnce()
    {
        const int Total = 30;
        var (patient, device) = Ids();
        // A broker of its own: the shared one also brings other tests' messages (one of 1.5 MB, taken whole by the empty
        // spool, once made it hold far more than its 8,000 bytes).
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        await using var influx = await PrivateInfluxd.StartAsync();
        var database = ExternalServices.NewDatabaseName("full");
        await using var host = await StartAsync(influx.StoreUrl(database), new Dictionary<string, string>
        {
            ["TELESUIVI_STORE__SPOOLMAXBYTES"] = "8000",
            ["TELESUIVI_INGEST__BATCHSIZE"] = "1",
            ["TELESUIVI_INGEST__CHANNELCAPACITY"] = "5",
        }, broker: mosquitto.Url);
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        await influx.StopAsync();
        var readings = Readings(Total);

        await using (var publisher = await MqttTestPublisher.ConnectAsync(mosquitto.Url))
        {
            foreach (var (time, centigrams) in readings)
            {
                await publisher.PublishAsync($"telesuivi/v1/devices/withings/{device}", Withings(time, centigrams));
            }
        }

        var spool = await Poll.UntilAsync(() => HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool"), c => c.Status == "Unhealthy", Deadline, "the spool check to report unhealthy");
        Assert.StartsWith("full: ", spool.Description, StringComparison.Ordinal);
        Assert.Contains("ingestion is paused", spool.Description, StringComparison.Ordinal);
        var paused = await Poll.UntilAsync(() => HostProbes.MetricsAsync(host.BaseUrl), m => m["telesuivi_ingest_queue_depth"] == 5, Deadline, "the ingest channel to fill up");
        Assert.Equal(1, paused["telesuivi_spool_full"]);
        Assert.True(paused["telesuivi_ingest_in_flight"] >= 1);
        Assert.InRange(paused["telesuivi_spool_bytes"], 1, 8000);
        Assert.InRange(paused["telesuivi_spool_messages"], 1, Total - 5);
        Assert.Contains("is full", host.Output, StringComparison.Ordinal);

        await influx.RestartAsync();

        var stored = await Poll.UntilAsync(() => StoredWeightsAsync(influx, database, patient), s => s.Count >= Total, Deadline, "every reading in InfluxDB");
        await Poll.UntilAsync(() => HostProbes.MetricsAsync(host.BaseUrl), m => m["telesuivi_spool_messages"] == 0 && m["telesuivi_spool_full"] == 0, Deadline, "the spool drained");
        stored = await StoredWeightsAsync(influx, database, patient);
        Assert.Equal(Total, stored.Count);
        Assert.Equal(readings.Select(r => r.Centigrams / 100.0).Order(), stored.Select(s => s.Kilograms).Order());
        Assert.Equal("Healthy", (await HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool")).Status);
    }

    [Fact]
    public async Task SpoolDiskFails_IngestionPausesWithAClearError_ThenResumesWithoutLoss()
    {
        const int Total = 10;
        var (patient, device) = Ids();
        await using var influx = await PrivateInfluxd.StartAsync();
        var database = ExternalServices.NewDatabaseName("disk");
        var folder = Directory.CreateTempSubdirectory("telesuivi-spooldisk-").FullName;
        var spoolDirectory = Path.Combine(folder, "spool");
        await using var host = await StartAsync(influx.StoreUrl(database), new Dictionary<string, string> { ["TELESUIVI_STORE__SPOOLDIRECTORY"] = spoolDirectory });
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));

        // The spool's folder becomes unusable (a file in its place: every write to it fails, as on a failed disk).
        Directory.Delete(spoolDirectory);
        await File.WriteAllTextAsync(spoolDirectory, "in the way", TestContext.Current.CancellationToken);
        await influx.StopAsync();
        var readings = Readings(Total);
        foreach (var (time, centigrams) in readings)
        {
            await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", Withings(time, centigrams));
        }

        var spool = await Poll.UntilAsync(() => HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool"), c => c.Status == "Unhealthy", Deadline, "the spool check to report the disk error");
        Assert.Contains("cannot write to the spool", spool.Description, StringComparison.Ordinal);
        var paused = await HostProbes.MetricsAsync(host.BaseUrl);
        Assert.Equal(1, paused["telesuivi_spool_disk_error"]);
        Assert.Equal(0, paused["telesuivi_spool_messages"]);
        Assert.True(paused["telesuivi_ingest_in_flight"] >= 1);
        Assert.Contains("ingestion is paused", host.Output, StringComparison.Ordinal);

        File.Delete(spoolDirectory);
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_spool_messages"), m => m >= 1, Deadline, "the spool to take batches again");
        await influx.RestartAsync();

        var stored = await Poll.UntilAsync(() => StoredWeightsAsync(influx, database, patient), s => s.Count >= Total, Deadline, "every reading in InfluxDB");
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_spool_messages"), m => m == 0, Deadline, "the spool drained");
        Assert.Equal(readings.Select(r => r.Centigrams / 100.0).Order(), stored.Select(s => s.Kilograms).Order());
        Assert.Equal("Healthy", (await HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool")).Status);
        Directory.Delete(folder, recursive: true);
    }

    private async Task<TeleSuiviProcess> StartAsync(string store, Dictionary<string, string>? environment = null, string? data = null, Uri? broker = null)
    {
        var host = TeleSuiviProcess.Start("serve", ["--broker", (broker ?? services.MqttUrl).ToString().TrimEnd('/'), "--store", store], data, environment);
        hosts.Add(host);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return host;
    }

    /// <summary>Distinct readings: one every 10 s over the last hours, each its own weight in centigrams.</summary>
    private static List<(DateTimeOffset Time, int Centigrams)> Readings(int count)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds());
        return [.. Enumerable.Range(0, count).Select(i => (start.AddSeconds(i * 10), 5000 + i))];
    }

    private static Task<List<(string Id, double Kilograms)>> StoredWeightsAsync(PrivateInfluxd influx, string database, string patient) =>
        StoredWeightsAsync(influx.Url, database, patient);

    /// <summary>The weights of a patient as InfluxDB holds them, read with InfluxQL as an auditor would.</summary>
    private static async Task<List<(string Id, double Kilograms)>> StoredWeightsAsync(Uri influx, string database, string patient)
    {
        using var client = new InfluxClient(new InfluxClientOptions { BaseUri = influx });
        using var result = await client.QueryAsync(
            database,
            "SELECT \"id\", \"value\" FROM observation WHERE patient = $patient AND code = $code",
            new Dictionary<string, object?> { ["patient"] = $"Patient/{patient}", ["code"] = "http://loinc.org|29463-7" },
            TimePrecision.Milliseconds,
            TestContext.Current.CancellationToken);
        return [.. result.Series.SelectMany(s => s.Rows.Select(r => (r.GetString(s.IndexOf("id"))!, r.GetDouble(s.IndexOf("value"))!.Value)))];
    }

    private static (string Patient, string Device) Ids()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        return ($"p-{id}", $"d-{id}");
    }

    private static string Withings(DateTimeOffset time, int centigrams) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"measuregrps":[{"date":{{time.ToUnixTimeSeconds()}},"measures":[{"value":{{centigrams}},"type":1,"unit":-2}]}]}""");
}
