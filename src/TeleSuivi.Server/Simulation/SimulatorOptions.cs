namespace TeleSuivi.Server.Simulation;

/// <summary>Bound from the <c>Simulator</c> configuration section; <c>demo</c> and <c>simulate</c> set it from their options.</summary>
public sealed class SimulatorOptions
{
    public const string Section = "Simulator";

    public bool Enabled { get; set; }

    public int Patients { get; set; } = 1000;

    /// <summary>Same seed, same cohort and same readings: demos and tests are reproducible.</summary>
    public int Seed { get; set; } = 20261123;

    /// <summary>
    /// Simulated history to publish first, days before now. The simulated clock starts that far back and runs
    /// <see cref="ClockSpeed"/> times faster than real time until it reaches now, then follows real time:
    /// readings are never stamped in the future.
    /// </summary>
    public double HistoryDays { get; set; }

    /// <summary>Simulated seconds per real second while catching up with now (1 = real time).</summary>
    public double ClockSpeed { get; set; } = 1;

    /// <summary>MQTT broker to publish to; empty = the platform's own (the embedded broker in <c>demo</c>).</summary>
    public string? BrokerUrl { get; set; }

    /// <summary>A running TeleSuivi to register the cohort with (<c>POST /fhir</c>) before publishing (<c>simulate</c>).</summary>
    public string? RegisterWith { get; set; }

    /// <summary>A file to write the cohort's registry Bundle to, for <c>telesuivi import</c> (<c>simulate</c>).</summary>
    public string? RegistryFile { get; set; }

    /// <summary>
    /// A CSV of device and station accounts (<c>telesuivi devices credentials --out</c>): each device then logs in as
    /// itself. Without it, one connection publishes for every device (the broker URL's credentials, if any).
    /// </summary>
    public string? CredentialsFile { get; set; }

    /// <summary>Connections kept open at once when devices log in as themselves (the least recently used is closed).</summary>
    public int MaxConnections { get; set; } = 200;

    /// <summary>Stop after this long (null: run until stopped).</summary>
    public TimeSpan? Duration { get; set; }
}
