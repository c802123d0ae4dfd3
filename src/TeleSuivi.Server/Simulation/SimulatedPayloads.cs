using System.Globalization;
using System.Text;

namespace TeleSuivi.Server.Simulation;

/// <summary>Encodes a simulated measurement as its device's manufacturer would publish it: (topic, payload) pairs.</summary>
public static class SimulatedPayloads
{
    public static IEnumerable<(string Topic, byte[] Payload)> Encode(SimulatedDevice device, SimulatedMeasurement m) => device.Format switch
    {
        SimulatedFormats.Withings => [($"telesuivi/v1/devices/withings/{device.Id}", Withings(m))],
        _ => throw new NotSupportedException($"simulated format '{device.Format}' has no encoder"),
    };

    /// <summary>The Withings-style measure group of the contract: value × 10^unit, Withings measure type codes.</summary>
    private static byte[] Withings(SimulatedMeasurement m)
    {
        var measures = m.Kind switch
        {
            DeviceKind.BloodPressureMonitor => $"{Measure(m.Systolic, 10, 0)},{Measure(m.Diastolic, 9, 0)},{Measure(m.HeartRate, 11, 0)}",
            DeviceKind.Scale => Measure(m.WeightKg, 1, -2),
            DeviceKind.PulseOximeter => $"{Measure(m.SpO2, 54, 0)},{Measure(m.HeartRate, 11, 0)}",
            DeviceKind.Thermometer => Measure(m.TemperatureC, 71, -1),
            _ => throw new NotSupportedException($"Withings devices do not measure {m.Kind}"),
        };
        var json = string.Create(CultureInfo.InvariantCulture, $$"""{"measuregrps":[{"date":{{m.Time.ToUnixTimeSeconds()}},"measures":[{{measures}}]}]}""");
        return Encoding.UTF8.GetBytes(json);
    }

    private static string Measure(double value, int type, int unit) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"value":{{(long)Math.Round(value * Math.Pow(10, -unit))}},"type":{{type}},"unit":{{unit}}}""");
}
