namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// The common shape of an ISO-8601 time with a UTC offset, read without the general date parser: what devices send
/// nearly always (<c>2026-01-15T08:05:00+01:00</c>, <c>2026-01-15T07:05:00.250Z</c>).
/// </summary>
/// <remarks>
/// Only a fast path: it accepts exactly <c>yyyy-MM-ddTHH:mm[:ss[.f{1,7}]](Z|±HH:mm)</c> with every field in range and
/// answers what <see cref="DateTimeOffset.TryParse(string, IFormatProvider, System.Globalization.DateTimeStyles, out DateTimeOffset)"/>
/// answers for it. Anything else (another shape, a leap second, an offset beyond ±14:00, the years 1 and 9999 where
/// the offset may leave the DateTime range) returns false and goes through the general parser, which decides and
/// words the error.
/// </remarks>
internal static class Iso8601
{
    private const int MaxOffsetMinutes = 14 * 60;

    public static bool TryParseCanonical(string text, out DateTimeOffset result)
    {
        result = default;
        var span = text.AsSpan();

        // yyyy-MM-ddTHH:mm is 16 characters; the shortest offset, "Z", makes 17.
        if (span.Length < 17 || span[4] != '-' || span[7] != '-' || span[10] != 'T' || span[13] != ':'
            || !TryDigits(span[..4], out var year) || !TryDigits(span.Slice(5, 2), out var month)
            || !TryDigits(span.Slice(8, 2), out var day) || !TryDigits(span.Slice(11, 2), out var hour)
            || !TryDigits(span.Slice(14, 2), out var minute))
        {
            return false;
        }

        var position = 16;
        var second = 0;
        var fractionTicks = 0L;
        if (span[position] == ':')
        {
            if (span.Length < position + 4 || !TryDigits(span.Slice(position + 1, 2), out second))
            {
                return false;
            }

            position += 3;
            if (span[position] == '.')
            {
                position++;
                var digits = 0;
                while (position < span.Length && char.IsAsciiDigit(span[position]))
                {
                    if (++digits > 7)
                    {
                        return false;
                    }

                    fractionTicks = (fractionTicks * 10) + (span[position] - '0');
                    position++;
                }

                if (digits == 0)
                {
                    return false;
                }

                for (var scale = digits; scale < 7; scale++)
                {
                    fractionTicks *= 10;
                }
            }
        }

        if (!TryOffset(span[position..], out var offsetMinutes)
            || year is < 2 or > 9998 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        result = new DateTimeOffset(new DateTime(year, month, day, hour, minute, second).AddTicks(fractionTicks), TimeSpan.FromMinutes(offsetMinutes));
        return true;
    }

    /// <summary>"Z", or "+HH:mm" / "-HH:mm" within ±14:00, ending the text.</summary>
    private static bool TryOffset(ReadOnlySpan<char> span, out int minutes)
    {
        minutes = 0;
        if (span is ['Z'])
        {
            return true;
        }

        if (span.Length != 6 || span[0] is not ('+' or '-') || span[3] != ':'
            || !TryDigits(span.Slice(1, 2), out var hours) || !TryDigits(span.Slice(4, 2), out var mins) || mins > 59)
        {
            return false;
        }

        minutes = (hours * 60) + mins;
        if (minutes > MaxOffsetMinutes)
        {
            return false;
        }

        minutes = span[0] == '-' ? -minutes : minutes;
        return true;
    }

    private static bool TryDigits(ReadOnlySpan<char> span, out int value)
    {
        value = 0;
        foreach (var c in span)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
