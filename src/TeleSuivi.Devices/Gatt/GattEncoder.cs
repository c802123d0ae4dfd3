namespace TeleSuivi.Devices.Gatt;

/// <summary>
/// Builds characteristic values byte for byte as a conforming device sends them: a flag is set exactly when its optional
/// field is given, and reserved bits stay 0. For the device simulator and for tests.
/// </summary>
/// <remarks>Values the format cannot carry throw <see cref="ArgumentException"/>: the encoder never truncates silently.</remarks>
public static class GattEncoder
{
    /// <summary>The value of 0x2A35 Blood Pressure Measurement.</summary>
    public static byte[] Encode(BloodPressureMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return BloodPressureFormat.Write(measurement);
    }

    /// <summary>The value of 0x2A36 Intermediate Cuff Pressure, with NaN in the unused diastolic and mean fields.</summary>
    public static byte[] Encode(IntermediateCuffPressure cuffPressure)
    {
        ArgumentNullException.ThrowIfNull(cuffPressure);
        return BloodPressureFormat.Write(cuffPressure);
    }

    /// <summary>The value of 0x2A37 Heart Rate Measurement.</summary>
    public static byte[] Encode(HeartRateMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return HeartRateFormat.Write(measurement);
    }

    /// <summary>The value of 0x2A5E PLX Spot-check Measurement.</summary>
    public static byte[] Encode(PlxSpotCheckMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return PulseOximetryFormat.Write(measurement);
    }

    /// <summary>The value of 0x2A5F PLX Continuous Measurement.</summary>
    public static byte[] Encode(PlxContinuousMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return PulseOximetryFormat.Write(measurement);
    }

    /// <summary>The value of 0x2A1C Temperature Measurement or 0x2A1E Intermediate Temperature (same format).</summary>
    public static byte[] Encode(TemperatureMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return TemperatureFormat.Write(measurement);
    }

    /// <summary>The value of 0x2A9D Weight Measurement.</summary>
    public static byte[] Encode(WeightMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return WeightFormat.Write(measurement);
    }

    /// <summary>The value of 0x2A18 Glucose Measurement.</summary>
    public static byte[] Encode(GlucoseMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        return GlucoseFormat.Write(measurement);
    }
}
