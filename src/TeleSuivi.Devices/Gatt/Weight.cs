using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

/// <summary>Flags bit 0 of a weight measurement: SI (kilogram, metre) or imperial (pound, inch).</summary>
public enum WeightUnitSystem
{
    SI,
    Imperial,
}

/// <summary>0x2A9D Weight Measurement. Values are in the unit system's units at the resolution the scale transmits.</summary>
/// <param name="Weight">
/// Kilograms (resolution 0.005) or pounds (resolution 0.01); null when the scale reports "measurement unsuccessful".
/// </param>
public sealed record WeightMeasurement(WeightUnitSystem Units, decimal? Weight)
{
    public GattDateTime? TimeStamp { get; init; }

    /// <summary>The user of a multi-user scale; 0xFF means "unknown user".</summary>
    public byte? UserId { get; init; }

    /// <summary>Body mass index in kg/m², resolution 0.1; sent together with <see cref="Height"/> or not at all.</summary>
    public decimal? Bmi { get; init; }

    /// <summary>Metres (resolution 0.001) or inches (resolution 0.1); sent together with <see cref="Bmi"/> or not at all.</summary>
    public decimal? Height { get; init; }
}

internal static class WeightFormat
{
    private const byte ImperialFlag = 0x01;
    private const byte TimeStampFlag = 0x02;
    private const byte UserIdFlag = 0x04;
    private const byte BmiAndHeightFlag = 0x08;
    private const byte ReservedFlags = 0xF0;
    private const ushort MeasurementUnsuccessful = 0xFFFF;
    private const byte UnknownUser = 0xFF;

    // Each resolution as mantissa × 10^exponent, so raw × mantissa × 10^exponent is computed exactly.
    private static readonly Resolution SiWeight = new(5, -3);
    private static readonly Resolution ImperialWeight = new(1, -2);
    private static readonly Resolution BodyMassIndex = new(1, -1);
    private static readonly Resolution SiHeight = new(1, -3);
    private static readonly Resolution ImperialHeight = new(1, -1);

    private static readonly string Label = GattCharacteristics.Label(GattCharacteristics.WeightMeasurement);

    public static DecodeOutcome Decode(ReadOnlySpan<byte> payload, TimeZoneInfo zone) =>
        TryParse(payload, out var measurement, out var error) ? ToOutcome(measurement, zone) : DecodeOutcome.Failure(error);

    public static bool TryParse(ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out WeightMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        var reader = new GattReader(payload, Label);
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error)
            || !reader.TryTakeMandatory(2, "the weight", out var weightField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        var units = (flags & ImperialFlag) != 0 ? WeightUnitSystem.Imperial : WeightUnitSystem.SI;
        GattDateTime? timeStamp = null;
        if ((flags & TimeStampFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(GattDateTime.Size, "a time stamp", out var field, out error))
            {
                return false;
            }

            timeStamp = GattDateTime.Read(field);
        }

        byte? userId = null;
        if ((flags & UserIdFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(1, "a user ID", out var field, out error))
            {
                return false;
            }

            userId = field[0];
        }

        decimal? bmi = null;
        decimal? height = null;
        if ((flags & BmiAndHeightFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(2, "a BMI", out var bmiField, out error)
                || !reader.TryTakeAnnounced(2, "a height", out var heightField, out error))
            {
                return false;
            }

            bmi = BodyMassIndex.ToDecimal(GattReader.UInt16(bmiField));
            height = HeightResolution(units).ToDecimal(GattReader.UInt16(heightField));
        }

        if (!reader.CheckEnd(flags, ReservedFlags, out error))
        {
            return false;
        }

        var rawWeight = GattReader.UInt16(weightField);
        decimal? weight = rawWeight == MeasurementUnsuccessful ? null : WeightResolution(units).ToDecimal(rawWeight);
        measurement = new WeightMeasurement(units, weight) { TimeStamp = timeStamp, UserId = userId, Bmi = bmi, Height = height };
        return true;
    }

    public static byte[] Write(WeightMeasurement measurement)
    {
        if (measurement.Bmi is null != measurement.Height is null)
        {
            throw new ArgumentException("BMI and height share one flag: give both or neither", nameof(measurement));
        }

        var flags = (byte)((measurement.Units == WeightUnitSystem.Imperial ? ImperialFlag : 0)
            | (measurement.TimeStamp is null ? 0 : TimeStampFlag)
            | (measurement.UserId is null ? 0 : UserIdFlag)
            | (measurement.Bmi is null ? 0 : BmiAndHeightFlag));

        var writer = new GattWriter();
        writer.UInt8(flags);
        writer.UInt16(measurement.Weight is { } weight
            ? WeightResolution(measurement.Units).ToSteps(weight, MeasurementUnsuccessful - 1, nameof(measurement.Weight))
            : MeasurementUnsuccessful);
        if (measurement.TimeStamp is { } timeStamp)
        {
            writer.DateTime(timeStamp);
        }

        if (measurement.UserId is { } userId)
        {
            writer.UInt8(userId);
        }

        if (measurement.Bmi is { } bmi && measurement.Height is { } height)
        {
            writer.UInt16(BodyMassIndex.ToSteps(bmi, ushort.MaxValue, nameof(measurement.Bmi)));
            writer.UInt16(HeightResolution(measurement.Units).ToSteps(height, ushort.MaxValue, nameof(measurement.Height)));
        }

        return writer.ToArray();
    }

    public static DecodeOutcome ToOutcome(WeightMeasurement measurement, TimeZoneInfo zone)
    {
        if (!DeviceClock.TryResolve(measurement.TimeStamp ?? GattDateTime.Unknown, 0, zone, "the time stamp", out var time, out var problem))
        {
            return DecodeOutcome.Failure($"{Label}: {problem}");
        }

        var qualifiers = new QualifierSet();
        if (measurement.UserId is { } user and not UnknownUser)
        {
            qualifiers.Set(QualifierKeys.UserId, user);
        }

        var collector = new ReadingCollector(Label, time, qualifiers.Build());
        if (measurement.Weight is not { } weight)
        {
            // WSS: with "measurement unsuccessful" a scale sends no BMI or height; any it sends anyway rest on no weighing.
            collector.LeaveOut("weight is 0xFFFF (measurement unsuccessful)");
            return collector.ToOutcome();
        }

        var imperial = measurement.Units == WeightUnitSystem.Imperial;
        collector.AddValue(GattMeasures.BodyWeight, DecimalScaling.ToDouble(weight), imperial ? UcumUnits.Pound : UcumUnits.Kilogram);
        if (measurement.Bmi is { } bmi)
        {
            collector.AddValue(GattMeasures.BodyMassIndex, DecimalScaling.ToDouble(bmi), UcumUnits.KilogramPerSquareMetre);
        }

        if (measurement.Height is { } height)
        {
            collector.AddValue(GattMeasures.BodyHeight, DecimalScaling.ToDouble(height), imperial ? UcumUnits.Inch : UcumUnits.Metre);
        }

        return collector.ToOutcome();
    }

    private static Resolution WeightResolution(WeightUnitSystem units) => units == WeightUnitSystem.Imperial ? ImperialWeight : SiWeight;

    private static Resolution HeightResolution(WeightUnitSystem units) => units == WeightUnitSystem.Imperial ? ImperialHeight : SiHeight;

    private readonly record struct Resolution(int Mantissa, int Exponent)
    {
        public decimal ToDecimal(ushort raw)
        {
            DecimalScaling.TryToDecimal((long)raw * Mantissa, Exponent, out var value);
            return value;
        }

        public ushort ToSteps(decimal value, int maximum, string field)
        {
            var steps = decimal.Round(value / ToDecimal(1), MidpointRounding.AwayFromZero);
            if (steps < 0 || steps > maximum)
            {
                throw new ArgumentOutOfRangeException(field, value, $"{field} {value} is outside what the 16-bit field can carry at resolution {ToDecimal(1)}");
            }

            return (ushort)steps;
        }
    }
}
