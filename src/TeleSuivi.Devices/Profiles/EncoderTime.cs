using System.Globalization;

namespace TeleSuivi.Devices.Profiles;

/// <summary>What a time becomes in a payload: a number (epoch) or text, the time-of-day and zone fields, and the time the decoder reads back.</summary>
internal readonly record struct WrittenTime(DateTimeOffset? ReadBack, decimal? Number, string? Text, string? TimeOfDay, string? ZoneId);

/// <summary>
/// Writes the time of a record in the profile's format, the inverse of the decoder's time reading: epoch seconds
/// (with milliseconds as decimals) or milliseconds, ISO-8601 with the offset, or the wall-clock time of a zone with
/// the profile's pattern, split between a date field and a time-of-day field when the profile has both.
/// </summary>
internal sealed class EncoderTime
{
    private static readonly TimeSpan[] Precisions =
        [TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), TimeSpan.FromDays(1)];

    private readonly string manufacturer;
    private readonly TimeRule rule;
    private readonly string? datePattern;
    private readonly string? timePattern;

    public EncoderTime(string manufacturer, TimeRule rule)
    {
        this.manufacturer = manufacturer;
        this.rule = rule;
        if (rule.Field is null)
        {
            Format = "none";
            return;
        }

        Format = rule.Format switch
        {
            TimeFormat.EpochSeconds => "epoch-s",
            TimeFormat.EpochMilliseconds => "epoch-ms",
            TimeFormat.Iso8601 => "iso-8601",
            _ => "local",
        };
        Precision = Precisions[0];
        if (rule.Format != TimeFormat.Local)
        {
            return;
        }

        if (rule.TimeOfDayField is not null && rule.Pattern is { } pattern)
        {
            if (SplitPattern(pattern) is not var (date, time))
            {
                Unusable = $"time.pattern '{pattern}' has no space between the date of time.field and the time of day of time.timeOfDayField";
                return;
            }

            (datePattern, timePattern) = (date, time);
        }

        // The precision is what survives writing and reading back two probe times with every component set.
        DateTime[] probes = [new(2026, 1, 15, 8, 30, 45, 678, DateTimeKind.Unspecified), new(2027, 11, 3, 17, 5, 9, 123, DateTimeKind.Unspecified)];
        var found = -1;
        foreach (var probe in probes)
        {
            var text = FormatLocal(probe, out var timeOfDay);
            var parsed = ParseLocal(text, timeOfDay);
            var index = parsed is { } value ? Array.FindIndex(Precisions, p => Truncate(probe, p) == value) : -1;
            if (index < 0 || (found >= 0 && index != found))
            {
                Unusable = $"a local time written with time.pattern '{rule.Pattern}' does not read back (e.g. {probe:yyyy-MM-dd HH:mm:ss.fff} gives '{text}{(timeOfDay is null ? string.Empty : " " + timeOfDay)}')";
                return;
            }

            found = index;
        }

        Precision = Precisions[found];
    }

    /// <summary>"epoch-s", "epoch-ms", "iso-8601", "local", or "none" when the payloads carry no time.</summary>
    public string Format { get; }

    /// <summary>The finest time the format keeps; zero when there is no time.</summary>
    public TimeSpan Precision { get; }

    /// <summary>The zone of every local time, when the profile fixes it.</summary>
    public TimeZoneInfo? Zone => rule.Zone;

    public bool ZoneInPayload => rule.ZoneField is not null;

    /// <summary>Why no time can be written with this profile, or null.</summary>
    public string? Unusable { get; }

    /// <summary>The values of the time fields, or throws when the format cannot represent <paramref name="time"/>.</summary>
    /// <param name="zone">The device's zone: written in a zone field, and used for the offset of ISO-8601 times.</param>
    public WrittenTime Write(DateTimeOffset time, TimeZoneInfo? zone)
    {
        if (rule.Field is null)
        {
            return default;
        }

        switch (rule.Format)
        {
            case TimeFormat.EpochSeconds:
                var milliseconds = time.ToUnixTimeMilliseconds();
                var seconds = milliseconds % 1000 == 0 ? milliseconds / 1000 : milliseconds / 1000m;
                return new WrittenTime(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds), seconds, null, null, null);

            case TimeFormat.EpochMilliseconds:
                var ms = time.ToUnixTimeMilliseconds();
                return new WrittenTime(DateTimeOffset.FromUnixTimeMilliseconds(ms), ms, null, null, null);

            case TimeFormat.Iso8601:
                var local = zone is null ? time : TimeZoneInfo.ConvertTime(time, zone);
                local = new DateTimeOffset(local.Ticks - (local.Ticks % TimeSpan.TicksPerMillisecond), local.Offset);
                var text = local.ToString(local.Millisecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss" : "yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture)
                    + (local.Offset == TimeSpan.Zero ? "Z" : local.ToString("zzz", CultureInfo.InvariantCulture));
                return new WrittenTime(local, null, text, null, null);

            default:
                return WriteLocal(time, rule.Zone ?? zone ?? DefaultZone);
        }
    }

    public static TimeZoneInfo DefaultZone => TimeZones.Find(ProfileEncoder.DefaultZoneId)!;

    private WrittenTime WriteLocal(DateTimeOffset time, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(time, zone).DateTime;
        var text = FormatLocal(local, out var timeOfDay);
        var parsed = ParseLocal(text, timeOfDay)
            ?? throw new ProfileEncodingException($"{manufacturer}: the local time '{text}' does not read back with time.pattern '{rule.Pattern}'");
        if (zone.IsInvalidTime(parsed))
        {
            throw new ProfileEncodingException(FormattableString.Invariant(
                $"{manufacturer}: {time:O} is written {parsed:yyyy-MM-dd HH:mm:ss} in {zone.Id}, a local time that does not exist (clocks go forward then)"));
        }

        // In the hour repeated when clocks go back the decoder takes the first occurrence: the second one cannot be written.
        var offset = zone.IsAmbiguousTime(parsed) ? zone.GetAmbiguousTimeOffsets(parsed).Max() : zone.GetUtcOffset(parsed);
        if (zone.IsAmbiguousTime(parsed) && offset != zone.GetUtcOffset(time))
        {
            throw new ProfileEncodingException(FormattableString.Invariant(
                $"{manufacturer}: {time:O} is {parsed:yyyy-MM-dd HH:mm:ss} in {zone.Id}, the second pass of the hour repeated when clocks go back; the profile's local time without offset reads it as the first pass, {offset - zone.GetUtcOffset(time)} earlier"));
        }

        return new WrittenTime(new DateTimeOffset(parsed, offset), null, text, timeOfDay, rule.ZoneField is null ? null : zone.Id);
    }

    private string FormatLocal(DateTime local, out string? timeOfDay)
    {
        timeOfDay = null;
        if (rule.Pattern is { } pattern)
        {
            if (rule.TimeOfDayField is null)
            {
                return local.ToString(pattern, CultureInfo.InvariantCulture);
            }

            timeOfDay = local.ToString(Custom(timePattern!), CultureInfo.InvariantCulture);
            return local.ToString(Custom(datePattern!), CultureInfo.InvariantCulture);
        }

        // Without a pattern the decoder reads ISO-like local times.
        var clock = local.Millisecond == 0 ? "HH:mm:ss" : "HH:mm:ss.fff";
        if (rule.TimeOfDayField is null)
        {
            return local.ToString("yyyy-MM-dd'T'" + clock, CultureInfo.InvariantCulture);
        }

        timeOfDay = local.ToString(clock, CultureInfo.InvariantCulture);
        return local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }

    /// <summary>As the decoder reads a local time: the time of day appended after a space, the pattern or ISO-like text, no offset.</summary>
    private DateTime? ParseLocal(string text, string? timeOfDay)
    {
        if (timeOfDay is not null)
        {
            text = text + " " + timeOfDay;
        }

        var parsedOk = rule.Pattern is { } pattern
            ? DateTime.TryParseExact(text, pattern, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out var local)
            : DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out local);
        return parsedOk && local.Kind == DateTimeKind.Unspecified ? local : null;
    }

    /// <summary>A one-letter part such as "d" would be a standard format: "%d" keeps it a custom one.</summary>
    private static string Custom(string pattern) => pattern.Length == 1 ? "%" + pattern : pattern;

    /// <summary>The pattern cut at its first space outside quotes: the date part and the time-of-day part.</summary>
    private static (string Date, string Time)? SplitPattern(string pattern)
    {
        char? quote = null;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (quote is { } open)
            {
                if (c == open)
                {
                    quote = null;
                }
            }
            else if (c == '\\')
            {
                i++;
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == ' ' && i > 0 && i < pattern.Length - 1)
            {
                return (pattern[..i], pattern[(i + 1)..]);
            }
        }

        return null;
    }

    private static DateTime Truncate(DateTime local, TimeSpan precision) =>
        new(local.Ticks - (local.Ticks % precision.Ticks), DateTimeKind.Unspecified);
}
