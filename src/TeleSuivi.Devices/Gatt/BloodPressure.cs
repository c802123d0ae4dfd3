using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

public enum PressureUnit
{
    MillimetreOfMercury,
    Kilopascal,
}

/// <summary>The Measurement Status field of the Blood Pressure Service, bit for bit.</summary>
[Flags]
public enum BloodPressureStatus
{
    None = 0,
    BodyMovement = 1 << 0,
    CuffTooLoose = 1 << 1,
    IrregularPulse = 1 << 2,

    /// <summary>Pulse Rate Range Detection = 1 (bits 3-4). Both range bits set is reserved and means nothing.</summary>
    PulseRateAboveRange = 1 << 3,

    /// <summary>Pulse Rate Range Detection = 2 (bits 3-4).</summary>
    PulseRateBelowRange = 1 << 4,

    ImproperMeasurementPosition = 1 << 5,
}

/// <summary>
/// The fields 0x2A35 Blood Pressure Measurement and 0x2A36 Intermediate Cuff Pressure share: after the three pressures,
/// each optional field is present when its flag is set, i.e. when the property here is not null.
/// </summary>
public abstract record BloodPressureMonitorValue(PressureUnit Unit)
{
    public GattDateTime? TimeStamp { get; init; }

    public Ieee11073Value? PulseRate { get; init; }

    /// <summary>The user of a multi-user monitor; 0xFF means "unknown user".</summary>
    public byte? UserId { get; init; }

    public BloodPressureStatus? Status { get; init; }
}

/// <summary>0x2A35 Blood Pressure Measurement: the result of a measurement.</summary>
public sealed record BloodPressureMeasurement(
    PressureUnit Unit, Ieee11073Value Systolic, Ieee11073Value Diastolic, Ieee11073Value MeanArterialPressure)
    : BloodPressureMonitorValue(Unit);

/// <summary>
/// 0x2A36 Intermediate Cuff Pressure: the cuff pressure while a measurement is under way, in the Systolic field; the
/// Diastolic and Mean Arterial Pressure fields are unused and sent as NaN.
/// </summary>
public sealed record IntermediateCuffPressure(PressureUnit Unit, Ieee11073Value CuffPressure)
    : BloodPressureMonitorValue(Unit);

internal static class BloodPressureFormat
{
    private const byte KilopascalFlag = 0x01;
    private const byte TimeStampFlag = 0x02;
    private const byte PulseRateFlag = 0x04;
    private const byte UserIdFlag = 0x08;
    private const byte StatusFlag = 0x10;
    private const byte ReservedFlags = 0xE0;
    private const byte UnknownUser = 0xFF;
    private const int PulseRateRangeShift = 3;

    private static readonly string MeasurementLabel = GattCharacteristics.Label(GattCharacteristics.BloodPressureMeasurement);
    private static readonly string CuffPressureLabel = GattCharacteristics.Label(GattCharacteristics.IntermediateCuffPressure);

    public static DecodeOutcome DecodeMeasurement(ReadOnlySpan<byte> payload, TimeZoneInfo zone) =>
        TryParseMeasurement(payload, out var measurement, out var error)
            ? ToOutcome(measurement, zone)
            : DecodeOutcome.Failure(error);

    public static DecodeOutcome DecodeIntermediateCuffPressure(ReadOnlySpan<byte> payload, TimeZoneInfo zone) =>
        TryParseIntermediateCuffPressure(payload, out var cuff, out var error)
            ? ToOutcome(cuff, zone)
            : DecodeOutcome.Failure(error);

    public static bool TryParseMeasurement(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out BloodPressureMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        if (!TryParse(payload, MeasurementLabel, "the systolic pressure", "the diastolic pressure",
                "the mean arterial pressure", out var fields, out error))
        {
            return false;
        }

        measurement = new BloodPressureMeasurement(fields.Unit, fields.First, fields.Second, fields.Third)
        {
            TimeStamp = fields.TimeStamp,
            PulseRate = fields.PulseRate,
            UserId = fields.UserId,
            Status = fields.Status,
        };
        return true;
    }

    public static bool TryParseIntermediateCuffPressure(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out IntermediateCuffPressure? cuff, [NotNullWhen(false)] out string? error)
    {
        cuff = null;
        if (!TryParse(payload, CuffPressureLabel, "the cuff pressure", "the unused diastolic field",
                "the unused mean arterial pressure field", out var fields, out error))
        {
            return false;
        }

        cuff = new IntermediateCuffPressure(fields.Unit, fields.First)
        {
            TimeStamp = fields.TimeStamp,
            PulseRate = fields.PulseRate,
            UserId = fields.UserId,
            Status = fields.Status,
        };
        return true;
    }

    public static byte[] Write(BloodPressureMeasurement measurement) =>
        Write(measurement, measurement.Systolic, measurement.Diastolic, measurement.MeanArterialPressure);

    public static byte[] Write(IntermediateCuffPressure cuff) =>
        Write(cuff, cuff.CuffPressure, Ieee11073Value.NaN, Ieee11073Value.NaN);

    public static DecodeOutcome ToOutcome(BloodPressureMeasurement measurement, TimeZoneInfo zone)
    {
        if (!TryStartCollecting(MeasurementLabel, measurement, measurementOngoing: false, zone, out var collector, out var error))
        {
            return DecodeOutcome.Failure(error);
        }

        var unit = UcumUnit(measurement.Unit);
        var panel = new List<DecodedValue>(3);
        collector.AddComponent(panel, GattMeasures.SystolicPressure, "systolic pressure", measurement.Systolic, unit);
        collector.AddComponent(panel, GattMeasures.DiastolicPressure, "diastolic pressure", measurement.Diastolic, unit);
        collector.AddComponent(panel, GattMeasures.MeanArterialPressure, "mean arterial pressure", measurement.MeanArterialPressure, unit);
        collector.AddPanel(GattMeasures.BloodPressure, panel);
        AddPulseRate(collector, measurement);
        return collector.ToOutcome();
    }

    public static DecodeOutcome ToOutcome(IntermediateCuffPressure cuff, TimeZoneInfo zone)
    {
        if (!TryStartCollecting(CuffPressureLabel, cuff, measurementOngoing: true, zone, out var collector, out var error))
        {
            return DecodeOutcome.Failure(error);
        }

        collector.AddValue(GattMeasures.CuffPressure, "cuff pressure", cuff.CuffPressure, UcumUnit(cuff.Unit));
        AddPulseRate(collector, cuff);
        return collector.ToOutcome();
    }

    private static string UcumUnit(PressureUnit unit) =>
        unit == PressureUnit.Kilopascal ? UcumUnits.Kilopascal : UcumUnits.MillimetreOfMercury;

    private static void AddPulseRate(ReadingCollector collector, BloodPressureMonitorValue value)
    {
        if (value.PulseRate is { } pulseRate)
        {
            collector.AddValue(GattMeasures.HeartRate, "pulse rate", pulseRate, UcumUnits.PerMinute);
        }
    }

    /// <param name="measurementOngoing">
    /// True for an intermediate value: the PLX status flag of the same name lets alerting and trends tell it from a result.
    /// </param>
    private static bool TryStartCollecting(string label, BloodPressureMonitorValue value, bool measurementOngoing, TimeZoneInfo zone,
        [NotNullWhen(true)] out ReadingCollector? collector, [NotNullWhen(false)] out string? error)
    {
        collector = null;
        error = null;
        if (!DeviceClock.TryResolve(value.TimeStamp ?? GattDateTime.Unknown, 0, zone, "the time stamp", out var time, out var problem))
        {
            error = $"{label}: {problem}";
            return false;
        }

        var qualifiers = new QualifierSet();
        if (measurementOngoing)
        {
            qualifiers.AddDeviceStatus(GattMeasures.MeasurementOngoing);
        }

        if (value.UserId is { } user and not UnknownUser)
        {
            qualifiers.Set(QualifierKeys.UserId, user);
        }

        if (value.Status is { } status)
        {
            AddDeviceStatus(qualifiers, status);
        }

        collector = new ReadingCollector(label, time, qualifiers.Build());
        return true;
    }

    private static void AddDeviceStatus(QualifierSet qualifiers, BloodPressureStatus status)
    {
        if (status.HasFlag(BloodPressureStatus.BodyMovement))
        {
            qualifiers.AddDeviceStatus("body-movement");
        }

        if (status.HasFlag(BloodPressureStatus.CuffTooLoose))
        {
            qualifiers.AddDeviceStatus("cuff-loose");
        }

        if (status.HasFlag(BloodPressureStatus.IrregularPulse))
        {
            qualifiers.AddDeviceStatus("irregular-pulse");
        }

        // The two range bits form one field: 1 above, 2 below, 3 reserved.
        switch (((int)status >> PulseRateRangeShift) & 0b11)
        {
            case 1:
                qualifiers.AddDeviceStatus("pulse-rate-above-range");
                break;
            case 2:
                qualifiers.AddDeviceStatus("pulse-rate-below-range");
                break;
        }

        if (status.HasFlag(BloodPressureStatus.ImproperMeasurementPosition))
        {
            qualifiers.AddDeviceStatus("improper-measurement-position");
        }
    }

    private readonly record struct Fields(
        PressureUnit Unit, Ieee11073Value First, Ieee11073Value Second, Ieee11073Value Third,
        GattDateTime? TimeStamp, Ieee11073Value? PulseRate, byte? UserId, BloodPressureStatus? Status);

    private static bool TryParse(ReadOnlySpan<byte> payload, string label, string first, string second, string third,
        out Fields fields, [NotNullWhen(false)] out string? error)
    {
        fields = default;
        var reader = new GattReader(payload, label);
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error)
            || !reader.TryTakeMandatory(Ieee11073.SFloatSize, first, out var firstField, out error)
            || !reader.TryTakeMandatory(Ieee11073.SFloatSize, second, out var secondField, out error)
            || !reader.TryTakeMandatory(Ieee11073.SFloatSize, third, out var thirdField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        GattDateTime? timeStamp = null;
        Ieee11073Value? pulseRate = null;
        byte? userId = null;
        BloodPressureStatus? status = null;

        if ((flags & TimeStampFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(GattDateTime.Size, "a time stamp", out var field, out error))
            {
                return false;
            }

            timeStamp = GattDateTime.Read(field);
        }

        if ((flags & PulseRateFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(Ieee11073.SFloatSize, "a pulse rate", out var field, out error))
            {
                return false;
            }

            pulseRate = Ieee11073.ReadSFloat(field);
        }

        if ((flags & UserIdFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(1, "a user ID", out var field, out error))
            {
                return false;
            }

            userId = field[0];
        }

        if ((flags & StatusFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(2, "a measurement status", out var field, out error))
            {
                return false;
            }

            status = (BloodPressureStatus)GattReader.UInt16(field);
        }

        if (!reader.CheckEnd(flags, ReservedFlags, out error))
        {
            return false;
        }

        var unit = (flags & KilopascalFlag) != 0 ? PressureUnit.Kilopascal : PressureUnit.MillimetreOfMercury;
        fields = new Fields(unit, Ieee11073.ReadSFloat(firstField), Ieee11073.ReadSFloat(secondField),
            Ieee11073.ReadSFloat(thirdField), timeStamp, pulseRate, userId, status);
        return true;
    }

    private static byte[] Write(BloodPressureMonitorValue value, Ieee11073Value first, Ieee11073Value second, Ieee11073Value third)
    {
        var flags = (byte)((value.Unit == PressureUnit.Kilopascal ? KilopascalFlag : 0)
            | (value.TimeStamp is null ? 0 : TimeStampFlag)
            | (value.PulseRate is null ? 0 : PulseRateFlag)
            | (value.UserId is null ? 0 : UserIdFlag)
            | (value.Status is null ? 0 : StatusFlag));

        var writer = new GattWriter();
        writer.UInt8(flags);
        writer.SFloat(first);
        writer.SFloat(second);
        writer.SFloat(third);
        if (value.TimeStamp is { } timeStamp)
        {
            writer.DateTime(timeStamp);
        }

        if (value.PulseRate is { } pulseRate)
        {
            writer.SFloat(pulseRate);
        }

        if (value.UserId is { } userId)
        {
            writer.UInt8(userId);
        }

        if (value.Status is { } status)
        {
            writer.UInt16(checked((ushort)status));
        }

        return writer.ToArray();
    }
}
