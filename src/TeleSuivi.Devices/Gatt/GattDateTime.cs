using System.Buffers.Binary;
using System.Globalization;

namespace TeleSuivi.Devices.Gatt;

/// <summary>
/// The Bluetooth Date Time (0x2A08) as a device sends it: a wall-clock time without time zone. A zero year, month or day
/// means "not known".
/// </summary>
public readonly record struct GattDateTime(ushort Year, byte Month, byte Day, byte Hours, byte Minutes, byte Seconds)
{
    public const int Size = 7;

    // GSS: years 1582 to 9999, 0 = not known; other years are reserved.
    private const int FirstYear = 1582;
    private const int LastYear = 9999;

    /// <summary>The all-zero value devices send when their clock has never been set.</summary>
    public static GattDateTime Unknown => default;

    public bool IsKnown => Year != 0 && Month != 0 && Day != 0;

    /// <summary>The wall-clock time of <paramref name="wallClock"/> to the second, ignoring its Kind.</summary>
    public static GattDateTime From(DateTime wallClock) =>
        new((ushort)wallClock.Year, (byte)wallClock.Month, (byte)wallClock.Day,
            (byte)wallClock.Hour, (byte)wallClock.Minute, (byte)wallClock.Second);

    /// <summary>The wall-clock time, if it is known and a real date and time.</summary>
    public bool TryToDateTime(out DateTime wallClock)
    {
        wallClock = default;
        if (!IsKnown || Year < FirstYear || Year > LastYear || Month > 12 || Day > DateTime.DaysInMonth(Year, Month)
            || Hours > 23 || Minutes > 59 || Seconds > 59)
        {
            return false;
        }

        wallClock = new DateTime(Year, Month, Day, Hours, Minutes, Seconds, DateTimeKind.Unspecified);
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Year:D4}-{Month:D2}-{Day:D2} {Hours:D2}:{Minutes:D2}:{Seconds:D2}");

    internal static GattDateTime Read(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt16LittleEndian(source), source[2], source[3], source[4], source[5], source[6]);

    internal void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Year);
        destination[2] = Month;
        destination[3] = Day;
        destination[4] = Hours;
        destination[5] = Minutes;
        destination[6] = Seconds;
    }
}
