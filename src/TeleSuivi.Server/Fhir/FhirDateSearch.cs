using System.Globalization;
using System.Text.RegularExpressions;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// The <c>date</c> search parameter of Observation over its effective time (an instant to the millisecond; the start of
/// a period). Each value is a prefix (<c>eq</c> by default, <c>ge</c>, <c>le</c>, <c>gt</c>, <c>lt</c>) and a date of any
/// precision (<c>2026</c>, <c>2026-01</c>, <c>2026-01-15</c>, <c>2026-01-15T08:00</c>, <c>…:00</c>, <c>…:00.123</c>, with
/// <c>Z</c> or an offset; UTC when none), standing for the range it covers: <c>2026-01</c> is [2026-01-01, 2026-02-01).
/// Then, for an effective time t: <c>eq</c> L ≤ t &lt; U, <c>ge</c> t ≥ L, <c>gt</c> t ≥ U, <c>le</c> t &lt; U,
/// <c>lt</c> t &lt; L. Repeated values all apply (AND). <c>ne</c>, <c>sa</c>, <c>eb</c>, <c>ap</c> are refused.
/// </summary>
public static partial class FhirDateSearch
{
    /// <summary>The window of effective times, both ends included, to the millisecond, that every value allows.</summary>
    public static (DateTimeOffset From, DateTimeOffset Through) Window(IEnumerable<string> values)
    {
        var fromMs = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
        var throughMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();
        foreach (var raw in values)
        {
            // A '+' of an offset left unescaped in a query string arrives as a space.
            var value = raw.Replace(' ', '+');
            var match = DatePattern().Match(value);
            if (!match.Success)
            {
                throw FhirRequestException.BadParameter(
                    $"date '{raw}' is not valid: expected [eq|ge|gt|le|lt] followed by YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm]");
            }

            var prefix = match.Groups["prefix"].Success ? match.Groups["prefix"].Value : "eq";
            if (prefix is "ne" or "sa" or "eb" or "ap")
            {
                throw FhirRequestException.NotSupported($"date prefix '{prefix}' is not supported (eq, ge, gt, le, lt)");
            }

            var (lower, upper) = Range(match, raw);
            switch (prefix)
            {
                case "eq":
                    fromMs = Math.Max(fromMs, CeilingMilliseconds(lower));
                    throughMs = Math.Min(throughMs, CeilingMilliseconds(upper) - 1);
                    break;
                case "ge":
                    fromMs = Math.Max(fromMs, CeilingMilliseconds(lower));
                    break;
                case "gt":
                    fromMs = Math.Max(fromMs, CeilingMilliseconds(upper));
                    break;
                case "le":
                    throughMs = Math.Min(throughMs, CeilingMilliseconds(upper) - 1);
                    break;
                case "lt":
                    throughMs = Math.Min(throughMs, CeilingMilliseconds(lower) - 1);
                    break;
            }
        }

        var min = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
        var max = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();
        if (fromMs > throughMs)
        {
            return (DateTimeOffset.MaxValue, DateTimeOffset.MinValue); // nothing can match
        }

        return (DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(fromMs, min, max)), DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(throughMs, min, max)));
    }

    /// <summary>The range [lower, upper) a date of that precision covers.</summary>
    private static (DateTimeOffset Lower, DateTimeOffset Upper) Range(Match match, string raw)
    {
        int Part(string name, int otherwise) => match.Groups[name].Success ? int.Parse(match.Groups[name].ValueSpan, CultureInfo.InvariantCulture) : otherwise;
        try
        {
            var offset = TimeSpan.Zero;
            if (match.Groups["zone"].Success && match.Groups["zone"].Value != "Z")
            {
                var zone = match.Groups["zone"].Value;
                offset = new TimeSpan(int.Parse(zone.AsSpan(1, 2), CultureInfo.InvariantCulture), int.Parse(zone.AsSpan(4, 2), CultureInfo.InvariantCulture), 0);
                offset = zone[0] == '-' ? -offset : offset;
            }

            var lower = new DateTimeOffset(Part("year", 1), Part("month", 1), Part("day", 1), Part("hour", 0), Part("minute", 0), Part("second", 0), offset);
            var fraction = match.Groups["fraction"].Value;
            if (fraction.Length > 0)
            {
                var digits = fraction.Length > 7 ? fraction[..7] : fraction;
                lower = lower.AddTicks(long.Parse(digits.PadRight(7, '0'), CultureInfo.InvariantCulture));
            }

            var upper = fraction.Length > 0 ? Add(lower, l => l.AddTicks(fraction.Length >= 7 ? 1 : (long)Math.Pow(10, 7 - fraction.Length)))
                : match.Groups["second"].Success ? Add(lower, l => l.AddSeconds(1))
                : match.Groups["minute"].Success ? Add(lower, l => l.AddMinutes(1))
                : match.Groups["day"].Success ? Add(lower, l => l.AddDays(1))
                : match.Groups["month"].Success ? Add(lower, l => l.AddMonths(1))
                : Add(lower, l => l.AddYears(1));
            return (lower, upper);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw FhirRequestException.BadParameter($"date '{raw}' is not a real date or time");
        }
    }

    private static DateTimeOffset Add(DateTimeOffset value, Func<DateTimeOffset, DateTimeOffset> add)
    {
        try
        {
            return add(value);
        }
        catch (ArgumentOutOfRangeException)
        {
            return DateTimeOffset.MaxValue;
        }
    }

    private static long CeilingMilliseconds(DateTimeOffset time) =>
        time.UtcTicks > DateTimeOffset.MaxValue.UtcTicks - TimeSpan.TicksPerMillisecond
            ? DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() + 1
            : time.AddTicks(TimeSpan.TicksPerMillisecond - 1).ToUnixTimeMilliseconds();

    [GeneratedRegex(@"^(?<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?<year>\d{4})(-(?<month>\d{2})(-(?<day>\d{2})(T(?<hour>\d{2}):(?<minute>\d{2})(:(?<second>\d{2})(\.(?<fraction>\d{1,9}))?)?(?<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$")]
    private static partial Regex DatePattern();
}
