namespace TeleSuivi.Devices.Gatt;

/// <summary>
/// Decodes the raw value of a Bluetooth SIG health characteristic, as published on
/// <c>telesuivi/v1/devices/gatt/{deviceId}/{uuid16}</c>, into readings in the units the device used.
/// It never throws on a payload: a malformed one gives a failure that names the characteristic and the field.
/// </summary>
public static class GattDecoder
{
    /// <param name="uuid16">The characteristic as the topic carries it: "2a35" (also "2A35" or "0x2a35").</param>
    /// <param name="deviceZone">
    /// The time zone of the device's clock: GATT time stamps are wall-clock times without zone. Defaults to UTC.
    /// </param>
    public static DecodeOutcome Decode(string uuid16, ReadOnlySpan<byte> payload, TimeZoneInfo? deviceZone = null) =>
        GattCharacteristics.TryParseUuid16(uuid16, out var uuid)
            ? Decode(uuid, payload, deviceZone)
            : DecodeOutcome.Failure($"unsupported GATT characteristic '{uuid16}': not a 16-bit UUID such as 2a35");

    public static DecodeOutcome Decode(ushort uuid16, ReadOnlySpan<byte> payload, TimeZoneInfo? deviceZone = null)
    {
        var zone = deviceZone ?? TimeZoneInfo.Utc;
        return uuid16 switch
        {
            GattCharacteristics.BloodPressureMeasurement => BloodPressureFormat.DecodeMeasurement(payload, zone),
            GattCharacteristics.IntermediateCuffPressure => BloodPressureFormat.DecodeIntermediateCuffPressure(payload, zone),
            GattCharacteristics.HeartRateMeasurement => HeartRateFormat.Decode(payload),
            GattCharacteristics.PlxSpotCheckMeasurement => PulseOximetryFormat.DecodeSpotCheck(payload, zone),
            GattCharacteristics.PlxContinuousMeasurement => PulseOximetryFormat.DecodeContinuous(payload),
            GattCharacteristics.TemperatureMeasurement or GattCharacteristics.IntermediateTemperature =>
                TemperatureFormat.Decode(uuid16, payload, zone),
            GattCharacteristics.WeightMeasurement => WeightFormat.Decode(payload, zone),
            GattCharacteristics.GlucoseMeasurement => GlucoseFormat.Decode(payload, zone),
            _ => DecodeOutcome.Failure($"unsupported GATT characteristic {GattCharacteristics.Label(uuid16)}"),
        };
    }
}
