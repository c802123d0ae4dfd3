using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

/// <summary>Whether the heart rate is sent in one byte or two (flags bit 0).</summary>
public enum HeartRateValueFormat
{
    OneByte,
    TwoBytes,
}

/// <summary>The Sensor Contact Status bits (flags bits 1-2); 0b00 and 0b01 both mean "not supported".</summary>
public enum SensorContact
{
    NotSupported,
    NotDetected,
    Detected,
}

/// <summary>0x2A37 Heart Rate Measurement.</summary>
/// <param name="HeartRate">Beats per minute.</param>
public sealed record HeartRateMeasurement(ushort HeartRate)
{
    public HeartRateValueFormat ValueFormat { get; init; } =
        HeartRate > byte.MaxValue ? HeartRateValueFormat.TwoBytes : HeartRateValueFormat.OneByte;

    public SensorContact SensorContact { get; init; }

    /// <summary>Energy expended since the last reset, in kilojoules; 0xFFFF means the counter is saturated.</summary>
    public ushort? EnergyExpended { get; init; }

    /// <summary>RR-intervals in units of 1/1024 second, oldest first.</summary>
    public IReadOnlyList<ushort>? RrIntervals { get; init; }
}

internal static class HeartRateFormat
{
    private const byte TwoByteValueFlag = 0x01;
    private const byte SensorContactMask = 0x06;
    private const byte SensorContactNotDetected = 0x04;
    private const byte SensorContactDetected = 0x06;
    private const byte EnergyExpendedFlag = 0x08;
    private const byte RrIntervalFlag = 0x10;
    private const byte ReservedFlags = 0xE0;
    private const ushort SaturatedEnergyExpended = 0xFFFF;
    private const double MillisecondsPerRrUnit = 1000d / 1024d;
    private const double TicksPerRrUnit = TimeSpan.TicksPerSecond / 1024d;

    private static readonly string Label = GattCharacteristics.Label(GattCharacteristics.HeartRateMeasurement);

    public static DecodeOutcome Decode(ReadOnlySpan<byte> payload) =>
        TryParse(payload, out var measurement, out var error) ? ToOutcome(measurement) : DecodeOutcome.Failure(error);

    public static bool TryParse(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out HeartRateMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        var reader = new GattReader(payload, Label);
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        var format = (flags & TwoByteValueFlag) != 0 ? HeartRateValueFormat.TwoBytes : HeartRateValueFormat.OneByte;
        if (!reader.TryTakeMandatory(format == HeartRateValueFormat.TwoBytes ? 2 : 1, "the heart rate", out var rateField, out error))
        {
            return false;
        }

        ushort? energyExpended = null;
        if ((flags & EnergyExpendedFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(2, "an energy expended", out var field, out error))
            {
                return false;
            }

            energyExpended = GattReader.UInt16(field);
        }

        ushort[]? rrIntervals = null;
        if ((flags & RrIntervalFlag) != 0)
        {
            // The RR-intervals run to the end of the value: as many as the device had since the last notification.
            var field = reader.TakeRest();
            if (field.IsEmpty)
            {
                error = $"{Label}: flags announce RR-intervals but the payload ends at byte {payload.Length}";
                return false;
            }

            if (field.Length % 2 != 0)
            {
                error = $"{Label}: the RR-intervals take {field.Length} bytes from byte {payload.Length - field.Length}, not a whole number of 2-byte intervals";
                return false;
            }

            rrIntervals = new ushort[field.Length / 2];
            for (var i = 0; i < rrIntervals.Length; i++)
            {
                rrIntervals[i] = GattReader.UInt16(field[(2 * i)..]);
            }
        }
        else if (!reader.CheckEnd(flags, ReservedFlags, out error))
        {
            return false;
        }

        measurement = new HeartRateMeasurement(format == HeartRateValueFormat.TwoBytes ? GattReader.UInt16(rateField) : rateField[0])
        {
            ValueFormat = format,
            SensorContact = (flags & SensorContactMask) switch
            {
                SensorContactDetected => SensorContact.Detected,
                SensorContactNotDetected => SensorContact.NotDetected,
                _ => SensorContact.NotSupported,
            },
            EnergyExpended = energyExpended,
            RrIntervals = rrIntervals,
        };
        return true;
    }

    public static byte[] Write(HeartRateMeasurement measurement)
    {
        if (measurement.ValueFormat == HeartRateValueFormat.OneByte && measurement.HeartRate > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(measurement), measurement.HeartRate, "a heart rate above 255 needs the two-byte format");
        }

        if (measurement.RrIntervals is { Count: 0 })
        {
            throw new ArgumentException("the RR-interval field holds one or more intervals; leave RrIntervals null for none", nameof(measurement));
        }

        var flags = (byte)((measurement.ValueFormat == HeartRateValueFormat.TwoBytes ? TwoByteValueFlag : 0)
            | measurement.SensorContact switch
            {
                SensorContact.Detected => SensorContactDetected,
                SensorContact.NotDetected => SensorContactNotDetected,
                _ => 0,
            }
            | (measurement.EnergyExpended is null ? 0 : EnergyExpendedFlag)
            | (measurement.RrIntervals is null ? 0 : RrIntervalFlag));

        var writer = new GattWriter();
        writer.UInt8(flags);
        if (measurement.ValueFormat == HeartRateValueFormat.TwoBytes)
        {
            writer.UInt16(measurement.HeartRate);
        }
        else
        {
            writer.UInt8((byte)measurement.HeartRate);
        }

        if (measurement.EnergyExpended is { } energyExpended)
        {
            writer.UInt16(energyExpended);
        }

        foreach (var rrInterval in measurement.RrIntervals ?? [])
        {
            writer.UInt16(rrInterval);
        }

        return writer.ToArray();
    }

    public static DecodeOutcome ToOutcome(HeartRateMeasurement measurement)
    {
        var qualifiers = new QualifierSet();
        if (measurement.SensorContact == SensorContact.NotDetected)
        {
            qualifiers.AddDeviceStatus("sensor-contact-lost");
        }

        // A heart-rate sensor streams live values: they carry no time stamp and take the receive time.
        var collector = new ReadingCollector(Label, null, qualifiers.Build());
        collector.AddValue(GattMeasures.HeartRate, measurement.HeartRate, UcumUnits.PerMinute);

        // 0xFFFF says the counter stopped at its maximum: the energy expended is at least that, not that.
        if (measurement.EnergyExpended is { } energyExpended and not SaturatedEnergyExpended)
        {
            collector.AddValue(GattMeasures.EnergyExpended, energyExpended, UcumUnits.Kilojoule);
        }

        if (measurement.RrIntervals is { } rrIntervals)
        {
            // Oldest first, the last one ending at the notification: each interval is dated by the beat that ends it.
            long unitsAfter = 0;
            foreach (var rrInterval in rrIntervals)
            {
                unitsAfter += rrInterval;
            }

            foreach (var rrInterval in rrIntervals)
            {
                unitsAfter -= rrInterval;
                var beforeReceipt = TimeSpan.FromTicks((long)Math.Round(unitsAfter * TicksPerRrUnit, MidpointRounding.AwayFromZero));

                // n × 1000 / 1024 is a dyadic fraction: exact in a double.
                collector.AddValue(GattMeasures.RrInterval, rrInterval * MillisecondsPerRrUnit, UcumUnits.Millisecond, beforeReceipt);
            }
        }

        return collector.ToOutcome();
    }
}
