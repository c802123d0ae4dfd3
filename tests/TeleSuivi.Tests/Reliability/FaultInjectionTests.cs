using System.Diagnostics;
using System.Globalization;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary>
/// Faults injected into real processes while a gateway streams readings: influxd killed, telesuivi killed, mosquitto
/// restarted, the spool's disk full, devices with wrong clocks. Each test ends with the exact accounting of
/// <see cref="ReadingLedger"/>: published = stored + dead-lettered, nothing twice, same checksum.
/// </summary>
public sealed class FaultInjectionTests(ExternalServices services) : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly List<TeleSuiviProcess> hosts = [];

    /// <summary>
    /// How long influxd stays dead. The issue's figure is 30 s; CI uses 5 s, which exercises the same spool-then-replay
    /// path (the store is down for dozens of batches either way) without adding 25 s to every run. infra/reliability.sh
    /// runs these tests with TELESUIVI_RELIABILITY_OUTAGE_SECONDS=30.
    /// </summary>
    private static TimeSpan Outage => TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("TELESUIVI_RELIABILITY_OUTAGE_SECONDS") ?? "5", CultureInfo.InvariantCulture));

    public ValueTask DisposeAsync() => ReliabilityHosts.ReportOnFailureAsync(hosts);

    [Fact]
    public async Task InfluxdKilledMidStream_RestartedAfterTheOutage_EveryReadingStoredExactlyOnce()
    {
        var (patient, device) = ReliabilityHosts.Ids();
        await using var influx = await PrivateInfluxd.StartAsync();
        var host = await StartAsync(influx.StoreUrl(ExternalServices.NewDatabaseName("killed")));
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var ledger = new ReadingLedger();
        var interval = TimeSpan.FromMilliseconds(20);
        // The stream outlasts the outage, so that readings arrive before, during and after it.
        var readings = ReliabilityHosts.Readings(device, (int)Math.Max(300, (Outage + TimeSpan.FromSeconds(5)) / interval));
        await using var gateway = await DeviceGateway.ConnectAsync(services.MqttUrl);
        var stream = gateway.PublishAsync(readings, ledger, interval);

        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_ingest_observations_total"), n => n >= 50, Deadline, "readings stored before the outage");
        await influx.KillAsync();
        var outage = Stopwatch.StartNew();
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_spool_observations"), n => n >= 1, Deadline, "readings spooled while influxd is dead");
        var remaining = Outage - outage.Elapsed;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining, TestContext.Current.CancellationToken); // the injected fault's duration, not a wait for a result
        }

        await influx.RestartAsync();
        await stream;

        await ledger.AssertExactlyAccountedAsync(host.BaseUrl, patient, Deadline);
        var metrics = await Poll.UntilAsync(() => HostProbes.MetricsAsync(host.BaseUrl), m => m["telesuivi_spool_observations"] == 0, Deadline, "the spool drained");
        Assert.True(metrics["telesuivi_spool_spooled_observations_total"] >= 1);
        Assert.Equal(metrics["telesuivi_spool_spooled_observations_total"], metrics["telesuivi_spool_replayed_observations_total"]);
    }

    [Fact]
    public async Task TeleSuiviKilledMidStream_RestartedOnItsSession_EveryReadingStoredExactlyOnce()
    {
        var (patient, device) = ReliabilityHosts.Ids();
        var store = services.InfluxStoreUrl(ExternalServices.NewDatabaseName("sigkill"));
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var worker = ReliabilityHosts.Worker(device);
        var first = await StartAsync(store, worker, data);
        await RegistryBundles.ImportAsync(first.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var ledger = new ReadingLedger();
        await using var gateway = await DeviceGateway.ConnectAsync(services.MqttUrl);
        var stream = gateway.PublishAsync(ReliabilityHosts.Readings(device, 400), ledger, TimeSpan.FromMilliseconds(10));

        await Poll.UntilAsync(() => HostProbes.MetricAsync(first.BaseUrl, "telesuivi_ingest_observations_total"), n => n >= 50, Deadline, "readings stored before the kill");
        await first.KillAsync();

        var second = await StartAsync(store, worker, data);
        await stream;

        await ledger.AssertExactlyAccountedAsync(second.BaseUrl, patient, Deadline);
        Assert.True(await HostProbes.MetricAsync(second.BaseUrl, "telesuivi_ingest_observations_total") >= 1, "the second process stored what the first had not acknowledged");
    }

    /// <summary>
    /// mosquitto restarted (SIGTERM, persistence on, as an operator does) while a gateway streams readings to a single
    /// worker on its default plain subscription: mosquitto saves the subscription with the session, so every reading it
    /// accepts after the restart is queued for the worker even before it has reconnected. No PUBACK may say
    /// "no matching subscribers": that reading would have been accepted and routed to nobody.
    /// </summary>
    [Fact]
    public async Task MosquittoRestartedMidStream_PlainSubscription_EveryReadingStoredExactlyOnce()
    {
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        var (patient, device, host) = await StartBehindAsync(mosquitto, shared: false);
        var ledger = new ReadingLedger();
        await using var gateway = await DeviceGateway.ConnectAsync(mosquitto.Url);

        await StreamThroughBrokerRestartAsync(host, mosquitto, gateway, ReliabilityHosts.Readings(device, 300), ledger);

        await ledger.AssertExactlyAccountedAsync(host.BaseUrl, patient, Deadline);
        Assert.Empty(gateway.Unrouted);
        Assert.Contains("subscription: plain", host.Output, StringComparison.Ordinal);
        Assert.Contains("session present: True", host.Output, StringComparison.Ordinal);

        // The ledger's FHIR searches race the stream's writes: once they got a 500 from a point influxd was still storing.
        var metrics = await HostProbes.MetricsAsync(host.BaseUrl);
        Assert.Equal(0, metrics["telesuivi_store_incomplete_points_total"]);
        TestContext.Current.TestOutputHelper?.WriteLine($"{metrics["telesuivi_store_reads_of_points_being_written_total"]} FHIR read(s) made again over a point being written");
    }

    /// <summary>
    /// The same restart with a shared subscription, as several workers use. mosquitto 2.0 does not save shared
    /// subscriptions (src/persist_write.c walks the plain ones only; see <see cref="MosquittoPersistenceTests"/>): until
    /// the worker has subscribed again, readings are accepted with the PUBACK reason "no matching subscribers" and
    /// dropped. A gateway that publishes such a reading again, as the device contract asks of MQTT 5 gateways, loses
    /// nothing; one that takes that PUBACK for a delivery loses them (about 3 to 20 of 300 here).
    /// </summary>
    [Fact]
    public async Task MosquittoRestartedMidStream_SharedSubscriptionAndGatewayRepublishingUnrouted_EveryReadingStoredExactlyOnce()
    {
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        var (patient, device, host) = await StartBehindAsync(mosquitto, shared: true);
        var ledger = new ReadingLedger();
        await using var gateway = await DeviceGateway.ConnectAsync(mosquitto.Url, republishUnrouted: true);

        await StreamThroughBrokerRestartAsync(host, mosquitto, gateway, ReliabilityHosts.Readings(device, 300), ledger);

        await ledger.AssertExactlyAccountedAsync(host.BaseUrl, patient, Deadline);
        Assert.Contains($"subscription: shared, group 'g-{device}'", host.Output, StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine($"{gateway.Unrouted.Count} PUBACK(s) said no matching subscribers and were published again");
    }

    [Fact]
    public async Task MosquittoRestartedWhileTeleSuiviIsDown_QueuedReadingsSurviveInItsPersistentSession_StoredExactlyOnce()
    {
        var (patient, device) = ReliabilityHosts.Ids();
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        var store = services.InfluxStoreUrl(ExternalServices.NewDatabaseName("broker"));
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var worker = ReliabilityHosts.Worker(device);
        var first = await StartAsync(store, worker, data, mosquitto.BrokerOption);
        await RegistryBundles.ImportAsync(first.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var ledger = new ReadingLedger();
        var readings = ReliabilityHosts.Readings(device, 200);
        await using var gateway = await DeviceGateway.ConnectAsync(mosquitto.Url);
        await gateway.PublishAsync(readings[..100], ledger, TimeSpan.Zero);
        Assert.Equal(0, await first.StopAsync(Deadline));

        // Published while telesuivi is down: queued by mosquitto for its session, saved to disk at the broker's restart.
        await gateway.PublishAsync(readings[100..], ledger, TimeSpan.Zero);
        await mosquitto.StopAsync();
        await mosquitto.RestartAsync();
        var second = await StartAsync(store, worker, data, mosquitto.BrokerOption);

        await ledger.AssertExactlyAccountedAsync(second.BaseUrl, patient, Deadline);
        Assert.Contains("session present: True", second.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("spool-max-bytes")]
    [InlineData("full-filesystem")]
    public async Task SpoolDiskFull_IngestionPausesWithAClearErrorAndResumes_EveryReadingStoredExactlyOnce(string limit)
    {
        const int Total = 60;
        var (patient, device) = ReliabilityHosts.Ids();
        // A broker of its own: on the shared one, a message another test published meanwhile (the online scoring tests
        // send a zone's hourly environment, about 600 Observations, in one message) reached this host too, as a spool
        // record larger than the whole small filesystem, which ENOSPC refused for ever (failed so in full runs only).
        await using var mosquitto = await PrivateMosquitto.StartAsync();
        await using var influx = await PrivateInfluxd.StartAsync();
        await using var disk = limit == "full-filesystem" ? await SmallFilesystem.MountAsync(64 * 1024) : null;
        var environment = new Dictionary<string, string> { ["TELESUIVI_INGEST__BATCHSIZE"] = "1", ["TELESUIVI_INGEST__CHANNELCAPACITY"] = "5" };
        if (disk is null)
        {
            environment["TELESUIVI_STORE__SPOOLMAXBYTES"] = "8000";
        }
        else
        {
            environment["TELESUIVI_STORE__SPOOLDIRECTORY"] = Path.Combine(disk.Path, "spool");
            environment["TELESUIVI_STORE__SPOOLSEGMENTBYTES"] = "4096";
        }

        var host = await StartAsync(influx.StoreUrl(ExternalServices.NewDatabaseName("full")), environment, broker: mosquitto.BrokerOption);
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        await influx.StopAsync();
        var ledger = new ReadingLedger();
        await using var gateway = await DeviceGateway.ConnectAsync(mosquitto.Url);
        if (disk is not null)
        {
            disk.FillUpTo(16 * 1024); // leave room for a few segments only
        }

        await gateway.PublishAsync(ReliabilityHosts.Readings(device, Total), ledger, TimeSpan.Zero);

        var check = await Poll.UntilAsync(() => HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool"), c => c.Status == "Unhealthy", Deadline, "the spool check to report the full disk");
        Assert.Contains("ingestion is paused", check.Description + host.Output, StringComparison.Ordinal);
        if (disk is not null)
        {
            // What did not fit, and the room left: the operator sees whether freeing some space is enough.
            Assert.Matches(@"No space left on device.* \(a record of [0-9,]+ bytes; [0-9,]+ bytes free on its disk\)", check.Description);
        }

        var paused = await Poll.UntilAsync(() => HostProbes.MetricsAsync(host.BaseUrl), m => m["telesuivi_ingest_queue_depth"] == 5, Deadline, "back-pressure: the ingest channel full");
        Assert.Equal(1, paused[disk is null ? "telesuivi_spool_full" : "telesuivi_spool_disk_error"]);
        Assert.True(paused["telesuivi_ingest_in_flight"] >= 1);
        Assert.True(paused["telesuivi_ingest_oldest_unacknowledged_age_seconds"] > 0);
        Assert.True(paused["telesuivi_spool_messages"] < Total, "the rest stays unacknowledged at the broker");

        disk?.FreeFiller();
        await influx.RestartAsync();

        try
        {
            await ledger.AssertExactlyAccountedAsync(host.BaseUrl, patient, Deadline);
        }
        catch when (disk is not null)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(disk.Describe());
            throw;
        }

        await Poll.UntilAsync(() => HostProbes.ReadinessCheckAsync(host.BaseUrl, "spool"), c => c.Status == "Healthy", Deadline, "the spool check healthy again");
    }

    /// <summary>
    /// The clock rule (README, "Ingestion"): a reading stamped more than Ingest:MaxFutureSkew (5 min) ahead of its
    /// reception, or older than Ingest:MaxAge (90 days), is dead-lettered with reason <c>clock</c>; anything between is
    /// stored at the device's time, however late it arrives. A gateway flushing a day of stored readings at once is
    /// therefore stored in full.
    /// </summary>
    [Fact]
    public async Task SkewedClocksAndALateBurst_FarFutureAndTooOldAreDeadLetteredAsClock_TheRestStoredExactlyOnce()
    {
        var (patient, device) = ReliabilityHosts.Ids();
        var host = await StartAsync(services.InfluxStoreUrl(ExternalServices.NewDatabaseName("clock")));
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-200)));
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var grams = 6000;
        PublishedReading At(DateTimeOffset time, string? rejection = null) => new(device, time, grams++, rejection);
        var skewed = new List<PublishedReading>
        {
            At(now.AddHours(3), "clock"), At(now.AddHours(26), "clock"), At(now.AddDays(400), "clock"), // clocks ahead
            At(now.AddMinutes(2)), // ahead within the tolerance
            At(now.AddHours(-5)), At(now.AddDays(-40)), // behind, or simply late
            At(now.AddDays(-120), "clock"), At(now.AddYears(-26), "clock"), // a clock reset to 2000, or a stale memory
        };
        // A day of readings kept by a gateway that was offline, flushed at once, oldest first.
        var burst = Enumerable.Range(0, 288).Select(i => At(now.AddDays(-1).AddMinutes(5 * i).AddSeconds(30))).ToList();
        var ledger = new ReadingLedger();
        await using var gateway = await DeviceGateway.ConnectAsync(services.MqttUrl);

        await gateway.PublishAsync(skewed, ledger, TimeSpan.Zero);
        await gateway.PublishAsync(burst, ledger, TimeSpan.Zero);

        await ledger.AssertExactlyAccountedAsync(host.BaseUrl, patient, Deadline);
        var letters = await ledger.DeadLettersAsync(host.BaseUrl);
        Assert.Equal(5, letters.Count(l => l.ReasonCode == "clock"));
        // As the French board shows them in the device's clock alert.
        var french = (await StoredData.DeadLettersAsync(host.BaseUrl, includeReplayed: true))
            .Where(l => l.GetProperty("topic").GetString()!.EndsWith("/" + device, StringComparison.Ordinal))
            .Select(l => l.GetProperty("reasonFr").GetString())
            .ToList();
        Assert.Equal(5, french.Count);
        Assert.All(french, reason => Assert.Matches("^poids : mesure datée du .+, .+ (après|avant) sa réception le .+ \\((tolérance|limite) .+\\)$", reason));
    }

    private async Task<(string Patient, string Device, TeleSuiviProcess Host)> StartBehindAsync(PrivateMosquitto mosquitto, bool shared)
    {
        var (patient, device) = ReliabilityHosts.Ids();
        var host = await StartAsync(services.InfluxStoreUrl(ExternalServices.NewDatabaseName("broker")), ReliabilityHosts.Worker(device, shared: shared), null, mosquitto.BrokerOption);
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        return (patient, device, host);
    }

    /// <summary>Streams the readings (65 a second) and restarts mosquitto once 50 are stored; returns when all are published.</summary>
    private static async Task StreamThroughBrokerRestartAsync(TeleSuiviProcess host, PrivateMosquitto mosquitto, DeviceGateway gateway, List<PublishedReading> readings, ReadingLedger ledger)
    {
        var stream = gateway.PublishAsync(readings, ledger, TimeSpan.FromMilliseconds(15));
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_ingest_observations_total"), n => n >= 50, Deadline, "readings stored before the broker restart");
        await mosquitto.StopAsync();
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_broker_connected"), c => c == 0, Deadline, "telesuivi to see the broker gone");
        await mosquitto.RestartAsync();
        await stream;

        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_broker_connected"), c => c == 1, Deadline, "telesuivi to reconnect");
        Assert.True(gateway.Republished >= 1, "the gateway had readings to publish again after the restart");
    }

    private async Task<TeleSuiviProcess> StartAsync(string store, Dictionary<string, string>? environment = null, string? data = null, string? broker = null)
    {
        var host = TeleSuiviProcess.Start("serve", ["--broker", broker ?? services.MqttUrl.ToString().TrimEnd('/'), "--store", store], data, environment);
        hosts.Add(host);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return host;
    }
}
