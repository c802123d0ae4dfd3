using TeleSuivi.Devices.Profiles;

namespace TeleSuivi.Server.Simulation;

/// <summary>
/// The payload formats a simulated device of each kind can publish in: the Bluetooth GATT characteristic of its
/// kind, and every manufacturer profile of <c>ingest/</c> that can encode what the kind measures. Devices are
/// spread over all of them, so a cohort of a few hundred patients exercises every format.
/// </summary>
public sealed class SimulatedFormats
{
    public const string GattBloodPressure = "gatt-2a35";
    public const string GattHeartRate = "gatt-2a37";
    public const string GattSpotCheckOximetry = "gatt-2a5e";
    public const string GattTemperature = "gatt-2a1c";
    public const string GattWeight = "gatt-2a9d";
    public const string GattGlucose = "gatt-2a18";

    private readonly Dictionary<DeviceKind, IReadOnlyList<string>> formatsByKind;

    public SimulatedFormats(ProfileEncoderRegistry encoders)
    {
        Encoders = encoders;
        formatsByKind = Enum.GetValues<DeviceKind>().ToDictionary(kind => kind, kind => (IReadOnlyList<string>)FormatsOf(kind, encoders));
    }

    public ProfileEncoderRegistry Encoders { get; }

    public IReadOnlyList<string> For(DeviceKind kind) => formatsByKind[kind];

    public IEnumerable<string> All => formatsByKind.Values.SelectMany(formats => formats).Distinct(StringComparer.Ordinal);

    public static bool IsGatt(string format) => format.StartsWith("gatt-", StringComparison.Ordinal);

    private static List<string> FormatsOf(DeviceKind kind, ProfileEncoderRegistry encoders)
    {
        var formats = new List<string>();
        if (GattFormatOf(kind) is { } gatt)
        {
            formats.Add(gatt);
        }

        var measures = Physiology.MeasuresOf(kind);
        foreach (var manufacturer in encoders.Manufacturers)
        {
            var encoder = encoders.Get(manufacturer);
            // A maker fits when every measure its format requires is one the kind produces, and the kind's main
            // measure is one it can carry (a CPAP profile that also reads respiratory rate is no respiratory sensor).
            if (encoder.RequiredMeasures.All(measures.Contains) && encoder.CanEncode(measures[0]))
            {
                formats.Add(manufacturer);
            }
        }

        return formats;
    }

    private static string? GattFormatOf(DeviceKind kind) => kind switch
    {
        DeviceKind.BloodPressureMonitor => GattBloodPressure,
        DeviceKind.PulseOximeter => GattSpotCheckOximetry,
        DeviceKind.Scale => GattWeight,
        DeviceKind.Thermometer => GattTemperature,
        DeviceKind.HeartRateWearable => GattHeartRate,
        DeviceKind.Glucometer => GattGlucose,
        _ => null,
    };
}
