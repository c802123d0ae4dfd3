using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

/// <summary>Flags bit 2 of a glucose measurement: the unit of the concentration.</summary>
public enum GlucoseConcentrationUnit
{
    KilogramPerLitre,
    MolePerLitre,
}

/// <summary>The Type nibble (low 4 bits) of the Type-Sample Location field; 0 and 11-15 are reserved.</summary>
public enum GlucoseSampleType
{
    CapillaryWholeBlood = 1,
    CapillaryPlasma = 2,
    VenousWholeBlood = 3,
    VenousPlasma = 4,
    ArterialWholeBlood = 5,
    ArterialPlasma = 6,
    UndeterminedWholeBlood = 7,
    UndeterminedPlasma = 8,
    InterstitialFluid = 9,
    ControlSolution = 10,
}

/// <summary>The Sample Location nibble (high 4 bits) of the Type-Sample Location field; 0 and 5-14 are reserved.</summary>
public enum GlucoseSampleLocation
{
    Finger = 1,
    AlternateSiteTest = 2,
    Earlobe = 3,
    ControlSolution = 4,
    NotAvailable = 15,
}

/// <summary>The Sensor Status Annunciation field of the Glucose Service; bits 12-15 are reserved.</summary>
[Flags]
public enum GlucoseSensorStatus
{
    None = 0,
    DeviceBatteryLow = 1 << 0,
    SensorMalfunction = 1 << 1,
    SampleSizeInsufficient = 1 << 2,
    StripInsertionError = 1 << 3,
    StripTypeIncorrect = 1 << 4,
    ResultHigherThanDeviceCanProcess = 1 << 5,
    ResultLowerThanDeviceCanProcess = 1 << 6,
    SensorTemperatureTooHigh = 1 << 7,
    SensorTemperatureTooLow = 1 << 8,
    SensorReadInterrupted = 1 << 9,
    GeneralDeviceFault = 1 << 10,
    TimeFault = 1 << 11,
}

/// <summary>The Glucose Concentration and Type-Sample Location fields, which one flag announces together.</summary>
public readonly record struct GlucoseSample(Ieee11073Value Concentration, GlucoseSampleType Type, GlucoseSampleLocation Location);

/// <summary>0x2A18 Glucose Measurement.</summary>
/// <param name="BaseTime">When the meter's clock said the sample was taken, before <see cref="TimeOffset"/>.</param>
public sealed record GlucoseMeasurement(ushort SequenceNumber, GattDateTime BaseTime)
{
    /// <summary>Minutes to add to the base time to get the time the user saw (after a time zone or daylight-saving change).</summary>
    public short? TimeOffset { get; init; }

    /// <summary>The unit of <see cref="GlucoseSample.Concentration"/>: flags bit 2, sent even when there is no sample.</summary>
    public GlucoseConcentrationUnit Unit { get; init; }

    public GlucoseSample? Sample { get; init; }

    public GlucoseSensorStatus? SensorStatus { get; init; }

    /// <summary>Flags bit 4: a Glucose Measurement Context (0x2A34) with the same sequence number follows.</summary>
    public bool ContextInformationFollows { get; init; }
}

internal static class GlucoseFormat
{
    private const byte TimeOffsetFlag = 0x01;
    private const byte SampleFlag = 0x02;
    private const byte MolePerLitreFlag = 0x04;
    private const byte SensorStatusFlag = 0x08;
    private const byte ContextInformationFollowsFlag = 0x10;
    private const byte ReservedFlags = 0xE0;
    private const int Nibble = 0x0F;

    private static readonly string Label = GattCharacteristics.Label(GattCharacteristics.GlucoseMeasurement);

    private static readonly (GlucoseSensorStatus Flag, string Name)[] SensorStatusNames =
    [
        (GlucoseSensorStatus.DeviceBatteryLow, "battery-low"),
        (GlucoseSensorStatus.SensorMalfunction, "sensor-malfunction"),
        (GlucoseSensorStatus.SampleSizeInsufficient, "sample-size-insufficient"),
        (GlucoseSensorStatus.StripInsertionError, "strip-insertion-error"),
        (GlucoseSensorStatus.StripTypeIncorrect, "strip-type-incorrect"),
        (GlucoseSensorStatus.ResultHigherThanDeviceCanProcess, "result-above-device-range"),
        (GlucoseSensorStatus.ResultLowerThanDeviceCanProcess, "result-below-device-range"),
        (GlucoseSensorStatus.SensorTemperatureTooHigh, "sensor-temperature-too-high"),
        (GlucoseSensorStatus.SensorTemperatureTooLow, "sensor-temperature-too-low"),
        (GlucoseSensorStatus.SensorReadInterrupted, "sensor-read-interrupted"),
        (GlucoseSensorStatus.GeneralDeviceFault, "general-device-fault"),
        (GlucoseSensorStatus.TimeFault, "time-fault"),
    ];

    public static DecodeOutcome Decode(ReadOnlySpan<byte> payload, TimeZoneInfo zone) =>
        TryParse(payload, out var measurement, out var error) ? ToOutcome(measurement, zone) : DecodeOutcome.Failure(error);

    public static bool TryParse(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out GlucoseMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        var reader = new GattReader(payload, Label);
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error)
            || !reader.TryTakeMandatory(2, "the sequence number", out var sequenceField, out error)
            || !reader.TryTakeMandatory(GattDateTime.Size, "the base time", out var baseTimeField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        short? timeOffset = null;
        if ((flags & TimeOffsetFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(2, "a time offset", out var field, out error))
            {
                return false;
            }

            timeOffset = (short)GattReader.UInt16(field);
        }

        GlucoseSample? sample = null;
        if ((flags & SampleFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(Ieee11073.SFloatSize, "a glucose concentration", out var concentrationField, out error)
                || !reader.TryTakeAnnounced(1, "a type and sample location", out var typeLocationField, out error))
            {
                return false;
            }

            var typeAndLocation = typeLocationField[0];
            sample = new GlucoseSample(Ieee11073.ReadSFloat(concentrationField),
                (GlucoseSampleType)(typeAndLocation & Nibble), (GlucoseSampleLocation)(typeAndLocation >> 4));
        }

        GlucoseSensorStatus? sensorStatus = null;
        if ((flags & SensorStatusFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(2, "a sensor status annunciation", out var field, out error))
            {
                return false;
            }

            sensorStatus = (GlucoseSensorStatus)GattReader.UInt16(field);
        }

        if (!reader.CheckEnd(flags, ReservedFlags, out error))
        {
            return false;
        }

        measurement = new GlucoseMeasurement(GattReader.UInt16(sequenceField), GattDateTime.Read(baseTimeField))
        {
            TimeOffset = timeOffset,
            Unit = (flags & MolePerLitreFlag) != 0 ? GlucoseConcentrationUnit.MolePerLitre : GlucoseConcentrationUnit.KilogramPerLitre,
            Sample = sample,
            SensorStatus = sensorStatus,
            ContextInformationFollows = (flags & ContextInformationFollowsFlag) != 0,
        };
        return true;
    }

    public static byte[] Write(GlucoseMeasurement measurement)
    {
        var flags = (byte)((measurement.TimeOffset is null ? 0 : TimeOffsetFlag)
            | (measurement.Sample is null ? 0 : SampleFlag)
            | (measurement.Unit == GlucoseConcentrationUnit.MolePerLitre ? MolePerLitreFlag : 0)
            | (measurement.SensorStatus is null ? 0 : SensorStatusFlag)
            | (measurement.ContextInformationFollows ? ContextInformationFollowsFlag : 0));

        var writer = new GattWriter();
        writer.UInt8(flags);
        writer.UInt16(measurement.SequenceNumber);
        writer.DateTime(measurement.BaseTime);
        if (measurement.TimeOffset is { } timeOffset)
        {
            writer.Int16(timeOffset);
        }

        if (measurement.Sample is { } sample)
        {
            if ((int)sample.Type is < 0 or > Nibble || (int)sample.Location is < 0 or > Nibble)
            {
                throw new ArgumentOutOfRangeException(nameof(measurement), sample, "the sample type and location are 4-bit values");
            }

            writer.SFloat(sample.Concentration);
            writer.UInt8((byte)((int)sample.Type | ((int)sample.Location << 4)));
        }

        if (measurement.SensorStatus is { } sensorStatus)
        {
            writer.UInt16(checked((ushort)sensorStatus));
        }

        return writer.ToArray();
    }

    public static DecodeOutcome ToOutcome(GlucoseMeasurement measurement, TimeZoneInfo zone)
    {
        // The user-facing time is base time + offset, and that is the wall clock of the zone the device lives in.
        if (!DeviceClock.TryResolve(measurement.BaseTime, measurement.TimeOffset ?? 0, zone, "the base time", out var time, out var problem))
        {
            return DecodeOutcome.Failure($"{Label}: {problem}");
        }

        if (measurement.Sample is not { } sample)
        {
            return DecodeOutcome.Failure($"{Label}: glucose concentration is absent (flags bit 1 is clear): no measurement");
        }

        var qualifiers = new QualifierSet();
        qualifiers.Set(QualifierKeys.SequenceNumber, measurement.SequenceNumber);
        if (Specimen(sample) is { } specimen)
        {
            qualifiers.Set(QualifierKeys.Specimen, specimen);
        }

        if (BodySite(sample.Location) is { } site)
        {
            qualifiers.Set(QualifierKeys.BodySite, site);
        }

        foreach (var (flag, name) in SensorStatusNames)
        {
            if (measurement.SensorStatus is { } status && status.HasFlag(flag))
            {
                qualifiers.AddDeviceStatus(name);
            }
        }

        var collector = new ReadingCollector(Label, time, qualifiers.Build());
        var unit = measurement.Unit == GlucoseConcentrationUnit.MolePerLitre ? UcumUnits.MolePerLitre : UcumUnits.KilogramPerLitre;
        collector.AddValue(GattMeasures.Glucose, "glucose concentration", sample.Concentration, unit);
        return collector.ToOutcome();
    }

    // A control-solution test checks the meter, not the patient: either nibble saying so must reach the specimen.
    private static string? Specimen(GlucoseSample sample) => sample.Location == GlucoseSampleLocation.ControlSolution
        ? "control-solution"
        : sample.Type switch
        {
            GlucoseSampleType.CapillaryWholeBlood => "capillary-whole-blood",
            GlucoseSampleType.CapillaryPlasma => "capillary-plasma",
            GlucoseSampleType.VenousWholeBlood => "venous-whole-blood",
            GlucoseSampleType.VenousPlasma => "venous-plasma",
            GlucoseSampleType.ArterialWholeBlood => "arterial-whole-blood",
            GlucoseSampleType.ArterialPlasma => "arterial-plasma",
            GlucoseSampleType.UndeterminedWholeBlood => "undetermined-whole-blood",
            GlucoseSampleType.UndeterminedPlasma => "undetermined-plasma",
            GlucoseSampleType.InterstitialFluid => "interstitial-fluid",
            GlucoseSampleType.ControlSolution => "control-solution",
            _ => null,
        };

    private static string? BodySite(GlucoseSampleLocation location) => location switch
    {
        GlucoseSampleLocation.Finger => "finger",
        GlucoseSampleLocation.AlternateSiteTest => "alternate-site",
        GlucoseSampleLocation.Earlobe => "ear",
        _ => null,
    };
}
