using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Server.Storage;

/// <summary>What the read path of both stores shares: argument checks, day windows, and the assembly of trends from rows.</summary>
internal static class StoreReads
{
    /// <summary>The longest completeness report, in days.</summary>
    public const int MaxCompletenessDays = 366;

    /// <summary>The subject of a zone's environment Observations.</summary>
    public static string ZoneSubject(string zoneId)
    {
        ArgumentException.ThrowIfNullOrEmpty(zoneId);
        return "Location/" + zoneId;
    }

    public static void CheckSearch(ObservationSearch search)
    {
        ArgumentNullException.ThrowIfNull(search);
        ArgumentException.ThrowIfNullOrEmpty(search.Subject, nameof(search));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(search.Limit, nameof(search));
        if (search.Codes.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("a code of the search is empty", nameof(search));
        }
    }

    /// <summary>The day windows [start, end) of a completeness report, as UTC milliseconds.</summary>
    public static IReadOnlyList<(DateOnly Day, long StartMs, long EndMs)> DayWindows(DateOnly firstDay, DateOnly lastDay, TimeZoneInfo? timeZone)
    {
        if (lastDay < firstDay)
        {
            return [];
        }

        var count = lastDay.DayNumber - firstDay.DayNumber + 1;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCompletenessDays, nameof(lastDay));
        var zone = timeZone ?? TimeZoneInfo.Utc;
        var windows = new List<(DateOnly, long, long)>(count);
        for (var day = firstDay; day <= lastDay; day = day.AddDays(1))
        {
            windows.Add((day, StartOfDay(day, zone), StartOfDay(day.AddDays(1), zone)));
        }

        return windows;
    }

    /// <summary>The first instant of a local day (a midnight skipped by a clock change starts the day at the next valid time).</summary>
    private static long StartOfDay(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        for (var shift = 0; shift < 4 && zone.IsInvalidTime(local); shift++)
        {
            local = local.AddMinutes(30);
        }

        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero).ToUnixTimeMilliseconds();
    }

    public static IReadOnlyList<DayCompleteness> Completeness(
        IReadOnlyList<(DateOnly Day, long StartMs, long EndMs)> windows,
        IReadOnlyDictionary<string, int> expectedPerDay,
        IReadOnlyDictionary<(int Day, string Code), int> received) =>
        windows.Select((window, index) => new DayCompleteness(
                window.Day,
                expectedPerDay.Select(expected => new CodeCompleteness(expected.Key, received.GetValueOrDefault((index, expected.Key)), expected.Value)).ToList()))
            .ToList();

    /// <summary>The start of the bucket holding <paramref name="milliseconds"/>, aligned on multiples of the width since 1970 (floor, also before 1970).</summary>
    public static long BucketStart(long milliseconds, long width) => milliseconds - (((milliseconds % width) + width) % width);

    /// <summary>Groups rows of (code, field, point), in any order, into trends ordered by code, then value before components, then time.</summary>
    public static IReadOnlyList<ObservationTrend> Trends(string subject, TrendResolution resolution, IEnumerable<(string Code, string Field, TrendPoint Point)> rows)
    {
        var byCode = new SortedDictionary<string, SortedDictionary<string, List<TrendPoint>>>(StringComparer.Ordinal);
        foreach (var (code, field, point) in rows)
        {
            if (!byCode.TryGetValue(code, out var fields))
            {
                byCode[code] = fields = new SortedDictionary<string, List<TrendPoint>>(FieldOrder.Instance);
            }

            if (!fields.TryGetValue(field, out var points))
            {
                fields[field] = points = [];
            }

            points.Add(point);
        }

        return byCode.Select(code => new ObservationTrend(
                subject,
                code.Key,
                resolution,
                code.Value.Select(field => new TrendSeries(ComponentOf(field.Key), field.Value.OrderBy(p => p.Time).ToList())).ToList()))
            .ToList();
    }

    public static ObservationTrend SingleTrend(string subject, string code, TrendResolution resolution, IEnumerable<(string Code, string Field, TrendPoint Point)> rows) =>
        Trends(subject, resolution, rows) is [var trend, ..] ? trend : new ObservationTrend(subject, code, resolution, []);

    /// <summary>The latest reading of a series from its numbers: <c>value</c> as its value, the others as its components.</summary>
    public static LatestReading Latest(string subject, string code, long timeMs, string id, string? device, string? unit, IReadOnlyCollection<(string Field, double Value)> fields)
    {
        var value = fields.FirstOrDefault(f => f.Field == ObservationKeys.ValueField);
        return new LatestReading(
            subject, code, DateTimeOffset.FromUnixTimeMilliseconds(timeMs), id, device, value.Field is null ? null : value.Value, unit, Components(fields));
    }

    /// <summary>null for the value field, the component's code for a component field.</summary>
    public static string? ComponentOf(string field) =>
        field.StartsWith(ObservationKeys.ComponentFieldPrefix, StringComparison.Ordinal) ? field[ObservationKeys.ComponentFieldPrefix.Length..] : null;

    public static IReadOnlyDictionary<string, double> Components(IEnumerable<(string Field, double Value)> fields)
    {
        var components = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (field, value) in fields)
        {
            if (ComponentOf(field) is { } component)
            {
                components[component] = value;
            }
        }

        return components;
    }

    /// <summary>The value first, then the components in ordinal order.</summary>
    private sealed class FieldOrder : IComparer<string>
    {
        public static readonly FieldOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            var xValue = string.Equals(x, ObservationKeys.ValueField, StringComparison.Ordinal);
            var yValue = string.Equals(y, ObservationKeys.ValueField, StringComparison.Ordinal);
            return xValue == yValue ? string.CompareOrdinal(x, y) : xValue ? -1 : 1;
        }
    }
}
