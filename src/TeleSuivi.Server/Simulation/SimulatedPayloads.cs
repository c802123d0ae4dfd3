using System.Globalization;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Devices.Profiles;

namespace TeleSuivi.Server.Simulation;

/// <summary>Encodes a simulated measurement as its device's manufacturer would publish it: (topic, payload) pairs.</summary>
public sealed class SimulatedPayloads(SimulatedFormats formats)
{
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById(ProfileEncoder.DefaultZoneId);

    /// <summary>
    /// The messages of one measurement. Empty when the format cannot carry this time (a local time in the hour
    /// repeated when clocks go back cannot be told apart): the device then shows nothing, as a real one would not
    /// be read either.
    /// </summary>
    public IReadOnlyList<(string Topic, byte[] Payload)> Encode(SimulatedDevice device, SimulatedMeasurement m, Random random)
    {
        if (SimulatedFormats.IsGatt(device.Format))
        {
            return [(Gatt(device), EncodeGatt(device.Format, m))];
        }

        var encoder = formats.Encoders.Get(device.Format);
        var values = m.Values.Where(pair => encoder.CanEncode(pair.Key)).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        try
        {
            var payloads = encoder.EncodeMessages([new ReadingToEncode(m.Time, values)], new EncodeOptions { Zone = Paris, Random = random });
            var topic = $"telesuivi/v1/devices/{device.Format}/{device.Id}";
            return [.. payloads.Select(payload => (topic, payload))];
        }
        catch (ProfileEncodingException)
        {
            return [];
        }
    }

    private static string Gatt(SimulatedDevice device) => $"telesuivi/v1/devices/gatt/{device.Id}/{device.Format["gatt-".Length..]}";

    private static byte[] EncodeGatt(string format, SimulatedMeasurement m)
    {
        var v = m.Values;
        return format switch
        {
            SimulatedFormats.GattBloodPressure => GattEncoder.Encode(new BloodPressureMeasurement(
                PressureUnit.MillimetreOfMercury,
                Number(v["systolic-pressure"], 0),
                Number(v["diastolic-pressure"], 0),
                Number(Math.Round((v["systolic-pressure"] + (2 * v["diastolic-pressure"])) / 3), 0))
            {
                TimeStamp = Stamp(m.Time),
                PulseRate = Number(v["heart-rate"], 0),
            }),
            SimulatedFormats.GattHeartRate => GattEncoder.Encode(new HeartRateMeasurement((ushort)v["heart-rate"]) { SensorContact = SensorContact.Detected }),
            SimulatedFormats.GattSpotCheckOximetry => GattEncoder.Encode(
                new PlxSpotCheckMeasurement(new SpO2PulseRate(Number(v["oxygen-saturation"], 0), Number(v["heart-rate"], 0))) { TimeStamp = Stamp(m.Time) }),
            SimulatedFormats.GattTemperature => GattEncoder.Encode(
                new TemperatureMeasurement(TemperatureUnit.Celsius, Number(v["body-temperature"], -1)) { TimeStamp = Stamp(m.Time), Type = TemperatureType.Ear }),
            SimulatedFormats.GattWeight => GattEncoder.Encode(new WeightMeasurement(WeightUnitSystem.SI, Math.Round((decimal)v["body-weight"] / 0.005m) * 0.005m) { TimeStamp = Stamp(m.Time) }),
            SimulatedFormats.GattGlucose => GattEncoder.Encode(new GlucoseMeasurement((ushort)(m.Time.ToUnixTimeSeconds() / 3600 % ushort.MaxValue), Stamp(m.Time))
            {
                Unit = GlucoseConcentrationUnit.MolePerLitre,
                Sample = new GlucoseSample(Number(v["glucose"] / 1000, -4), GlucoseSampleType.CapillaryWholeBlood, GlucoseSampleLocation.Finger),
            }),
            _ => throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture, $"simulated GATT format '{format}' has no encoder")),
        };
    }

    /// <summary>GATT time stamps carry no zone: the simulated devices keep UTC, the decoder's default.</summary>
    private static GattDateTime Stamp(DateTimeOffset time) => GattDateTime.From(time.UtcDateTime);

    private static Ieee11073Value Number(double value, int exponent) => Ieee11073Value.FromDecimal((decimal)value, exponent);
}
