using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// Hourly roll-ups of each (patient, code) series, kept exactly consistent with the readings without a single writer
/// (SCHEMA.md, "Hourly roll-ups"). Every write of readings is followed, once InfluxDB has taken them, by a change mark
/// per (subject, code, UTC hour) it touched, carrying a random stamp for that write. A roll-up records the stamp of the
/// mark it was computed under; it is used only while the mark still has that stamp, so any later write to that hour
/// (late data, a corrected Observation, another ingest worker) makes it stale and the hour is read raw again.
/// Roll-ups are computed by the trend reads themselves, for closed hours only, and written back for the next read.
/// </summary>
public sealed partial class InfluxObservationStore
{
    /// <summary>Tags <c>code</c>, <c>patient</c>; field <c>stamp</c>; time: the start of the UTC hour a write touched.</summary>
    public const string ChangeMeasurement = "observation_change";

    /// <summary>Tags <c>code</c>, <c>patient</c>; fields <c>stamp</c> and <c>sum_</c>, <c>min_</c>, <c>max_</c>, <c>count_</c>, <c>last_</c> of each numeric field; time: the hour's start.</summary>
    public const string HourlyMeasurement = "observation_hourly";

    internal const string StampField = "stamp";

    private const long HourMilliseconds = 3_600_000;

    private const string Sum = "sum";

    private static readonly string ChangeMeasurementName = InfluxQl.QuoteIdentifier(ChangeMeasurement);
    private static readonly string HourlyMeasurementName = InfluxQl.QuoteIdentifier(HourlyMeasurement);
    private static readonly string StampFieldName = InfluxQl.QuoteIdentifier(StampField);

    /// <summary>
    /// How long after its end an hour may be rolled up: more than twice the clock difference between two hosts of the
    /// platform (a writer that skips the mark of an hour it thinks still open must have stored its readings before any
    /// reader thinks the hour closed).
    /// </summary>
    internal static readonly TimeSpan RollupDelay = TimeSpan.FromMinutes(1);

    /// <summary>The still open hours this process has marked since it started: further writes to them need no mark.</summary>
    private readonly ConcurrentDictionary<(string Subject, string Code, long Hour), bool> markedOpenHours = new();

    private long markedOpenHoursPrunedAt;

    /// <summary>The aggregates of the numeric fields every trend query asks for (the mean is the sum over the count, as InfluxDB's own).</summary>
    private static readonly string Aggregates = string.Join(", ", new[] { Sum, Minimum, Maximum, Count, Last }.Select(f => $"{f}({NumericFields})"));

    /// <summary>
    /// Marks the (subject, code, hour) of each Observation as changed, with one new stamp. Sent only after InfluxDB
    /// acknowledged the readings themselves: a reader that sees the new stamp is sure to see the readings too. An hour
    /// that has not ended yet is marked once per process: it is rolled up only <see cref="RollupDelay"/> after its end,
    /// by which time every write this process made to it while it was open is stored, and a write after its end marks
    /// it again. Live ingestion thus sends marks about once an hour per series, backlogs and late readings every time.
    /// </summary>
    private async Task WriteChangeMarksAsync(IReadOnlyList<Observation> observations, int count, CancellationToken cancellationToken)
    {
        var stamp = NewStamp();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var marked = new HashSet<(string Subject, string Code, long Hour)>();
        var open = new List<(string Subject, string Code, long Hour)>();
        using var marks = new LineProtocolWriter(TimePrecision.Nanoseconds, Math.Max(1024, count * 96));
        foreach (var observation in observations.Take(count))
        {
            var subject = observation.Subject?.Reference;
            var code = ObservationKeys.CodeToken(observation);
            if (string.IsNullOrEmpty(subject) || code.Length == 0)
            {
                continue;
            }

            var hour = StoreReads.BucketStart(ObservationKeys.EffectiveMilliseconds(observation), HourMilliseconds);
            var isOpen = hour + HourMilliseconds > now;
            if (hour >= ObservationPoint.MinMilliseconds && !(isOpen && markedOpenHours.ContainsKey((subject, code, hour))) && marked.Add((subject, code, hour)))
            {
                if (isOpen)
                {
                    open.Add((subject, code, hour));
                }

                marks.Measurement(ChangeMeasurement).Tag(ObservationPoint.CodeTag, code).Tag(ObservationPoint.PatientTag, subject)
                    .Field(StampField, stamp).End(hour * ObservationPoint.NanosecondsPerMillisecond);
            }
        }

        if (marks.PointCount == 0)
        {
            return;
        }

        try
        {
            await client.WriteAsync(Database, marks, cancellationToken);
        }
        catch (InfluxDataRejectedException ex)
        {
            // Not the readings' fault (they are stored): a field type conflict on the marks is the operator's to fix.
            throw new InfluxAccessException($"cannot mark the hours written to {Display} as changed", ex.Reason, ex.StatusCode, ex.ServerMessage);
        }

        // Only once the marks are stored: an hour remembered as marked but not marked would hide its readings from trends.
        foreach (var key in open)
        {
            markedOpenHours.TryAdd(key, true);
        }

        var currentHour = StoreReads.BucketStart(now, HourMilliseconds);
        if (Interlocked.Exchange(ref markedOpenHoursPrunedAt, currentHour) != currentHour)
        {
            foreach (var key in markedOpenHours.Keys.Where(key => key.Hour + HourMilliseconds <= now))
            {
                markedOpenHours.TryRemove(key, out _);
            }
        }
    }

#pragma warning disable CA5394 // A stamp only needs to differ from the previous one of its hour; no secret rides on it.
    private static long NewStamp() => Random.Shared.NextInt64(1, long.MaxValue);
#pragma warning restore CA5394

    /// <summary>
    /// A patient's trend at hourly or daily resolution: the roll-ups of the closed whole hours of the window whose
    /// mark has not changed since, and the readings themselves for the rest (the hours the window cuts at its ends,
    /// the current hour, hours written since their roll-up). Stale or missing roll-ups of closed hours are written back.
    /// </summary>
    private async Task<List<(string Code, string Field, TrendPoint Point)>?> ReadRolledUpTrendAsync(
        string subject, string code, long fromMs, long untilMs, TrendResolution resolution, CancellationToken cancellationToken)
    {
        var firstHour = StoreReads.BucketStart(fromMs, HourMilliseconds) + (StoreReads.BucketStart(fromMs, HourMilliseconds) == fromMs ? 0 : HourMilliseconds);
        var endHour = Math.Min(StoreReads.BucketStart(untilMs, HourMilliseconds), StoreReads.BucketStart((DateTimeOffset.UtcNow - RollupDelay).ToUnixTimeMilliseconds(), HourMilliseconds));
        if (firstHour >= endHour)
        {
            return null;
        }

        var parameters = new Dictionary<string, object?> { ["subject"] = subject, ["code"] = code };
        var series = $"{PatientTag} = $subject AND {CodeTag} = $code";
        var marks = new Dictionary<long, long>();
        var hours = new SortedDictionary<long, Dictionary<string, BucketSummary>>();
        var rolledUp = new Dictionary<long, long>();
        using (var stored = await QueryAsync(
            string.Create(CultureInfo.InvariantCulture, $"SELECT {StampFieldName} FROM {ChangeMeasurementName} WHERE {series} AND time >= {Nanoseconds(firstHour)} AND time < {Nanoseconds(endHour)}; SELECT * FROM {HourlyMeasurementName} WHERE {series} AND time >= {Nanoseconds(firstHour)} AND time < {Nanoseconds(endHour)}"),
            parameters,
            $"cannot read the hourly roll-ups of {subject}",
            cancellationToken))
        {
            foreach (var one in stored.Statements[0].Series)
            {
                int time = one.IndexOf("time"), stamp = one.IndexOf(StampField);
                foreach (var row in one.Rows)
                {
                    marks[FloorMilliseconds(row.GetEpoch(time))] = row.GetInt64(stamp) ?? 0;
                }
            }

            var rollups = new Dictionary<long, Dictionary<string, BucketSummary>>();
            foreach (var one in stored.Statements[1].Series)
            {
                var stamp = one.IndexOf(StampField);
                foreach (var (hour, row) in ReadSummaries(one, rollups))
                {
                    rolledUp[hour] = row.GetInt64(stamp) ?? 0;
                }
            }

            foreach (var (hour, stamp) in marks)
            {
                if (rolledUp.TryGetValue(hour, out var computedUnder) && computedUnder == stamp)
                {
                    hours[hour] = rollups.GetValueOrDefault(hour) ?? [];
                }
            }
        }

        // The readings themselves: the cut ends, the hours from the current one on, and each run of stale hours.
        var stale = marks.Keys.Where(hour => !hours.ContainsKey(hour)).Order().ToList();
        var ranges = new List<(long From, long Until)>();
        if (fromMs < firstHour)
        {
            ranges.Add((fromMs, firstHour));
        }

        foreach (var hour in stale)
        {
            if (ranges.Count > 0 && ranges[^1].Until == hour)
            {
                ranges[^1] = (ranges[^1].From, hour + HourMilliseconds);
            }
            else
            {
                ranges.Add((hour, hour + HourMilliseconds));
            }
        }

        if (endHour < untilMs)
        {
            ranges.Add((endHour, untilMs));
        }

        var raw = new Dictionary<long, Dictionary<string, BucketSummary>>();
        if (ranges.Count > 0)
        {
            var query = new StringBuilder();
            foreach (var (rangeFrom, rangeUntil) in ranges)
            {
                query.Append(CultureInfo.InvariantCulture,
                    $"SELECT {Aggregates} FROM {ObservationMeasurement} WHERE {series} AND time >= {Nanoseconds(rangeFrom)} AND time < {Nanoseconds(rangeUntil)} GROUP BY time({HourMilliseconds}ms) fill(none);");
            }

            using var result = await QueryAsync(query.ToString(0, query.Length - 1), parameters, $"cannot read the trend of {subject}", cancellationToken);
            foreach (var statement in result.Statements)
            {
                foreach (var one in statement.Series)
                {
                    foreach (var _ in ReadSummaries(one, raw))
                    {
                    }
                }
            }
        }

        foreach (var (hour, fields) in raw)
        {
            hours[hour] = fields;
        }

        if (stale.Count > 0)
        {
            await WriteRollupsAsync(subject, code, stale.Select(hour => (hour, marks[hour], raw.GetValueOrDefault(hour))), cancellationToken);
        }

        return Buckets(code, hours, resolution.Milliseconds());
    }

    /// <summary>Writes the roll-ups of closed hours just computed from their readings; a failure only costs the next read the same work.</summary>
    private async Task WriteRollupsAsync(string subject, string code, IEnumerable<(long Hour, long Stamp, Dictionary<string, BucketSummary>? Fields)> computed, CancellationToken cancellationToken)
    {
        using var points = new LineProtocolWriter(TimePrecision.Nanoseconds);
        foreach (var (hour, stamp, fields) in computed)
        {
            points.Measurement(HourlyMeasurement).Tag(ObservationPoint.CodeTag, code).Tag(ObservationPoint.PatientTag, subject).Field(StampField, stamp);
            foreach (var (field, summary) in fields ?? [])
            {
                points.Field($"{Sum}_{field}", summary.Sum).Field($"{Minimum}_{field}", summary.Min).Field($"{Maximum}_{field}", summary.Max)
                    .Field($"{Count}_{field}", summary.Count).Field($"{Last}_{field}", summary.Last);
            }

            points.End(Nanoseconds(hour));
        }

        try
        {
            await client.WriteAsync(Database, points, cancellationToken);
        }
        catch (InfluxException ex)
        {
            LogRollupsNotWritten(subject, code, Display, ex.Reason);
        }
    }

    /// <summary>Reads the <c>sum_</c>, <c>min_</c>, <c>max_</c>, <c>count_</c>, <c>last_</c> columns of each row into <paramref name="into"/>, by bucket start.</summary>
    private static IEnumerable<(long Bucket, InfluxRow Row)> ReadSummaries(InfluxSeries series, IDictionary<long, Dictionary<string, BucketSummary>> into)
    {
        var time = series.IndexOf("time");
        var columns = series.Columns
            .Where(c => c.StartsWith(Count + "_", StringComparison.Ordinal))
            .Select(c => c[(Count.Length + 1)..])
            .Select(field => (Field: field,
                Sum: series.IndexOf($"{Sum}_{field}"), Min: series.IndexOf($"{Minimum}_{field}"), Max: series.IndexOf($"{Maximum}_{field}"),
                Count: series.IndexOf($"{Count}_{field}"), Last: series.IndexOf($"{Last}_{field}")))
            .ToList();
        foreach (var row in series.Rows)
        {
            var bucket = FloorMilliseconds(row.GetEpoch(time));
            if (!into.TryGetValue(bucket, out var fields))
            {
                into[bucket] = fields = new Dictionary<string, BucketSummary>(StringComparer.Ordinal);
            }

            foreach (var column in columns)
            {
                if (row.GetInt64(column.Count) is { } count and > 0)
                {
                    fields[column.Field] = new BucketSummary(
                        row.GetDouble(column.Sum) ?? double.NaN, row.GetDouble(column.Min) ?? double.NaN, row.GetDouble(column.Max) ?? double.NaN, count, row.GetDouble(column.Last) ?? double.NaN);
                }
            }

            yield return (bucket, row);
        }
    }

    /// <summary>Hours merged into buckets of <paramref name="width"/> (an hour or a day), in time order: sums and counts add up, the last is the latest hour's.</summary>
    private static List<(string Code, string Field, TrendPoint Point)> Buckets(string code, SortedDictionary<long, Dictionary<string, BucketSummary>> hours, long width)
    {
        var buckets = new SortedDictionary<(long Bucket, string Field), BucketSummary>();
        foreach (var (hour, fields) in hours)
        {
            var bucket = StoreReads.BucketStart(hour, width);
            foreach (var (field, summary) in fields)
            {
                buckets[(bucket, field)] = buckets.TryGetValue((bucket, field), out var earlier) ? earlier.Then(summary) : summary;
            }
        }

        return buckets.Select(b => (code, b.Key.Field, b.Value.Point(b.Key.Bucket))).ToList();
    }

    /// <summary>
    /// Marks every hour that holds Observations in a database written before the marks existed (an <c>observation</c>
    /// measurement and no <c>observation_change</c>), a week at a time, so that trends see those hours.
    /// </summary>
    private async Task BackfillChangeMarksAsync(HashSet<string> measurements, CancellationToken cancellationToken)
    {
        if (!measurements.Contains(ObservationPoint.Measurement) || measurements.Contains(ChangeMeasurement))
        {
            return;
        }

        if (await ObservationTimeSpanAsync(cancellationToken) is not (var first, var last))
        {
            return;
        }

        LogMarking(Display);
        const long week = 7 * 86_400_000L * ObservationPoint.NanosecondsPerMillisecond;
        var stamp = NewStamp();
        var marked = await WriteDerivedPointsAsync(
            first,
            last,
            week,
            (start, end) => string.Create(CultureInfo.InvariantCulture, $"SELECT count({IdField}) FROM {ObservationMeasurement} WHERE time >= {start} AND time < {end} GROUP BY time({HourMilliseconds}ms), {PatientTag}, {CodeTag} fill(none)"),
            "cannot read the hours that hold Observations",
            (series, marks) =>
            {
                var subject = series.Tags.GetValueOrDefault(ObservationPoint.PatientTag);
                var code = series.Tags.GetValueOrDefault(ObservationPoint.CodeTag);
                if (string.IsNullOrEmpty(subject) || string.IsNullOrEmpty(code))
                {
                    return;
                }

                var time = series.IndexOf("time");
                foreach (var row in series.Rows)
                {
                    marks.Measurement(ChangeMeasurement).Tag(ObservationPoint.CodeTag, code).Tag(ObservationPoint.PatientTag, subject)
                        .Field(StampField, stamp).End(row.GetEpoch(time));
                }
            },
            cancellationToken);

        LogMarked(Display, marked);
    }

    /// <summary>The count, sum, minimum, maximum and latest value of one numeric field over one hour (or several, merged in time order).</summary>
    private readonly record struct BucketSummary(double Sum, double Min, double Max, long Count, double Last)
    {
        public BucketSummary Then(BucketSummary later) => new(Sum + later.Sum, Math.Min(Min, later.Min), Math.Max(Max, later.Max), Count + later.Count, later.Last);

        public TrendPoint Point(long bucket) => new(DateTimeOffset.FromUnixTimeMilliseconds(bucket), Sum / Count, Min, Max, Count, Last);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not store the hourly roll-ups of {Subject} {Code} in {Store} ({Reason}): the next read computes them again")]
    private partial void LogRollupsNotWritten(string subject, string code, string store, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Observation store {Store}: marking the hours of the Observations written before hourly roll-ups existed")]
    private partial void LogMarking(string store);

    [LoggerMessage(Level = LogLevel.Information, Message = "Observation store {Store}: {Count} series hour(s) marked for roll-ups")]
    private partial void LogMarked(string store, int count);
}
