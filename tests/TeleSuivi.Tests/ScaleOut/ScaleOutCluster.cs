using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// The scale-out topology on one machine: 2 ingest workers and 2 web nodes (real <c>telesuivi serve</c> processes with
/// <c>Node:Roles</c>), one shared-subscription group on a private mosquitto (the tests count every message the
/// workers receive, and the run's shared broker carries the other tests' traffic), one InfluxDB database on the shared
/// influxd, the private Redis (SignalR backplane) and a fresh PostgreSQL database (alerts and workflow, users, audit,
/// registry, dead letters). The four nodes start at the same moment on the empty database: each creates the schema
/// and the bootstrap administrator, which must happen once without failing any of them.
/// </summary>
public sealed partial class ScaleOutCluster(ExternalServices external, ScaleOutServices services) : IAsyncLifetime
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private MqttTestPublisher? publisher;
    private PrivateMosquitto? mosquitto;

    /// <summary>A publisher on the cluster's broker.</summary>
    public MqttTestPublisher Publisher => publisher!;

    public IReadOnlyList<TeleSuiviProcess> Workers { get; private set; } = [];

    public IReadOnlyList<TeleSuiviProcess> WebNodes { get; private set; } = [];

    public IEnumerable<TeleSuiviProcess> All => Workers.Concat(WebNodes);

    /// <summary>The device kind (<c>Device.type</c> code) whose monitoring plan is a reading every <see cref="GapWatchPlan"/>.</summary>
    public const string GapWatchKind = "GapWatch";

    public static readonly TimeSpan GapWatchPlan = TimeSpan.FromSeconds(6);

    /// <summary>The connection string of the cluster's PostgreSQL database (<c>Workflow:PostgreSql</c>).</summary>
    public string Workflow { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var workflow = Workflow = await services.NewDatabaseAsync("cluster");
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
            ["TELESUIVI_LOGGING__LOGLEVEL__TeleSuivi.Server.Risk.OnlineRiskScorer"] = "Debug",
            // Missing data checked every second, with a 6-second plan for the one kind the gap test registers.
            ["TELESUIVI_ALERTS__SWEEPINTERVAL"] = "00:00:01",
            // Each worker reads which alerts are open every second (the alert test waits for two such reads).
            ["TELESUIVI_ALERTS__LIVEKEYSREFRESHINTERVAL"] = "00:00:01",
            [$"TELESUIVI_ALERTS__EXPECTEDINTERVALBYDEVICEKIND__{GapWatchKind}"] = GapWatchPlan.ToString("c", CultureInfo.InvariantCulture),
        });
        Workers = [Node("ingest"), Node("ingest")];
        WebNodes = [Node("web"), Node("web")];
        await Task.WhenAll(All.Select(node => node.WaitUntilReadyAsync(Deadline)));

        // The first worker up takes every scoring partition, then gives half back when it sees the second: tests that
        // check which worker scores a patient start once each worker owns its half. A worker logs its share only when
        // it changes, so its last line may still count the live workers it saw before the other connected: when both
        // start together, the first can take its half while seeing itself alone (the other already holds the rest)
        // and never log again. The shares, not the live counts, say the split is done.
        try
        {
            await Poll.UntilAsync(
                () => Task.FromResult(Workers.Select(worker => OwnedPartitions.Matches(worker.Output) is { Count: > 0 } lines ? lines[^1] : null).ToList()),
                latest => latest.All(line => line is not null
                    && int.Parse(line.Groups["owned"].Value, CultureInfo.InvariantCulture) * Workers.Count == int.Parse(line.Groups["count"].Value, CultureInfo.InvariantCulture)),
                Deadline,
                "the scoring partitions split between the two workers");
        }
        catch (TimeoutException ex)
        {
            // Say what each worker last logged of its share, and how its output ends (how the case above was found).
            throw new TimeoutException(
                ex.Message + string.Concat(Workers.Select((worker, i) =>
                    $"\nworker {i + 1}: {(OwnedPartitions.Matches(worker.Output) is { Count: > 0 } lines ? lines[^1].Value : "no share logged")}; output ends:\n{worker.Output[Math.Max(0, worker.Output.Length - 2_000)..]}")),
                ex);
        }
        publisher = await MqttTestPublisher.ConnectAsync(mosquitto.Url);
    }

    [GeneratedRegex(@"this worker owns (?<owned>\d+) of (?<count>\d+) \((?<live>\d+) live worker")]
    private static partial Regex OwnedPartitionsPattern();

    private static Regex OwnedPartitions => OwnedPartitionsPattern();

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
    /// Registers a patient with a Withings device (of <paramref name="kind"/>, if given) through every node: the registry
    /// is shared, but each node's copy in memory then knows the device at once rather than within
    /// <c>Registry:RefreshInterval</c> (the import test below relies on the refresh instead).
    /// </summary>
    public async Task<(string Patient, string Device)> RegisterPatientAsync(string? kind = null)
    {
        var (patient, device, bundle) = NewPatientBundle(kind);
        await Task.WhenAll(All.Select(node => RegistryBundles.ImportAsync(node.BaseUrl, bundle)));
        return (patient, device);
    }

    /// <summary>A new patient with a Withings device assigned since two days ago, as a transaction Bundle.</summary>
    public static (string Patient, string Device, string Bundle) NewPatientBundle(string? kind = null)
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        var (patient, device) = ($"p-{id}", $"wd-{id}");
        var bundle = RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-2));
        if (kind is not null)
        {
            bundle = bundle.Replace($$"""{ "resourceType": "Device", "id": "{{device}}",""",
                $$"""{ "resourceType": "Device", "id": "{{device}}", "type": { "coding": [{ "code": "{{kind}}" }] },""", StringComparison.Ordinal);
        }

        return (patient, device, bundle);
    }

    /// <summary>Publishes one Withings reading (SpO2 is type 54, weight 1) over MQTT, QoS 1.</summary>
    public Task PublishWithingsAsync(string device, DateTimeOffset time, int type, double value) => PublishWithingsAsync(device, (time, type, value));

    /// <summary>One message holding several readings, in this order (one stored batch: one worker takes them all).</summary>
    public Task PublishWithingsAsync(string device, params (DateTimeOffset Time, int Type, double Value)[] readings) =>
        publisher!.PublishAsync($"telesuivi/v1/devices/withings/{device}", WithingsMessage.Of(readings));

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
