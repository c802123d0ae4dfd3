namespace TeleSuivi.Server.Hosting;

/// <summary>
/// Settings given on the command line. Each one overrides the same key from appsettings.json and the
/// TELESUIVI_* environment variables; an option left out keeps their value.
/// </summary>
public sealed record PlatformSettings
{
    public string? Broker { get; init; }

    public string? Store { get; init; }

    public string? Urls { get; init; }

    public int? MqttPort { get; init; }

    public string? DataDirectory { get; init; }

    public string? LogFormat { get; init; }

    /// <summary>Simulator settings (<c>demo</c>): null keeps the configured value.</summary>
    public bool? Simulate { get; init; }

    public int? SimulatedPatients { get; init; }

    public double? ClockSpeed { get; init; }

    public double? HistoryDays { get; init; }

    public int? Seed { get; init; }

    public IEnumerable<KeyValuePair<string, string?>> ToConfiguration()
    {
        if (Broker is not null)
        {
            yield return new("Broker:Url", Broker);
        }

        if (Store is not null)
        {
            yield return new("Store:Url", Store);
        }

        if (Urls is not null)
        {
            yield return new("Urls", Urls);
        }

        if (MqttPort is { } port)
        {
            yield return new("Broker:EmbeddedPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (DataDirectory is not null)
        {
            yield return new("Store:DataDirectory", DataDirectory);
        }

        if (LogFormat is not null)
        {
            yield return new("LogFormat", LogFormat);
        }

        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (Simulate is { } simulate)
        {
            yield return new("Simulator:Enabled", simulate ? "true" : "false");
        }

        if (SimulatedPatients is { } patients)
        {
            yield return new("Simulator:Patients", patients.ToString(invariant));
        }

        if (ClockSpeed is { } speed)
        {
            yield return new("Simulator:ClockSpeed", speed.ToString(invariant));
        }

        if (HistoryDays is { } days)
        {
            yield return new("Simulator:HistoryDays", days.ToString(invariant));
        }

        if (Seed is { } seed)
        {
            yield return new("Simulator:Seed", seed.ToString(invariant));
        }
    }
}
