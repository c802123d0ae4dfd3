namespace TeleSuivi.Server.Simulation;

/// <summary>The payload formats the simulator publishes in (each one a contract topic and payload shape).</summary>
public static class SimulatedFormats
{
    public const string Withings = "withings";
    public const string GattBloodPressure = "gatt-2a35";
    public const string GattHeartRate = "gatt-2a37";
    public const string GattSpotCheckOximetry = "gatt-2a5e";
    public const string GattTemperature = "gatt-2a1c";
    public const string GattGlucose = "gatt-2a18";
}
