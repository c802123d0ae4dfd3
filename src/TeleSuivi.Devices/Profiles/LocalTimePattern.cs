namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// A profile's local-time pattern made only of fixed-width numeric fields (<c>yyyy MM dd HH mm ss</c>) and
/// separators, read digit by digit: <c>dd/MM/yyyy HH:mm</c>, <c>yyyy-MM-dd HH:mm:ss</c>, <c>yyyy-MM-dd</c>.
/// </summary>
/// <remarks>
/// Only a fast path for <see cref="DateTime.TryParseExact(string, string, IFormatProvider, System.Globalization.DateTimeStyles, out DateTime)"/>
/// with the invariant culture: a text of exactly the pattern's shape with every field in range gives the same
/// unspecified-kind DateTime. Patterns with other specifiers (d, M, fff, tt, quotes...) are not compiled, and a text
/// of any other shape (extra white space, one-digit fields, out-of-range values) returns false: the general parser
/// then decides, and words the error, as before.
/// </remarks>
internal sealed class LocalTimePattern
{
    private readonly Part[] parts;

    private LocalTimePattern(Part[] parts) => this.parts = parts;

    private enum Field
    {
        Literal,
        Year,
        Month,
        Day,
        Hour,
        Minute,
        Second,
    }

    public static LocalTimePattern? TryCompile(string? pattern)
    {
        if (pattern is null)
        {
            return null;
        }

        var parts = new List<Part>();
        var seen = new HashSet<Field>();
        for (var i = 0; i < pattern.Length;)
        {
            var c = pattern[i];
            var run = 1;
            while (i + run < pattern.Length && pattern[i + run] == c)
            {
                run++;
            }

            var field = (c, run) switch
            {
                ('y', 4) => Field.Year,
                ('M', 2) => Field.Month,
                ('d', 2) => Field.Day,
                ('H', 2) => Field.Hour,
                ('m', 2) => Field.Minute,
                ('s', 2) => Field.Second,
                _ => Field.Literal,
            };

            if (field == Field.Literal)
            {
                // Separators only: '/' and ':' are the invariant culture's date and time separators, '-', ' ', 'T', '.'
                // and ',' stand for themselves. Any other letter or a quote is a specifier this fast path does not read.
                if (c is not ('-' or '/' or ':' or ' ' or 'T' or '.' or ','))
                {
                    return null;
                }

                for (var k = 0; k < run; k++)
                {
                    parts.Add(new Part(Field.Literal, c));
                }
            }
            else if (!seen.Add(field))
            {
                return null;
            }
            else
            {
                parts.Add(new Part(field, '\0'));
            }

            i += run;
        }

        // Without a full date the general parser takes today's: not a shape for this fast path.
        return seen.Contains(Field.Year) && seen.Contains(Field.Month) && seen.Contains(Field.Day) ? new LocalTimePattern([.. parts]) : null;
    }

    public bool TryParse(ReadOnlySpan<char> text, out DateTime local)
    {
        local = default;
        int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
        var position = 0;
        foreach (var part in parts)
        {
            if (part.Field == Field.Literal)
            {
                if (position >= text.Length || text[position] != part.Literal)
                {
                    return false;
                }

                position++;
                continue;
            }

            var width = part.Field == Field.Year ? 4 : 2;
            if (position + width > text.Length)
            {
                return false;
            }

            var value = 0;
            for (var k = 0; k < width; k++)
            {
                var digit = text[position + k];
                if (!char.IsAsciiDigit(digit))
                {
                    return false;
                }

                value = (value * 10) + (digit - '0');
            }

            position += width;
            switch (part.Field)
            {
                case Field.Year:
                    year = value;
                    break;
                case Field.Month:
                    month = value;
                    break;
                case Field.Day:
                    day = value;
                    break;
                case Field.Hour:
                    hour = value;
                    break;
                case Field.Minute:
                    minute = value;
                    break;
                default:
                    second = value;
                    break;
            }
        }

        if (position != text.Length || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
        return true;
    }

    private readonly record struct Part(Field Field, char Literal);
}
