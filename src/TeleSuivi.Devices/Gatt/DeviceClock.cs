using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

/// <summary>Places a device's zone-less wall-clock time on the time line, in the zone the caller says the device lives in.</summary>
internal static class DeviceClock
{
    /// <summary>
    /// The instant <paramref name="stamp"/> + <paramref name="offsetMinutes"/> denotes in <paramref name="zone"/>; null when
    /// the device does not know the time. A wall-clock time the autumn change shows twice is read with the zone's standard
    /// offset; one the spring change skips is read with the offset before the skip, as a clock that missed the change shows it.
    /// </summary>
    public static bool TryResolve(GattDateTime stamp, int offsetMinutes, TimeZoneInfo zone, string field,
        out DateTimeOffset? time, [NotNullWhen(false)] out string? problem)
    {
        time = null;
        problem = null;
        if (!stamp.IsKnown)
        {
            return true;
        }

        if (!stamp.TryToDateTime(out var wallClock))
        {
            problem = $"{field} {stamp} is not a valid date and time";
            return false;
        }

        var shiftedTicks = wallClock.Ticks + (offsetMinutes * TimeSpan.TicksPerMinute);
        if (shiftedTicks < DateTime.MinValue.Ticks || shiftedTicks > DateTime.MaxValue.Ticks)
        {
            problem = $"{field} {stamp} shifted by {offsetMinutes} minutes leaves the calendar";
            return false;
        }

        var shifted = new DateTime(shiftedTicks, DateTimeKind.Unspecified);
        var utcOffset = zone.GetUtcOffset(shifted);
        var utcTicks = shiftedTicks - utcOffset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            problem = $"{field} {stamp} in time zone {zone.Id} leaves the calendar";
            return false;
        }

        time = new DateTimeOffset(shifted, utcOffset);
        return true;
    }
}
