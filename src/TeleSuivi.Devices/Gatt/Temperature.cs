using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

public enum TemperatureUnit
{
    Celsius,
    Fahrenheit,
}

/// <summary>The Temperature Type characteristic (0x2A1D): where the thermometer measured. 0 and 10-255 are reserved.</summary>
public enum TemperatureType
{
    Armpit = 1,
    Body = 2,

    /// <summary>Usually the earlobe.</summary>
    Ear = 3,
    Finger = 4,
    GastrointestinalTract = 5,
    Mouth = 6,
    Rectum = 7,
    Toe = 8,

    /// <summary>The ear drum.</summary>
    Tympanum = 9,
}

/// <summary>0x2A1C Temperature Measurement, and 0x2A1E Intermediate Temperature which has the same fields.</summary>
public sealed record TemperatureMeasurement(TemperatureUnit Unit, Ieee11073Value Temperature)
{
    public GattDateTime? TimeStamp { get; init; }

    public TemperatureType? Type { get; init; }
}

internal static class TemperatureFormat
{
    private const byte FahrenheitFlag = 0x01;
    private const byte TimeStampFlag = 0x02;
    private const byte TemperatureTypeFlag = 0x04;
    private const byte ReservedFlags = 0xF8;

    /// <summary>
    /// An intermediate temperature is read while the thermometer settles: still a body temperature, so the same reading
    /// as a final one, marked "measurement-ongoing" so that trends and alerts can tell it from the result.
    /// </summary>
    public static DecodeOutcome Decode(ushort uuid, ReadOnlySpan<byte> payload, TimeZoneInfo zone) =>
        TryParse(uuid, payload, out var measurement, out var error) ? ToOutcome(uuid, measurement, zone) : DecodeOutcome.Failure(error);

    public static bool TryParse(ushort uuid, ReadOnlySpan<byte> payload,
        [NotNullWhen(true)] out TemperatureMeasurement? measurement, [NotNullWhen(false)] out string? error)
    {
        measurement = null;
        var reader = new GattReader(payload, GattCharacteristics.Label(uuid));
        if (!reader.TryTakeMandatory(1, "the flags field", out var flagsField, out error)
            || !reader.TryTakeMandatory(Ieee11073.FloatSize, "the temperature", out var temperatureField, out error))
        {
            return false;
        }

        var flags = flagsField[0];
        GattDateTime? timeStamp = null;
        if ((flags & TimeStampFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(GattDateTime.Size, "a time stamp", out var field, out error))
            {
                return false;
            }

            timeStamp = GattDateTime.Read(field);
        }

        TemperatureType? type = null;
        if ((flags & TemperatureTypeFlag) != 0)
        {
            if (!reader.TryTakeAnnounced(1, "a temperature type", out var field, out error))
            {
                return false;
            }

            type = (TemperatureType)field[0];
        }

        if (!reader.CheckEnd(flags, ReservedFlags, out error))
        {
            return false;
        }

        var unit = (flags & FahrenheitFlag) != 0 ? TemperatureUnit.Fahrenheit : TemperatureUnit.Celsius;
        measurement = new TemperatureMeasurement(unit, Ieee11073.ReadFloat(temperatureField)) { TimeStamp = timeStamp, Type = type };
        return true;
    }

    public static byte[] Write(TemperatureMeasurement measurement)
    {
        var flags = (byte)((measurement.Unit == TemperatureUnit.Fahrenheit ? FahrenheitFlag : 0)
            | (measurement.TimeStamp is null ? 0 : TimeStampFlag)
            | (measurement.Type is null ? 0 : TemperatureTypeFlag));

        var writer = new GattWriter();
        writer.UInt8(flags);
        writer.Float(measurement.Temperature);
        if (measurement.TimeStamp is { } timeStamp)
        {
            writer.DateTime(timeStamp);
        }

        if (measurement.Type is { } type)
        {
            writer.UInt8(checked((byte)type));
        }

        return writer.ToArray();
    }

    public static DecodeOutcome ToOutcome(ushort uuid, TemperatureMeasurement measurement, TimeZoneInfo zone)
    {
        var label = GattCharacteristics.Label(uuid);
        if (!DeviceClock.TryResolve(measurement.TimeStamp ?? GattDateTime.Unknown, 0, zone, "the time stamp", out var time, out var problem))
        {
            return DecodeOutcome.Failure($"{label}: {problem}");
        }

        var qualifiers = new QualifierSet();
        if (uuid == GattCharacteristics.IntermediateTemperature)
        {
            qualifiers.AddDeviceStatus(GattMeasures.MeasurementOngoing);
        }

        if (BodySite(measurement.Type) is { } site)
        {
            qualifiers.Set(QualifierKeys.BodySite, site);
        }

        var collector = new ReadingCollector(label, time, qualifiers.Build());
        var unit = measurement.Unit == TemperatureUnit.Fahrenheit ? UcumUnits.Fahrenheit : UcumUnits.Celsius;
        collector.AddValue(GattMeasures.BodyTemperature, "temperature", measurement.Temperature, unit);
        return collector.ToOutcome();
    }

    private static string? BodySite(TemperatureType? type) => type switch
    {
        TemperatureType.Armpit => "armpit",
        TemperatureType.Body => "body",
        TemperatureType.Ear => "ear",
        TemperatureType.Finger => "finger",
        TemperatureType.GastrointestinalTract => "gastrointestinal-tract",
        TemperatureType.Mouth => "mouth",
        TemperatureType.Rectum => "rectum",
        TemperatureType.Toe => "toe",
        TemperatureType.Tympanum => "tympanum",
        _ => null,
    };
}
