using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary>SIGTERM, as systemd or Kubernetes sends it: what was received is made durable and acknowledged, then the process exits.</summary>
public sealed class GracefulShutdownTests(ExternalServices services) : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly List<TeleSuiviProcess> hosts = [];

    public ValueTask DisposeAsync() => ReliabilityHosts.ReportOnFailureAsync(hosts);

    [Fact]
    public async Task Sigterm_MidStream_DrainsTheBatchesAndExits_RestartAccountsForEveryReadingExactlyOnce()
    {
        var (patient, device) = ReliabilityHosts.Ids();
        var store = services.InfluxStoreUrl(ExternalServices.NewDatabaseName("sigterm"));
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        // Large, slow batches: at SIGTERM there is a partial batch in the processor and messages queued behind it.
        var worker = ReliabilityHosts.Worker(device, new Dictionary<string, string> { ["TELESUIVI_INGEST__BATCHSIZE"] = "100", ["TELESUIVI_INGEST__BATCHDELAY"] = "00:00:00.400" });
        var first = Start(store, worker, data);
        await first.WaitUntilReadyAsync(Deadline);
        await RegistryBundles.ImportAsync(first.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var ledger = new ReadingLedger();
        await using var gateway = await DeviceGateway.ConnectAsync(services.MqttUrl);
        var stream = gateway.PublishAsync(ReliabilityHosts.Readings(device, 500), ledger, TimeSpan.FromMilliseconds(5));

        await Poll.UntilAsync(() => HostProbes.MetricAsync(first.BaseUrl, "telesuivi_ingest_observations_total"), n => n >= 50, Deadline, "readings stored before SIGTERM");
        Assert.Equal(0, await first.StopAsync(Deadline));

        Assert.Contains("Shutdown: every message received was made durable and acknowledged", first.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("acknowledged (", first.Output, StringComparison.Ordinal); // no acknowledgement lost on the way out
        await stream;
        var second = Start(store, worker, data);
        await second.WaitUntilReadyAsync(Deadline);
        await ledger.AssertExactlyAccountedAsync(second.BaseUrl, patient, Deadline);
    }

    private TeleSuiviProcess Start(string store, Dictionary<string, string> environment, string data)
    {
        var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/'), "--store", store], data, environment);
        hosts.Add(host);
        return host;
    }
}
