using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// The scale-out topology on one machine: 2 ingest workers and 2 web nodes (real <c>telesuivi serve</c> processes with
/// <c>Node:Roles</c>), one shared-subscription group on a private mosquitto (the tests count every message the
/// workers receive, and the run's shared broker carries the other tests' traffic), one InfluxDB database on the shared
/// influxd, the private Redis (SignalR backplane) and a fresh PostgreSQL database (alerts and workflow).
/// </summary>
public sealed class ScaleOutCluster(ExternalServices external, ScaleOutServices services) : IAsyncLifetime
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private MqttTestPublisher? publisher;
    private PrivateMosquitto? mosquitto;

    /// <summary>A publisher on the cluster's broker.</summary>
    public MqttTestPublisher Publisher => publisher!;

    public IReadOnlyList<TeleSuiviProcess> Workers { get; private set; } = [];

    public IReadOnlyList<TeleSuiviProcess> WebNodes { get; private set; } = [];

    public IEnumerable<TeleSuiviProcess> All => Workers.Concat(WebNodes);

    public async ValueTask InitializeAsync()
    {
        var workflow = await services.NewDatabaseAsync("cluster");
        var store = external.InfluxStoreUrl(ExternalServices.NewDatabaseName("scaleout"));
        mosquitto = await PrivateMosquitto.StartAsync();
        var broker = mosquitto.BrokerOption;
        var group = $"scaleout-{Guid.NewGuid():N}";
        TeleSuiviProcess Node(string roles) => TeleSuiviProcess.Start("serve", ["--broker", broker, "--store", store], environment: new Dictionary<string, string>
        {
            ["TELESUIVI_NODE__ROLES"] = roles,
            // One group for both workers: the broker deals each reading to one of them.
            ["TELESUIVI_BROKER__SHAREDGROUP"] = group,
            ["TELESUIVI_WORKFLOW__POSTGRESQL"] = workflow,
            ["TELESUIVI_REDIS__CONFIGURATION"] = services.RedisConfiguration,
            ["TELESUIVI_REDIS__CHANNELPREFIX"] = group,
            // Every batch an owner receives is scored at once: the scoring test knows which readings a score saw.
            ["TELESUIVI_RISK__MINRESCOREINTERVAL"] = "00:00:00",
        });
        Workers = [Node("ingest"), Node("ingest")];
        WebNodes = [Node("web"), Node("web")];
        await Task.WhenAll(All.Select(node => node.WaitUntilReadyAsync(Deadline)));
        publisher = await MqttTestPublisher.ConnectAsync(mosquitto.Url);
    }

    public async ValueTask DisposeAsync()
    {
        if (publisher is not null)
        {
            await publisher.DisposeAsync();
        }

        await Task.WhenAll(All.Select(node => node.DisposeAsync().AsTask()));
        if (mosquitto is not null)
        {
            await mosquitto.DisposeAsync();
        }
    }

    /// <summary>
    /// Registers a patient with a Withings device on every node: each keeps its own registry copy (the workers to
    /// resolve devices, the web nodes for the pages).
    /// </summary>
    public async Task<(string Patient, string Device)> RegisterPatientAsync()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        var (patient, device) = ($"p-{id}", $"wd-{id}");
        var bundle = RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-2));
        await Task.WhenAll(All.Select(node => RegistryBundles.ImportAsync(node.BaseUrl, bundle)));
        return (patient, device);
    }

    /// <summary>Publishes one Withings reading (SpO2 is type 54, weight 1) over MQTT, QoS 1.</summary>
    public Task PublishWithingsAsync(string device, DateTimeOffset time, int type, double value) =>
        publisher!.PublishAsync($"telesuivi/v1/devices/withings/{device}",
            $$"""{"measuregrps":[{"date":{{time.ToUnixTimeSeconds()}},"measures":[{"value":{{value.ToString(CultureInfo.InvariantCulture)}},"type":{{type}},"unit":0}]}]}""");

    /// <summary>The ids of the patient's Observations in the store, read through a web node's FHIR API.</summary>
    public static async Task<IReadOnlyList<string>> ObservationIdsAsync(TeleSuiviProcess node, string patient)
    {
        using var http = node.CreateClient();
        using var bundle = JsonDocument.Parse(await http.GetStringAsync(new Uri($"/fhir/Observation?subject=Patient/{patient}&_count=1000", UriKind.Relative)));
        return bundle.RootElement.TryGetProperty("entry", out var entries)
            ? [.. entries.EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!)]
            : [];
    }

    /// <summary>A counter of a node's <c>/metrics</c> (0 when it has no sample yet).</summary>
    public static async Task<double> MetricAsync(TeleSuiviProcess node, string name)
    {
        using var http = node.CreateClient();
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>A board connected to <paramref name="node"/>'s hub as an admin (sees every patient).</summary>
    public static HubConnection Board(TeleSuiviProcess node) => new HubConnectionBuilder()
        .WithUrl(new Uri(node.BaseUrl, "/hubs/triage"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(TeleSuiviProcess.AdminApiKey))
        .Build();
}
