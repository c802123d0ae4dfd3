namespace TeleSuivi.Server.Bench;

/// <summary>What <c>telesuivi bench</c> was asked to measure (its command-line options).</summary>
public sealed record BenchSettings
{
    /// <summary><c>embedded</c>, or an external broker's URL (its <c>user:password@</c> is what the devices and the reference subscriber log in with).</summary>
    public string Broker { get; init; } = "embedded";

    /// <summary><c>sqlite</c> (in the bench's temporary data folder), or an InfluxDB URL.</summary>
    public string Store { get; init; } = "sqlite";

    /// <summary>The fixed loads, in messages (device readings) per second, at which latencies are measured.</summary>
    public IReadOnlyList<int> Loads { get; init; } = [1_000, 10_000];

    /// <summary>How long each fixed load is published.</summary>
    public TimeSpan LoadDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages published as fast as the broker takes them, for the reference and for the end-to-end saturation.</summary>
    public int SaturationMessages { get; init; } = 200_000;

    /// <summary>Patients registered (with their devices and the devices' broker accounts).</summary>
    public int Patients { get; init; } = 1_000;

    /// <summary>The first patients, whose devices publish the load (one MQTT connection per device); the others give the alert samples.</summary>
    public int PublishingPatients { get; init; } = 100;

    /// <summary>Critical readings sent per second during the fixed loads, each from a patient not used before, to time alerts on the hub.</summary>
    public int AlertsPerSecond { get; init; } = 5;

    /// <summary>QoS 1 publishes awaiting their PUBACK at once, over all connections.</summary>
    public int MaxInFlight { get; init; } = 2_000;

    /// <summary>
    /// Start the fixed loads as soon as the risk scorer has taken its backlog of batches, while it gives every patient
    /// their first score (the wave a node also makes after a restart and, for every registered patient, at local
    /// midnight), instead of after that wave. The "risk scores in the load" column tells whether the wave fell in it.
    /// </summary>
    public bool LoadsDuringWave { get; init; }

    public int Seed { get; init; } = 20261123;

    public required string JsonPath { get; init; }

    /// <summary>BENCHMARKS.md to update between this command's markers; null to leave it alone.</summary>
    public string? BenchmarksFile { get; init; }

    /// <summary>Patients whose critical readings the fixed loads need: one per alert sample.</summary>
    public int AlertPatientsNeeded => (int)Math.Ceiling(Loads.Count * LoadDuration.TotalSeconds * AlertsPerSecond);

    /// <summary>Why these settings cannot run, or null.</summary>
    public string? Problem()
    {
        if (Loads.Any(load => load <= 0) || SaturationMessages <= 0 || LoadDuration <= TimeSpan.Zero || MaxInFlight <= 0 || AlertsPerSecond < 0)
        {
            return "--loads, --saturation-messages, --duration and --max-in-flight must be positive, --alerts-per-second not negative";
        }

        if (PublishingPatients < 1)
        {
            return "--publishing-patients must be at least 1";
        }

        return Patients < PublishingPatients + AlertPatientsNeeded
            ? $"--patients {Patients} is too few: {PublishingPatients} publishing patients plus {AlertPatientsNeeded} alert samples ({AlertsPerSecond}/s over {Loads.Count} loads of {LoadDuration.TotalSeconds:0.#} s) need {PublishingPatients + AlertPatientsNeeded}"
            : null;
    }
}
