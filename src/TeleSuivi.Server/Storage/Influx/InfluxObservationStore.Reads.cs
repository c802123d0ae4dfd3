using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>The read path of the InfluxDB store: search, read by id, trends, latest values, completeness (InfluxQL in SCHEMA.md).</summary>
public sealed partial class InfluxObservationStore
{
    /// <summary>The numeric fields (SCHEMA.md): <c>value</c> and the <c>c:&lt;code&gt;</c> of each component.</summary>
    private const string NumericFields = "/^(value|c:.+)$/";

    private const string Minimum = "min", Maximum = "max", Count = "count", Last = "last";

    /// <summary>Days of a completeness report per request (one statement per day).</summary>
    private const int CompletenessDaysPerRequest = 62;

    private static readonly string ObservationMeasurement = InfluxQl.QuoteIdentifier(ObservationPoint.Measurement);
    private static readonly string PatientTag = InfluxQl.QuoteIdentifier(ObservationPoint.PatientTag);
    private static readonly string CodeTag = InfluxQl.QuoteIdentifier(ObservationPoint.CodeTag);
    private static readonly string DeviceTag = InfluxQl.QuoteIdentifier(ObservationPoint.DeviceTag);
    private static readonly string IdField = InfluxQl.QuoteIdentifier(ObservationPoint.IdField);

    /// <summary>
    /// Ordered by the point's time in nanoseconds (the effective millisecond plus the id's offset), then by id. A page
    /// after a cursor reads the points at the cursor's very nanosecond apart (there may be several, in several series),
    /// and when a page is full, every point at its last nanosecond, so that a tie is never cut in two.
    /// </summary>
    public Task<ObservationSearchResult> SearchAsync(ObservationSearch search, CancellationToken cancellationToken)
    {
        StoreReads.CheckSearch(search);
        return OfWholePointsAsync(token => SearchOnceAsync(search, token), cancellationToken);
    }

    private async Task<ObservationSearchResult> SearchOnceAsync(ObservationSearch search, CancellationToken cancellationToken)
    {
        if (!Window(search.From, search.Through, out var parameters))
        {
            return new ObservationSearchResult([], null);
        }

        parameters["subject"] = search.Subject;
        var filter = new StringBuilder(PatientTag).Append(" = $subject AND time >= $from AND time < $until");
        AppendCodes(filter, parameters, search.Codes);
        var order = search.Descending ? "DESC" : "ASC";
        var query = new StringBuilder();
        if (search.After is { } after)
        {
            query.Append(CultureInfo.InvariantCulture, $"SELECT * FROM {ObservationMeasurement} WHERE {filter} AND time = {after.Position}; ");
            query.Append(CultureInfo.InvariantCulture, $"SELECT * FROM {ObservationMeasurement} WHERE {filter} AND time {(search.Descending ? '<' : '>')} {after.Position} ORDER BY time {order} LIMIT {search.Limit}");
        }
        else
        {
            query.Append(CultureInfo.InvariantCulture, $"SELECT * FROM {ObservationMeasurement} WHERE {filter} ORDER BY time {order} LIMIT {search.Limit}");
        }

        var found = new Dictionary<string, ObservationMatch>(StringComparer.Ordinal);
        var fullPage = false;
        long lastPosition = 0;
        using (var result = await QueryAsync(query.ToString(), parameters, $"cannot search the Observations of {search.Subject}", cancellationToken))
        {
            foreach (var statement in result.Statements)
            {
                var rows = await ReadMatchesAsync(statement.Series, cancellationToken);
                var isPage = statement.StatementId == result.Statements.Count - 1;
                if (isPage && rows.Count == search.Limit)
                {
                    fullPage = true;
                    lastPosition = rows[^1].Cursor.Position;
                }

                foreach (var match in rows)
                {
                    if (search.After is not { } cursor || IsAfter(match.Cursor, cursor, search.Descending))
                    {
                        found.TryAdd(match.Cursor.Id, match);
                    }
                }
            }
        }

        if (fullPage)
        {
            // The page may have cut the points of its last nanosecond in two: take them all, the order decides.
            using var tie = await QueryAsync(
                string.Create(CultureInfo.InvariantCulture, $"SELECT * FROM {ObservationMeasurement} WHERE {filter} AND time = {lastPosition}"),
                parameters,
                $"cannot search the Observations of {search.Subject}",
                cancellationToken);
            foreach (var match in await ReadMatchesAsync(tie.Series, cancellationToken))
            {
                if (search.After is not { } cursor || IsAfter(match.Cursor, cursor, search.Descending))
                {
                    found.TryAdd(match.Cursor.Id, match);
                }
            }
        }

        var ordered = search.Descending
            ? found.Values.OrderByDescending(m => m.Cursor.Position).ThenByDescending(m => m.Cursor.Id, StringComparer.Ordinal)
            : found.Values.OrderBy(m => m.Cursor.Position).ThenBy(m => m.Cursor.Id, StringComparer.Ordinal);
        return new ObservationSearchResult(ordered.Take(search.Limit).ToList(), null);
    }

    private static bool IsAfter(ObservationCursor candidate, ObservationCursor cursor, bool descending)
    {
        var order = candidate.Position != cursor.Position
            ? candidate.Position.CompareTo(cursor.Position)
            : string.CompareOrdinal(candidate.Id, cursor.Id);
        return descending ? order < 0 : order > 0;
    }

    /// <summary>
    /// Runs a read of Observations again while it meets a point influxd is still storing (some of its fields visible, not
    /// all: <see cref="ObservationPoint.StateOf"/>), polling until <see cref="BeingWrittenDeadline"/>; a point still
    /// incomplete then is not being written but damaged, or written whole by someone else: logged, counted, and the
    /// read fails with what it lacks (SCHEMA.md, "Points being written").
    /// </summary>
    private async Task<T> OfWholePointsAsync<T>(Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            try
            {
                return await read(cancellationToken);
            }
            catch (PointBeingWrittenException ex)
            {
                if (waited.Elapsed >= BeingWrittenDeadline)
                {
                    Interlocked.Increment(ref incompletePoints);
                    LogIncompletePoint(Display, ex.Point, ex.Missing, BeingWrittenDeadline.TotalSeconds);
                    throw new InvalidDataException(ex.Message, ex);
                }

                Interlocked.Increment(ref readsOfPointsBeingWritten);
                LogPointBeingWritten(Display, ex.Point, ex.Missing);
                await Task.Delay(pause, cancellationToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxBeingWrittenPause.Ticks));
            }
        }
    }

    /// <summary>The Observations of <c>SELECT *</c> rows, with the shapes they need read first (one request for those not cached).</summary>
    private async Task<List<ObservationMatch>> ReadMatchesAsync(IReadOnlyList<InfluxSeries> series, CancellationToken cancellationToken)
    {
        var needed = new HashSet<long>();
        foreach (var one in series)
        {
            var columns = ObservationPoint.Columns.Of(one);
            foreach (var row in one.Rows)
            {
                if (ObservationPoint.ShapeIdOf(row, columns) is { } shape)
                {
                    needed.Add(shape);
                }
            }
        }

        var known = needed.Count == 0
            ? new Dictionary<long, ShapePoints.Shape>()
            : await shapes.ResolveAsync(needed, (query, parameters) => QueryAsync(query, parameters, "cannot read the shapes of Observations", cancellationToken));
        var matches = new List<ObservationMatch>();
        foreach (var one in series)
        {
            var columns = ObservationPoint.Columns.Of(one);
            foreach (var row in one.Rows)
            {
                if (ObservationPoint.StateOf(one, row, columns, known, out var missing) == ObservationPoint.PointState.BeingWritten)
                {
                    throw new PointBeingWrittenException(one, row, columns, missing!, BeingWrittenDeadline);
                }

                var observation = ObservationPoint.Read(one, row, columns, known);
                matches.Add(new ObservationMatch(observation, new ObservationCursor(row.GetEpoch(columns.Time), row.GetString(columns.Id) ?? observation.Id ?? string.Empty)));
            }
        }

        return matches;
    }

    /// <summary>
    /// Looks the id up in its bucket of <c>observation_id</c> (1/4,096 of the index), then reads the one point it
    /// names. When the id was written at several times (a corrected effective time), the latest wins.
    /// </summary>
    public Task<Observation?> FindAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return OfWholePointsAsync(token => FindOnceAsync(id, token), cancellationToken);
    }

    private async Task<Observation?> FindOnceAsync(string id, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, object?> { ["bucket"] = ObservationIdIndex.Bucket(id), ["id"] = id };
        var locations = new List<(long Time, string Patient, string Code, string Device)>();
        using (var index = await QueryAsync(
            $"SELECT {IdField}, {PatientTag}, {CodeTag}, {DeviceTag} FROM {InfluxQl.QuoteIdentifier(ObservationIdIndex.Measurement)} WHERE {InfluxQl.QuoteIdentifier(ObservationIdIndex.BucketTag)} = $bucket AND {IdField} = $id",
            parameters,
            $"cannot find Observation {id}",
            cancellationToken))
        {
            foreach (var series in index.Series)
            {
                int time = series.IndexOf("time"), patient = series.IndexOf(ObservationPoint.PatientTag), code = series.IndexOf(ObservationPoint.CodeTag), device = series.IndexOf(ObservationPoint.DeviceTag);
                foreach (var row in series.Rows)
                {
                    locations.Add((row.GetEpoch(time), row.GetString(patient) ?? string.Empty, row.GetString(code) ?? string.Empty, row.GetString(device) ?? string.Empty));
                }
            }
        }

        foreach (var location in locations.OrderByDescending(l => l.Time))
        {
            var point = new Dictionary<string, object?> { ["patient"] = location.Patient, ["code"] = location.Code, ["device"] = location.Device };
            using var result = await QueryAsync(
                string.Create(CultureInfo.InvariantCulture, $"SELECT * FROM {ObservationMeasurement} WHERE {PatientTag} = $patient AND {CodeTag} = $code AND {DeviceTag} = $device AND time = {location.Time}"),
                point,
                $"cannot read Observation {id}",
                cancellationToken);
            if ((await ReadMatchesAsync(result.Series, cancellationToken)).FirstOrDefault(m => string.Equals(m.Cursor.Id, id, StringComparison.Ordinal)) is { } match)
            {
                return match.Observation;
            }
        }

        return null;
    }

    public async Task<IReadOnlyList<string>> ReadCodesAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        using var result = await QueryAsync(
            $"SHOW TAG VALUES FROM {ObservationMeasurement} WITH KEY = {CodeTag} WHERE {PatientTag} = $subject",
            new Dictionary<string, object?> { ["subject"] = subject },
            $"cannot list the codes of {subject}",
            cancellationToken);
        var codes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var series in result.Series)
        {
            var value = series.IndexOf("value");
            foreach (var row in series.Rows)
            {
                if (row.GetString(value) is { Length: > 0 } code)
                {
                    codes.Add(code);
                }
            }
        }

        return [.. codes];
    }

    public async Task<ObservationTrend> ReadTrendAsync(
        string subject,
        string code,
        DateTimeOffset from,
        DateTimeOffset through,
        TrendResolution resolution,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentException.ThrowIfNullOrEmpty(code);
        return StoreReads.SingleTrend(subject, code, resolution, await ReadTrendRowsAsync(subject, code, from, through, resolution, cancellationToken));
    }

    public async Task<IReadOnlyList<ObservationTrend>> ReadEnvironmentAsync(
        string zoneId,
        DateTimeOffset from,
        DateTimeOffset through,
        TrendResolution resolution,
        CancellationToken cancellationToken)
    {
        var subject = StoreReads.ZoneSubject(zoneId);
        return StoreReads.Trends(subject, resolution, await ReadTrendRowsAsync(subject, null, from, through, resolution, cancellationToken));
    }

    /// <summary>
    /// Raw: <c>SELECT /^(value|c:.+)$/ ... ORDER BY time</c>. Aggregated: <c>SELECT mean(/…/), min(/…/), max(/…/),
    /// count(/…/), last(/…/) ... GROUP BY time(1m|1h|1d) fill(none)</c>, which InfluxDB aligns on UTC like SQLite does.
    /// Without a code, grouped by code too.
    /// </summary>
    private async Task<List<(string Code, string Field, TrendPoint Point)>> ReadTrendRowsAsync(
        string subject, string? code, DateTimeOffset from, DateTimeOffset through, TrendResolution resolution, CancellationToken cancellationToken)
    {
        var rows = new List<(string, string, TrendPoint)>();
        if (!Window(from, through, out var parameters))
        {
            return rows;
        }

        parameters["subject"] = subject;
        var filter = $"{PatientTag} = $subject AND time >= $from AND time < $until";
        if (code is not null)
        {
            parameters["code"] = code;
            filter += $" AND {CodeTag} = $code";
        }

        if (code is not null && resolution is TrendResolution.Hour or TrendResolution.Day
            && await ReadRolledUpTrendAsync(subject, code, ((DateTimeOffset)parameters["from"]!).ToUnixTimeMilliseconds(), ((DateTimeOffset)parameters["until"]!).ToUnixTimeMilliseconds(), resolution, cancellationToken) is { } rolledUp)
        {
            return rolledUp;
        }

        var byCode = code is null ? $" GROUP BY {CodeTag}" : string.Empty;
        var width = resolution.Milliseconds();
        var query = width == 0
            ? $"SELECT {NumericFields} FROM {ObservationMeasurement} WHERE {filter}{byCode} ORDER BY time ASC"
            : string.Create(
                CultureInfo.InvariantCulture,
                $"SELECT {Aggregates} FROM {ObservationMeasurement} WHERE {filter} GROUP BY time({width}ms){(code is null ? ", " + CodeTag : string.Empty)} fill(none)");
        using var result = await QueryAsync(query, parameters, $"cannot read the trend of {subject}", cancellationToken);
        foreach (var series in result.Series)
        {
            var seriesCode = code ?? series.Tags.GetValueOrDefault(ObservationPoint.CodeTag) ?? string.Empty;
            if (width != 0)
            {
                var buckets = new SortedDictionary<long, Dictionary<string, BucketSummary>>();
                foreach (var _ in ReadSummaries(series, buckets))
                {
                }

                rows.AddRange(Buckets(seriesCode, buckets, width));
                continue;
            }

            var time = series.IndexOf("time");
            var fields = series.Columns.Select((name, index) => (name, index)).Where(c => c.index != time).ToList();
            foreach (var row in series.Rows)
            {
                var at = DateTimeOffset.FromUnixTimeMilliseconds(FloorMilliseconds(row.GetEpoch(time)));
                foreach (var (name, index) in fields)
                {
                    if (row.GetDouble(index) is { } value)
                    {
                        rows.Add((seriesCode, name, new TrendPoint(at, value, value, value, 1, value)));
                    }
                }
            }
        }

        return rows;
    }

    /// <summary>
    /// <c>SELECT "id", "device", "unit", /^(value|c:.+)$/ ... GROUP BY "patient", "code" ORDER BY time DESC LIMIT 1</c>:
    /// one query, one row per (patient, code) series group, whatever the number of patients.
    /// </summary>
    public async Task<IReadOnlyList<LatestReading>> ReadLatestAsync(string? subject, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var readings = new List<LatestReading>();
        if (!Window(since, DateTimeOffset.MaxValue, out var parameters))
        {
            return readings;
        }

        string subjectFilter;
        if (subject is null)
        {
            subjectFilter = $"{PatientTag} =~ /^Patient\\//";
        }
        else
        {
            parameters["subject"] = subject;
            subjectFilter = $"{PatientTag} = $subject";
        }

        using var result = await QueryAsync(
            $"SELECT {IdField}, {DeviceTag}, {InfluxQl.QuoteIdentifier(ObservationPoint.UnitField)}, {NumericFields} FROM {ObservationMeasurement} WHERE {subjectFilter} AND time >= $from AND time < $until GROUP BY {PatientTag}, {CodeTag} ORDER BY time DESC LIMIT 1",
            parameters,
            $"cannot read the latest readings of {subject ?? "every patient"}",
            cancellationToken);
        foreach (var series in result.Series)
        {
            int time = series.IndexOf("time"), id = series.IndexOf(ObservationPoint.IdField), device = series.IndexOf(ObservationPoint.DeviceTag), unit = series.IndexOf(ObservationPoint.UnitField);
            var fields = series.Columns.Select((name, index) => (name, index))
                .Where(c => c.name == ObservationPoint.ValueField || c.name.StartsWith(ObservationPoint.ComponentFieldPrefix, StringComparison.Ordinal))
                .ToList();
            foreach (var row in series.Rows)
            {
                var values = fields.Where(f => !row.IsNull(f.index)).Select(f => (f.name, row.GetDouble(f.index)!.Value)).ToList();
                readings.Add(StoreReads.Latest(
                    series.Tags.GetValueOrDefault(ObservationPoint.PatientTag) ?? string.Empty,
                    series.Tags.GetValueOrDefault(ObservationPoint.CodeTag) ?? string.Empty,
                    FloorMilliseconds(row.GetEpoch(time)),
                    row.GetString(id) ?? string.Empty,
                    row.GetString(device) is { Length: > 0 } reference ? reference : null,
                    row.GetString(unit),
                    values));
            }
        }

        return readings.OrderBy(r => r.Subject, StringComparer.Ordinal).ThenBy(r => r.Code, StringComparer.Ordinal).ToList();
    }

    /// <summary>One <c>SELECT count("id") ... GROUP BY "code"</c> statement per day, several days per request.</summary>
    public async Task<IReadOnlyList<DayCompleteness>> ReadCompletenessAsync(
        string subject,
        DateOnly firstDay,
        DateOnly lastDay,
        IReadOnlyDictionary<string, int> expectedPerDay,
        TimeZoneInfo? timeZone,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentNullException.ThrowIfNull(expectedPerDay);
        var windows = StoreReads.DayWindows(firstDay, lastDay, timeZone);
        var received = new Dictionary<(int, string), int>();
        if (expectedPerDay.Count > 0)
        {
            var parameters = new Dictionary<string, object?> { ["subject"] = subject };
            var codes = new StringBuilder();
            AppendCodes(codes, parameters, [.. expectedPerDay.Keys]);
            for (var first = 0; first < windows.Count; first += CompletenessDaysPerRequest)
            {
                var days = windows.Skip(first).Take(CompletenessDaysPerRequest).ToList();
                var query = new StringBuilder();
                foreach (var (_, startMs, endMs) in days)
                {
                    query.Append(CultureInfo.InvariantCulture,
                        $"SELECT count({IdField}) FROM {ObservationMeasurement} WHERE {PatientTag} = $subject{codes} AND time >= {Nanoseconds(startMs)} AND time < {Nanoseconds(endMs)} GROUP BY {CodeTag};");
                }

                using var result = await QueryAsync(query.ToString(), parameters, $"cannot count the readings of {subject}", cancellationToken);
                foreach (var statement in result.Statements)
                {
                    foreach (var series in statement.Series)
                    {
                        var count = series.IndexOf(Count);
                        var code = series.Tags.GetValueOrDefault(ObservationPoint.CodeTag) ?? string.Empty;
                        foreach (var row in series.Rows)
                        {
                            received[(first + statement.StatementId, code)] = (int)(row.GetInt64(count) ?? 0);
                        }
                    }
                }
            }
        }

        return StoreReads.Completeness(windows, expectedPerDay, received);
    }

    /// <summary>Brings a database written by an earlier release up to the schema: the id index, then the change marks of the roll-ups.</summary>
    private async Task BackfillAsync(CancellationToken cancellationToken)
    {
        var measurements = new HashSet<string>(StringComparer.Ordinal);
        using (var shown = await QueryAsync("SHOW MEASUREMENTS", null, "cannot list the measurements", cancellationToken))
        {
            foreach (var row in shown.Series.SelectMany(s => s.Rows))
            {
                if (row.GetString(0) is { } name)
                {
                    measurements.Add(name);
                }
            }
        }

        await BackfillIdIndexAsync(measurements, cancellationToken);
        await BackfillChangeMarksAsync(measurements, cancellationToken);
    }

    /// <summary>The times (ns) of the first and the last Observation, or null when there is none.</summary>
    private async Task<(long First, long Last)?> ObservationTimeSpanAsync(CancellationToken cancellationToken)
    {
        using var bounds = await QueryAsync(
            $"SELECT first({IdField}) FROM {ObservationMeasurement}; SELECT last({IdField}) FROM {ObservationMeasurement}", null, "cannot find the time span of the Observations", cancellationToken);
        var times = bounds.Statements.Select(s => s.Series is [var series, ..] && series.Rows is [var row, ..] ? row.GetEpoch(0) : (long?)null).ToList();
        return times is [{ } first, { } last] ? (first, last) : null;
    }

    /// <summary>
    /// Writes the <c>observation_id</c> points of a database whose <c>observation</c> points were written before the
    /// index existed (no <c>observation_id</c> measurement yet), a day at a time from the first point to the last.
    /// </summary>
    private async Task BackfillIdIndexAsync(HashSet<string> measurements, CancellationToken cancellationToken)
    {
        if (!measurements.Contains(ObservationPoint.Measurement) || measurements.Contains(ObservationIdIndex.Measurement)
            || await ObservationTimeSpanAsync(cancellationToken) is not (var first, var last))
        {
            return;
        }

        LogBackfilling(Display);
        const long day = 86_400_000L * ObservationPoint.NanosecondsPerMillisecond;
        var indexed = await WriteDerivedPointsAsync(
            first,
            last,
            day,
            (start, end) => string.Create(CultureInfo.InvariantCulture, $"SELECT {IdField}, {PatientTag}, {CodeTag}, {DeviceTag} FROM {ObservationMeasurement} WHERE time >= {start} AND time < {end}"),
            "cannot read the Observations to index",
            (series, points) =>
            {
                int time = series.IndexOf("time"), id = series.IndexOf(ObservationPoint.IdField), patient = series.IndexOf(ObservationPoint.PatientTag), code = series.IndexOf(ObservationPoint.CodeTag), device = series.IndexOf(ObservationPoint.DeviceTag);
                foreach (var row in series.Rows)
                {
                    if (row.GetString(id) is { Length: > 0 } observationId)
                    {
                        ObservationIdIndex.Write(points, observationId, row.GetString(patient), row.GetString(code), row.GetString(device), row.GetEpoch(time));
                    }
                }
            },
            cancellationToken);
        LogBackfilled(Display, indexed);
    }

    /// <summary>
    /// Reads windows of <paramref name="step"/> ns from <paramref name="first"/> to <paramref name="last"/> with
    /// <paramref name="query"/>, and writes the points <paramref name="pointsOf"/> makes of each answer's series (the
    /// backfills of structures derived from the Observations). Returns how many points were written.
    /// </summary>
    private async Task<int> WriteDerivedPointsAsync(
        long first, long last, long step, Func<long, long, string> query, string what, Action<InfluxSeries, LineProtocolWriter> pointsOf, CancellationToken cancellationToken)
    {
        var written = 0;
        for (var start = first; start <= last;)
        {
            var end = start > long.MaxValue - step ? long.MaxValue : start + step;
            using (var result = await QueryAsync(query(start, end), null, what, cancellationToken))
            {
                using var points = new LineProtocolWriter(TimePrecision.Nanoseconds);
                foreach (var series in result.Series)
                {
                    pointsOf(series, points);
                }

                if (points.PointCount > 0)
                {
                    await client.WriteAsync(Database, points, cancellationToken);
                    written += points.PointCount;
                }
            }

            if (end == long.MaxValue)
            {
                break;
            }

            start = end;
        }

        return written;
    }

    /// <summary>Runs a query and refuses an answer the server cut short (its <c>max-row-limit</c>).</summary>
    private async Task<InfluxQueryResult> QueryAsync(string query, Dictionary<string, object?>? parameters, string what, CancellationToken cancellationToken)
    {
        var result = await client.QueryAsync(Database, query, parameters, TimePrecision.Nanoseconds, cancellationToken);
        if (result.Statements.Any(statement => statement.Partial))
        {
            result.Dispose();
            throw new InfluxQueryException($"{what} from {Display}", "the server cut the answer short (its max-row-limit): ask for less at a time", null, null);
        }

        return result;
    }

    /// <summary>
    /// The parameters <c>$from</c> and <c>$until</c> of a window of milliseconds [from, through], both included:
    /// points carry a sub-millisecond offset, so the window ends before the millisecond after <paramref name="through"/>.
    /// False when the window is empty or outside what InfluxDB stores.
    /// </summary>
    private static bool Window(DateTimeOffset from, DateTimeOffset through, out Dictionary<string, object?> parameters)
    {
        var fromMs = Math.Max(from.ToUnixTimeMilliseconds(), ObservationPoint.MinMilliseconds);
        var throughMs = Math.Min(through.ToUnixTimeMilliseconds(), ObservationPoint.MaxMilliseconds);
        parameters = new Dictionary<string, object?>
        {
            ["from"] = DateTimeOffset.FromUnixTimeMilliseconds(fromMs),
            ["until"] = DateTimeOffset.FromUnixTimeMilliseconds(throughMs + 1),
        };
        return fromMs <= throughMs;
    }

    /// <summary>Appends <c> AND ("code" = $c0 OR ...)</c> for a non-empty list.</summary>
    private static void AppendCodes(StringBuilder filter, Dictionary<string, object?> parameters, IReadOnlyList<string> codes)
    {
        if (codes.Count == 0)
        {
            return;
        }

        filter.Append(" AND (");
        for (var i = 0; i < codes.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"c{i}");
            parameters[name] = codes[i];
            filter.Append(i == 0 ? string.Empty : " OR ").Append(CodeTag).Append(" = $").Append(name);
        }

        filter.Append(')');
    }

    private static long Nanoseconds(long milliseconds) =>
        Math.Clamp(milliseconds, ObservationPoint.MinMilliseconds, ObservationPoint.MaxMilliseconds) * ObservationPoint.NanosecondsPerMillisecond;

    private static long FloorMilliseconds(long nanoseconds) =>
        Math.DivRem(nanoseconds, ObservationPoint.NanosecondsPerMillisecond, out var rest) - (rest < 0 ? 1 : 0);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Observation store {Store}: the point {Point} is being written ({Missing}): reading again")]
    private partial void LogPointBeingWritten(string store, string point, string missing);

    [LoggerMessage(Level = LogLevel.Error, Message = "Observation store {Store}: the point {Point} is still incomplete after {Seconds} s ({Missing}): not a write in progress; damaged, or not written whole by TeleSuivi (SCHEMA.md, \"Points being written\")")]
    private partial void LogIncompletePoint(string store, string point, string missing, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Observation store {Store}: indexing the Observations written before the id index, by id")]
    private partial void LogBackfilling(string store);

    [LoggerMessage(Level = LogLevel.Information, Message = "Observation store {Store}: {Count} Observation(s) indexed by id")]
    private partial void LogBackfilled(string store, int count);
}
