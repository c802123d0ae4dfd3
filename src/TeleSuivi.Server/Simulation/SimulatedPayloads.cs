using System.Globalization;
using System.Text;
using TeleSuivi.Devices.Gatt;

namespace TeleSuivi.Server.Simulation;

/// <summary>Encodes a simulated measurement as its device's manufacturer would publish it: (topic, payload) pairs.</summary>
public static class SimulatedPayloads
{
    public static IEnumerable<(string Topic, byte[] Payload)> Encode(SimulatedDevice device, SimulatedMeasurement m) => device.Format switch
    {
        SimulatedFormats.Withings => [($"telesuivi/v1/devices/withings/{device.Id}", Withings(m))],
        SimulatedFormats.GattBloodPressure => [(Gatt(device, GattCharacteristics.BloodPressureMeasurement), GattEncoder.Encode(
            new BloodPressureMeasurement(PressureUnit.MillimetreOfMercury, Number(m.Systolic, 0), Number(m.Diastolic, 0), Number(Math.Round((m.Systolic + (2 * m.Diastolic)) / 3), 0))
            {
                TimeStamp = Stamp(m.Time),
                PulseRate = Number(m.HeartRate, 0),
            }))],
        SimulatedFormats.GattHeartRate => [(Gatt(device, GattCharacteristics.HeartRateMeasurement), GattEncoder.Encode(
            new HeartRateMeasurement((ushort)m.HeartRate) { SensorContact = SensorContact.Detected }))],
        SimulatedFormats.GattSpotCheckOximetry => [(Gatt(device, GattCharacteristics.PlxSpotCheckMeasurement), GattEncoder.Encode(
            new PlxSpotCheckMeasurement(new SpO2PulseRate(Number(m.SpO2, 0), Number(m.HeartRate, 0))) { TimeStamp = Stamp(m.Time) }))],
        SimulatedFormats.GattTemperature => [(Gatt(device, GattCharacteristics.TemperatureMeasurement), GattEncoder.Encode(
            new TemperatureMeasurement(TemperatureUnit.Celsius, Number(m.TemperatureC, -1)) { TimeStamp = Stamp(m.Time), Type = TemperatureType.Ear }))],
        SimulatedFormats.GattGlucose => [(Gatt(device, GattCharacteristics.GlucoseMeasurement), GattEncoder.Encode(
            new GlucoseMeasurement((ushort)(m.Time.ToUnixTimeSeconds() / 3600 % ushort.MaxValue), Stamp(m.Time))
            {
                Unit = GlucoseConcentrationUnit.MolePerLitre,
                Sample = new GlucoseSample(Number(m.GlucoseMmolL / 1000, -4), GlucoseSampleType.CapillaryWholeBlood, GlucoseSampleLocation.Finger),
            }))],
        _ => throw new NotSupportedException($"simulated format '{device.Format}' has no encoder"),
    };

    private static string Gatt(SimulatedDevice device, ushort characteristic) =>
        string.Create(CultureInfo.InvariantCulture, $"telesuivi/v1/devices/gatt/{device.Id}/{characteristic:x4}");

    /// <summary>GATT time stamps carry no zone: the simulated devices keep UTC, the decoder's default.</summary>
    private static GattDateTime Stamp(DateTimeOffset time) => GattDateTime.From(time.UtcDateTime);

    private static Ieee11073Value Number(double value, int exponent) => Ieee11073Value.FromDecimal((decimal)value, exponent);

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
