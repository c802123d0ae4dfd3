using Hl7.Fhir.Model;

namespace TeleSuivi.Server.Storage;

/// <summary>How finely a trend is returned.</summary>
public enum TrendResolution
{
    /// <summary>Every reading: one point per Observation (mean = min = max = last = the value, count = 1).</summary>
    Raw,

    /// <summary>One point per UTC minute that holds readings.</summary>
    Minute,

    /// <summary>One point per UTC hour that holds readings.</summary>
    Hour,

    /// <summary>One point per UTC day (00:00 to 24:00 UTC) that holds readings.</summary>
    Day,
}

public static class TrendResolutions
{
    /// <summary>The bucket width in milliseconds; 0 for <see cref="TrendResolution.Raw"/>.</summary>
    public static long Milliseconds(this TrendResolution resolution) => resolution switch
    {
        TrendResolution.Raw => 0,
        TrendResolution.Minute => 60_000,
        TrendResolution.Hour => 3_600_000,
        TrendResolution.Day => 86_400_000,
        _ => throw new ArgumentOutOfRangeException(nameof(resolution), resolution, null),
    };
}

/// <summary>
/// One point of a trend: a bucket of readings (or one reading at <see cref="TrendResolution.Raw"/>).
/// </summary>
/// <param name="Time">
/// The start of the bucket, aligned on whole UTC minutes, hours or days since 1970 (so it may be before the window's
/// start when the window cuts a bucket: only the readings inside the window count); the reading's effective time to
/// the millisecond at <see cref="TrendResolution.Raw"/>.
/// </param>
/// <param name="Last">The value of the bucket's latest reading (ties within one millisecond: an order each store chooses).</param>
public readonly record struct TrendPoint(DateTimeOffset Time, double Mean, double Min, double Max, long Count, double Last);

/// <summary>The points of one numeric value of the Observations of a code, oldest first.</summary>
/// <param name="Component">
/// Null for the Observation's own value (<c>valueQuantity</c>, or <c>valueInteger</c> / <c>valueBoolean</c> as 1 or 0);
/// for a panel such as blood pressure, the code of the component's first coding (e.g. <c>8480-6</c> systolic).
/// </param>
public sealed record TrendSeries(string? Component, IReadOnlyList<TrendPoint> Points);

/// <summary>A subject's readings of one code over a window; one series per numeric value (the value, or each component).</summary>
/// <param name="Code"><c>system|code</c> of the first coding of <c>Observation.code</c>.</param>
public sealed record ObservationTrend(string Subject, string Code, TrendResolution Resolution, IReadOnlyList<TrendSeries> Series)
{
    /// <summary>The series of <paramref name="component"/> (null: the value itself), or null when there is none.</summary>
    public TrendSeries? Of(string? component) =>
        Series.FirstOrDefault(s => string.Equals(s.Component, component, StringComparison.Ordinal));
}

/// <summary>The latest reading of one code of one subject (for the nursing board).</summary>
/// <param name="Subject">The subject's reference, e.g. <c>Patient/123</c>.</param>
/// <param name="Code"><c>system|code</c> of the first coding of <c>Observation.code</c>.</param>
/// <param name="Time">The effective time, to the millisecond.</param>
/// <param name="Device">The device's reference, e.g. <c>Device/bp-1</c>, or null.</param>
/// <param name="Value">The Observation's own numeric value (see <see cref="TrendSeries.Component"/>), or null for a panel.</param>
/// <param name="Unit">The UCUM code (or the unit text without a code) of <c>valueQuantity</c>, or null.</param>
/// <param name="Components">The numeric component values by the code of the component's first coding (e.g. <c>8480-6</c>).</param>
public sealed record LatestReading(
    string Subject,
    string Code,
    DateTimeOffset Time,
    string ObservationId,
    string? Device,
    double? Value,
    string? Unit,
    IReadOnlyDictionary<string, double> Components);

/// <summary>How many readings of one code arrived on one day, against how many were expected.</summary>
public sealed record CodeCompleteness(string Code, int Received, int Expected)
{
    /// <summary>Received / expected, at most 1; 1 when nothing was expected.</summary>
    public double Ratio => Expected <= 0 ? 1 : Math.Min(1, (double)Received / Expected);
}

/// <summary>The completeness of one day, one entry per expected code (in the order they were given).</summary>
public sealed record DayCompleteness(DateOnly Day, IReadOnlyList<CodeCompleteness> Codes);

/// <summary>
/// Where a search page stops: the position of an Observation in the store's order (effective time, then id).
/// Opaque outside the store that gave it: <see cref="Position"/> is milliseconds on SQLite, nanoseconds on InfluxDB.
/// </summary>
public readonly record struct ObservationCursor(long Position, string Id);

/// <summary>
/// A search of one subject's Observations, in the order effective time then id (or the reverse), starting strictly
/// after <see cref="After"/> in that order.
/// </summary>
/// <param name="Subject">The subject's reference as written, e.g. <c>Patient/123</c> or <c>Location/75011</c>.</param>
/// <param name="Codes"><c>system|code</c> tokens of the first coding of <c>Observation.code</c> (any of them); empty for every code.</param>
/// <param name="From">The earliest effective time, included, to the millisecond.</param>
/// <param name="Through">The latest effective time, included, to the millisecond.</param>
/// <param name="Limit">At most this many Observations.</param>
public sealed record ObservationSearch(
    string Subject,
    IReadOnlyList<string> Codes,
    DateTimeOffset From,
    DateTimeOffset Through,
    bool Descending,
    ObservationCursor? After,
    int Limit);

/// <summary>An Observation found by a search, with the cursor that continues the search after it.</summary>
public sealed record ObservationMatch(Observation Observation, ObservationCursor Cursor);

/// <summary>One page of a search.</summary>
/// <param name="Total">How many Observations match the search as a whole (ignoring the cursor and the limit), when the store counts cheaply; otherwise null.</param>
public sealed record ObservationSearchResult(IReadOnlyList<ObservationMatch> Matches, long? Total);
