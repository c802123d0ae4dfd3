using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

/// <summary>The Measurement Status field of the Pulse Oximeter Service (PLXS 1.0.1 table 3.4); bits 0-4 are reserved.</summary>
[Flags]
public enum PlxMeasurementStatus
{
    None = 0,
    MeasurementOngoing = 1 << 5,
    EarlyEstimatedData = 1 << 6,
    ValidatedData = 1 << 7,
    FullyQualifiedData = 1 << 8,
    DataFromMeasurementStorage = 1 << 9,
    DataForDemonstration = 1 << 10,
    DataForTesting = 1 << 11,
    CalibrationOngoing = 1 << 12,
    MeasurementUnavailable = 1 << 13,
    QuestionableMeasurementDetected = 1 << 14,
    InvalidMeasurementDetected = 1 << 15,
}

/// <summary>The 24-bit Device and Sensor Status field (PLXS 1.0.1 table 3.5); bits 16-23 are reserved.</summary>
[Flags]
public enum PlxDeviceAndSensorStatus
{
    None = 0,
    ExtendedDisplayUpdateOngoing = 1 << 0,
    EquipmentMalfunctionDetected = 1 << 1,
    SignalProcessingIrregularityDetected = 1 << 2,
    InadequateSignalDetected = 1 << 3,
    PoorSignalDetected = 1 << 4,
    LowPerfusionDetected = 1 << 5,
    ErraticSignalDetected = 1 << 6,
    NonPulsatileSignalDetected = 1 << 7,
    QuestionablePulseDetected = 1 << 8,
    SignalAnalysisOngoing = 1 << 9,
    SensorInterferenceDetected = 1 << 10,
    SensorUnconnectedToUser = 1 << 11,
    UnknownSensorConnected = 1 << 12,
    SensorDisplaced = 1 << 13,
    SensorMalfunctioning = 1 << 14,
    SensorDisconnected = 1 << 15,
}

/// <summary>An SpO2 (percent) and pulse rate (beats per minute) pair; NaN where the oximeter has no value.</summary>
public readonly record struct SpO2PulseRate(Ieee11073Value SpO2, Ieee11073Value PulseRate);

/// <summary>0x2A5E PLX Spot-check Measurement: one stable reading per measurement session.</summary>
public sealed record PlxSpotCheckMeasurement(SpO2PulseRate SpotCheck)
{
    public GattDateTime? TimeStamp { get; init; }

    public PlxMeasurementStatus? MeasurementStatus { get; init; }

    public PlxDeviceAndSensorStatus? DeviceAndSensorStatus { get; init; }

    /// <summary>Perfusion at the sensor, in percent.</summary>
    public Ieee11073Value? PulseAmplitudeIndex { get; init; }

    /// <summary>Flags bit 4: the time stamp comes from a clock nobody set, so it does not date the reading.</summary>
    public bool DeviceClockNotSet { get; init; }
}

/// <summary>0x2A5F PLX Continuous Measurement: a live reading every second or so, without time stamp.</summary>
public sealed record PlxContinuousMeasurement(SpO2PulseRate Normal)
{
    /// <summary>The same quantities from an algorithm that follows quick changes.</summary>
    public SpO2PulseRate? Fast { get; init; }

    /// <summary>The same quantities from an algorithm that filters out motion.</summary>
    public SpO2PulseRate? Slow { get; init; }

    public PlxMeasurementStatus? MeasurementStatus { get; init; }

    public PlxDeviceAndSensorStatus? DeviceAndSensorStatus { get; init; }

    public Ieee11073Value? PulseAmplitudeIndex { get; init; }
}

internal static class PulseOximetryFormat
{
    private const byte SpotCheckTimeStampFlag = 0x01;
    private const byte SpotCheckMeasurementStatusFlag = 0x02;
    private const byte SpotCheckDeviceStatusFlag = 0x04;
    private const byte SpotCheckPulseAmplitudeIndexFlag = 0x08;
    private const byte SpotCheckClockNotSetFlag = 0x10;
    private const byte SpotCheckReservedFlags = 0xE0;

    private const byte ContinuousFastFlag = 0x01;
    private const byte ContinuousSlowFlag = 0x02;
    private const byte ContinuousMeasurementStatusFlag = 0x04;
    private const byte ContinuousDeviceStatusFlag = 0x08;
    private const byte ContinuousPulseAmplitudeIndexFlag = 0x10;
    private const byte ContinuousReservedFlags = 0xE0;

    private const int SpO2PulseRateSize = 2 * Ieee11073.SFloatSize;
    private const int DeviceAndSensorStatusSize = 3;

    private static readonly string SpotCheckLabel = GattCharacteristics.Label(GattCharacteristics.PlxSpotCheckMeasurement);
    private static readonly string ContinuousLabel = GattCharacteristics.Label(GattCharacteristics.PlxContinuousMeasurement);

    private static readonly (PlxMeasurementStatus Flag, string Name)[] MeasurementStatusNames =
    [
        (PlxMeasurementStatus.MeasurementOngoing, GattMeasures.MeasurementOngoing),
        (PlxMeasurementStatus.EarlyEstimatedData, "early-estimated-data"),
        (PlxMeasurementStatus.ValidatedData, "validated-data"),
        (PlxMeasurementStatus.FullyQualifiedData, "fully-qualified-data"),
        (PlxMeasurementStatus.DataFromMeasurementStorage, "data-from-measurement-storage"),
        (PlxMeasurementStatus.DataForDemonstration, "data-for-demonstration"),
        (PlxMeasurementStatus.DataForTesting, "data-for-testing"),
        (PlxMeasurementStatus.CalibrationOngoing, "calibration-ongoing"),
        (PlxMeasurementStatus.MeasurementUnavailable, "measurement-unavailable"),
        (PlxMeasurementStatus.QuestionableMeasurementDetected, "questionable-measurement"),
        (PlxMeasurementStatus.InvalidMeasurementDetected, "invalid-measurement"),
    ];

    private static readonly (PlxDeviceAndSensorStatus Flag, string Name)[] DeviceAndSensorStatusNames =
    [
        (PlxDeviceAndSensorStatus.ExtendedDisplayUpdateOngoing, "extended-display-update-ongoing"),
        (PlxDeviceAndSensorStatus.EquipmentMalfunctionDetected, "equipment-malfunction"),
        (PlxDeviceAndSensorStatus.SignalProcessingIrregularityDetected, "signal-processing-irregularity"),
        (PlxDeviceAndSensorStatus.InadequateSignalDetected, "inadequate-signal"),
        (PlxDeviceAndSensorStatus.PoorSignalDetected, "poor-signal"),
        (PlxDeviceAndSensorStatus.LowPerfusionDetected, "low-perfusion"),
        (PlxDeviceAndSensorStatus.ErraticSignalDetected, "erratic-signal"),
        (PlxDeviceAndSensorStatus.NonPulsatileSignalDetected, "non-pulsatile-signal"),
        (PlxDeviceAndSensorStatus.QuestionablePulseDetected, "questionable-pulse"),
        (PlxDeviceAndSensorStatus.SignalAnalysisOngoing, "signal-analysis-ongoing"),
        (PlxDeviceAndSensorStatus.SensorInterferenceDetected, "sensor-interference"),
        (PlxDeviceAndSensorStatus.SensorUnconnectedToUser, "sensor-unconnected-to-user"),
        (PlxDeviceAndSensorStatus.UnknownSensorConnected, "unknown-sensor-connected"),
        (PlxDeviceAndSensorStatus.SensorDisplaced, "sensor-displaced"),
        (PlxDeviceAndSensorStatus.SensorMalfunctioning, "sensor-malfunctioning"),
        (PlxDeviceAndSensorStatus.SensorDisconnected, "sensor-disconnected"),
    ];

    public static DecodeOutcome DecodeSpotCheck(ReadOnlySpan<byte> payload, TimeZoneInfo zone) =>
        TryParseSpotCheck(payload, out var measurement, out var error) ? ToOutcome(measurement, zone) : DecodeOutcome.Failure(error);

    public static DecodeOutcome DecodeContinuous(ReadOnlySpan<byte> payload) =>
        TryParseContinuous(payload, out var measurement, out var error) ? ToOutcome(measurement) : DecodeOutcome.Failure(error);

    public static bool TryParseSpotCheck(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out PlxSpotCheckMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        var reader = new GattReader(payload, SpotCheckLabel);
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error)
            || !reader.TryTakeMandatory(SpO2PulseRateSize, "the SpO2PR-Spot-Check field", out var spotCheckField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        GattDateTime? timeStamp = null;
        if ((flags & SpotCheckTimeStampFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(GattDateTime.Size, "a time stamp", out var field, out error))
            {
                return false;
            }

            timeStamp = GattDateTime.Read(field);
        }

        if (!TryReadStatusesAndIndex(ref reader, flags, SpotCheckMeasurementStatusFlag, SpotCheckDeviceStatusFlag,
                SpotCheckPulseAmplitudeIndexFlag, out var measurementStatus, out var deviceStatus, out var pulseAmplitudeIndex, out error)
            || !reader.CheckEnd(flags, SpotCheckReservedFlags, out error))
        {
            return false;
        }

        measurement = new PlxSpotCheckMeasurement(ReadSpO2PulseRate(spotCheckField))
        {
            TimeStamp = timeStamp,
            MeasurementStatus = measurementStatus,
            DeviceAndSensorStatus = deviceStatus,
            PulseAmplitudeIndex = pulseAmplitudeIndex,
            DeviceClockNotSet = (flags & SpotCheckClockNotSetFlag) != 0,
        };
        return true;
    }

    public static bool TryParseContinuous(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out PlxContinuousMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        var reader = new GattReader(payload, ContinuousLabel);
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error)
            || !reader.TryTakeMandatory(SpO2PulseRateSize, "the SpO2PR-Normal field", out var normalField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        SpO2PulseRate? fast = null;
        if ((flags & ContinuousFastFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(SpO2PulseRateSize, "an SpO2PR-Fast field", out var field, out error))
            {
                return false;
            }

            fast = ReadSpO2PulseRate(field);
        }

        SpO2PulseRate? slow = null;
        if ((flags & ContinuousSlowFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(SpO2PulseRateSize, "an SpO2PR-Slow field", out var field, out error))
            {
                return false;
            }

            slow = ReadSpO2PulseRate(field);
        }

        if (!TryReadStatusesAndIndex(ref reader, flags, ContinuousMeasurementStatusFlag, ContinuousDeviceStatusFlag,
                ContinuousPulseAmplitudeIndexFlag, out var measurementStatus, out var deviceStatus, out var pulseAmplitudeIndex, out error)
            || !reader.CheckEnd(flags, ContinuousReservedFlags, out error))
        {
            return false;
        }

        measurement = new PlxContinuousMeasurement(ReadSpO2PulseRate(normalField))
        {
            Fast = fast,
            Slow = slow,
            MeasurementStatus = measurementStatus,
            DeviceAndSensorStatus = deviceStatus,
            PulseAmplitudeIndex = pulseAmplitudeIndex,
        };
        return true;
    }

    public static byte[] Write(PlxSpotCheckMeasurement measurement)
    {
        var flags = (byte)((measurement.TimeStamp is null ? 0 : SpotCheckTimeStampFlag)
            | (measurement.MeasurementStatus is null ? 0 : SpotCheckMeasurementStatusFlag)
            | (measurement.DeviceAndSensorStatus is null ? 0 : SpotCheckDeviceStatusFlag)
            | (measurement.PulseAmplitudeIndex is null ? 0 : SpotCheckPulseAmplitudeIndexFlag)
            | (measurement.DeviceClockNotSet ? SpotCheckClockNotSetFlag : 0));

        var writer = new GattWriter();
        writer.UInt8(flags);
        WriteSpO2PulseRate(writer, measurement.SpotCheck);
        if (measurement.TimeStamp is { } timeStamp)
        {
            writer.DateTime(timeStamp);
        }

        WriteStatusesAndIndex(writer, measurement.MeasurementStatus, measurement.DeviceAndSensorStatus, measurement.PulseAmplitudeIndex);
        return writer.ToArray();
    }

    public static byte[] Write(PlxContinuousMeasurement measurement)
    {
        var flags = (byte)((measurement.Fast is null ? 0 : ContinuousFastFlag)
            | (measurement.Slow is null ? 0 : ContinuousSlowFlag)
            | (measurement.MeasurementStatus is null ? 0 : ContinuousMeasurementStatusFlag)
            | (measurement.DeviceAndSensorStatus is null ? 0 : ContinuousDeviceStatusFlag)
            | (measurement.PulseAmplitudeIndex is null ? 0 : ContinuousPulseAmplitudeIndexFlag));

        var writer = new GattWriter();
        writer.UInt8(flags);
        WriteSpO2PulseRate(writer, measurement.Normal);
        if (measurement.Fast is { } fast)
        {
            WriteSpO2PulseRate(writer, fast);
        }

        if (measurement.Slow is { } slow)
        {
            WriteSpO2PulseRate(writer, slow);
        }

        WriteStatusesAndIndex(writer, measurement.MeasurementStatus, measurement.DeviceAndSensorStatus, measurement.PulseAmplitudeIndex);
        return writer.ToArray();
    }

    public static DecodeOutcome ToOutcome(PlxSpotCheckMeasurement measurement, TimeZoneInfo zone)
    {
        DateTimeOffset? time = null;
        if (!measurement.DeviceClockNotSet
            && !DeviceClock.TryResolve(measurement.TimeStamp ?? GattDateTime.Unknown, 0, zone, "the time stamp", out time, out var problem))
        {
            return DecodeOutcome.Failure($"{SpotCheckLabel}: {problem}");
        }

        var qualifiers = StatusQualifiers(measurement.MeasurementStatus, measurement.DeviceAndSensorStatus);
        if (measurement.DeviceClockNotSet)
        {
            qualifiers.AddDeviceStatus("device-clock-not-set");
        }

        var collector = new ReadingCollector(SpotCheckLabel, time, qualifiers.Build());
        AddReadings(collector, measurement.SpotCheck, measurement.PulseAmplitudeIndex);
        return collector.ToOutcome();
    }

    /// <summary>
    /// Only SpO2PR-Normal becomes readings. Fast and Slow are the same two quantities at the same instant through other
    /// filters: three oxygen saturations for one moment would collide as duplicates and disagree in every trend.
    /// </summary>
    public static DecodeOutcome ToOutcome(PlxContinuousMeasurement measurement)
    {
        var qualifiers = StatusQualifiers(measurement.MeasurementStatus, measurement.DeviceAndSensorStatus);
        var collector = new ReadingCollector(ContinuousLabel, null, qualifiers.Build());
        AddReadings(collector, measurement.Normal, measurement.PulseAmplitudeIndex);
        return collector.ToOutcome();
    }

    private static void AddReadings(ReadingCollector collector, SpO2PulseRate values, Ieee11073Value? pulseAmplitudeIndex)
    {
        collector.AddValue(GattMeasures.OxygenSaturation, "SpO2", values.SpO2, UcumUnits.Percent);
        collector.AddValue(GattMeasures.HeartRate, "pulse rate", values.PulseRate, UcumUnits.PerMinute);
        if (pulseAmplitudeIndex is { } index)
        {
            collector.AddValue(GattMeasures.PulseAmplitudeIndex, "pulse amplitude index", index, UcumUnits.Percent);
        }
    }

    private static QualifierSet StatusQualifiers(PlxMeasurementStatus? measurementStatus, PlxDeviceAndSensorStatus? deviceStatus)
    {
        var qualifiers = new QualifierSet();
        foreach (var (flag, name) in MeasurementStatusNames)
        {
            if (measurementStatus is { } status && status.HasFlag(flag))
            {
                qualifiers.AddDeviceStatus(name);
            }
        }

        foreach (var (flag, name) in DeviceAndSensorStatusNames)
        {
            if (deviceStatus is { } status && status.HasFlag(flag))
            {
                qualifiers.AddDeviceStatus(name);
            }
        }

        return qualifiers;
    }

    private static SpO2PulseRate ReadSpO2PulseRate(ReadOnlySpan<byte> field) =>
        new(Ieee11073.ReadSFloat(field), Ieee11073.ReadSFloat(field[Ieee11073.SFloatSize..]));

    private static void WriteSpO2PulseRate(GattWriter writer, SpO2PulseRate values)
    {
        writer.SFloat(values.SpO2);
        writer.SFloat(values.PulseRate);
    }

    private static bool TryReadStatusesAndIndex(ref GattReader reader, byte flags, byte measurementStatusFlag, byte deviceStatusFlag,
        byte pulseAmplitudeIndexFlag, out PlxMeasurementStatus? measurementStatus, out PlxDeviceAndSensorStatus? deviceStatus,
        out Ieee11073Value? pulseAmplitudeIndex, [NotNullWhen(false)] out string? error)
    {
        measurementStatus = null;
        deviceStatus = null;
        pulseAmplitudeIndex = null;
        error = null;
        if ((flags & measurementStatusFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(2, "a measurement status", out var field, out error))
            {
                return false;
            }

            measurementStatus = (PlxMeasurementStatus)GattReader.UInt16(field);
        }

        if ((flags & deviceStatusFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(DeviceAndSensorStatusSize, "a device and sensor status", out var field, out error))
            {
                return false;
            }

            deviceStatus = (PlxDeviceAndSensorStatus)GattReader.UInt24(field);
        }

        if ((flags & pulseAmplitudeIndexFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(Ieee11073.SFloatSize, "a pulse amplitude index", out var field, out error))
            {
                return false;
            }

            pulseAmplitudeIndex = Ieee11073.ReadSFloat(field);
        }

        return true;
    }

    private static void WriteStatusesAndIndex(GattWriter writer, PlxMeasurementStatus? measurementStatus,
        PlxDeviceAndSensorStatus? deviceStatus, Ieee11073Value? pulseAmplitudeIndex)
    {
        if (measurementStatus is { } status)
        {
            writer.UInt16(checked((ushort)status));
        }

        if (deviceStatus is { } device)
        {
            writer.UInt24(checked((uint)device));
        }

        if (pulseAmplitudeIndex is { } index)
        {
            writer.SFloat(index);
        }
    }
}
