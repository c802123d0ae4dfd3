using Microsoft.Data.Sqlite;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// Trends on the SQLite store. Hourly and daily buckets come from the roll-ups for every whole hour of the window and
/// from the readings for the cut hours at its ends; minute buckets and raw points from the readings.
/// </summary>
public sealed partial class SqliteObservationStore
{
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
        await using var scope = await OpenReadAsync(subject, null, cancellationToken);
        var rows = await ReadTrendRowsAsync(scope, subject, code, from, through, resolution, cancellationToken);
        return StoreReads.SingleTrend(subject, code, resolution, rows);
    }

    public async Task<IReadOnlyList<ObservationTrend>> ReadEnvironmentAsync(
        string zoneId,
        DateTimeOffset from,
        DateTimeOffset through,
        TrendResolution resolution,
        CancellationToken cancellationToken)
    {
        var subject = StoreReads.ZoneSubject(zoneId);
        await using var scope = await OpenReadAsync(subject, null, cancellationToken);
        var rows = new List<(string, string, TrendPoint)>();
        foreach (var code in await ReadCodesAsync(scope, subject, cancellationToken))
        {
            rows.AddRange(await ReadTrendRowsAsync(scope, subject, code, from, through, resolution, cancellationToken));
        }

        return StoreReads.Trends(subject, resolution, rows);
    }

    /// <summary>The trend rows of one code: the folded readings and roll-ups, and the pending readings added to them.</summary>
    private static async Task<List<(string Code, string Field, TrendPoint Point)>> ReadTrendRowsAsync(
        ReadScope scope, string subject, string code, DateTimeOffset from, DateTimeOffset through, TrendResolution resolution, CancellationToken cancellationToken)
    {
        var connection = scope.Connection;
        var width = resolution.Milliseconds();
        var fromMs = from.ToUnixTimeMilliseconds();
        var throughMs = through.ToUnixTimeMilliseconds();
        var pending = scope.Pending.Where(r => r.Code == code && r.Time >= fromMs && r.Time <= throughMs).ToList();
        if (width == 0)
        {
            return await ReadRawAsync(connection, subject, code, fromMs, throughMs, pending, cancellationToken);
        }

        var buckets = new Dictionary<(string Field, long Bucket), Bucket>();
        if (width < HourMs)
        {
            await AddReadingsAsync(connection, subject, code, fromMs, throughMs, width, buckets, cancellationToken);
            AddPending(pending, width, buckets);
        }
        else
        {
            // [firstHour, endHour): the hours wholly inside the window, read from the roll-ups.
            var firstHour = StoreReads.BucketStart(fromMs, HourMs) == fromMs ? fromMs : StoreReads.BucketStart(fromMs, HourMs) + HourMs;
            var endHour = StoreReads.BucketStart(throughMs + 1, HourMs);
            if (firstHour >= endHour)
            {
                await AddReadingsAsync(connection, subject, code, fromMs, throughMs, HourMs, buckets, cancellationToken);
            }
            else
            {
                await AddReadingsAsync(connection, subject, code, fromMs, firstHour - 1, HourMs, buckets, cancellationToken);
                await AddRollUpsAsync(connection, subject, code, firstHour, endHour, buckets, cancellationToken);
                await AddReadingsAsync(connection, subject, code, endHour, throughMs, HourMs, buckets, cancellationToken);
            }

            AddPending(pending, HourMs, buckets);

            if (width > HourMs)
            {
                buckets = Regroup(buckets, width);
            }
        }

        return buckets.Select(b => (code, b.Key.Field, b.Value.ToPoint(b.Key.Bucket))).ToList();
    }

    /// <summary>The raw points of the folded and the pending readings, in the order time, id, field.</summary>
    private static async Task<List<(string Code, string Field, TrendPoint Point)>> ReadRawAsync(
        SqliteConnection connection, string subject, string code, long fromMs, long throughMs, List<PendingRow> pending, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            WITH numbers AS ({SeriesNumbers("$subject", "$code", "$from", "$through")})
            SELECT field, effective_ms, value, id FROM numbers ORDER BY effective_ms, id, field
            """;
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$from", fromMs);
        command.Parameters.AddWithValue("$through", throughMs);
        var values = new List<(long Time, string Id, string Field, double Value)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                values.Add((reader.GetInt64(1), reader.GetString(3), reader.GetString(0), reader.GetDouble(2)));
            }
        }

        if (pending.Count > 0)
        {
            values.AddRange(pending.SelectMany(r => r.Fields.Select(f => (r.Time, r.Id, f.Field, f.Value))));
            values.Sort(static (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time)
                : string.CompareOrdinal(a.Id, b.Id) is var byId and not 0 ? byId : string.CompareOrdinal(a.Field, b.Field));
        }

        return values.Select(v => (code, v.Field, new TrendPoint(DateTimeOffset.FromUnixTimeMilliseconds(v.Time), v.Value, v.Value, v.Value, 1, v.Value))).ToList();
    }

    /// <summary>Adds each number of the pending readings as a bucket of one reading.</summary>
    private static void AddPending(List<PendingRow> pending, long width, Dictionary<(string, long), Bucket> buckets)
    {
        foreach (var row in pending)
        {
            foreach (var (field, value) in row.Fields)
            {
                var key = (field, StoreReads.BucketStart(row.Time, width));
                var bucket = new Bucket(1, value, value, value, row.Time, row.Id, value);
                buckets[key] = buckets.TryGetValue(key, out var existing) ? existing.Merge(bucket) : bucket;
            }
        }
    }

    /// <summary>Adds the readings of [<paramref name="fromMs"/>, <paramref name="throughMs"/>] aggregated in SQL by buckets of <paramref name="width"/>.</summary>
    private static async Task AddReadingsAsync(
        SqliteConnection connection, string subject, string code, long fromMs, long throughMs, long width,
        Dictionary<(string, long), Bucket> buckets, CancellationToken cancellationToken)
    {
        if (fromMs > throughMs)
        {
            return;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            WITH numbers AS ({SeriesNumbers("$subject", "$code", "$from", "$through")})
            SELECT field, bucket, n, total, low, high, last_ms, last_id, last_value FROM ({BucketsOfNumbers("$width")})
            """;
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$from", fromMs);
        command.Parameters.AddWithValue("$through", throughMs);
        command.Parameters.AddWithValue("$width", width);
        await AddBucketsAsync(command, buckets, cancellationToken);
    }

    /// <summary>Adds the roll-ups of the whole hours [<paramref name="firstHour"/>, <paramref name="endHour"/>).</summary>
    private static async Task AddRollUpsAsync(
        SqliteConnection connection, string subject, string code, long firstHour, long endHour,
        Dictionary<(string, long), Bucket> buckets, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT field, hour_ms, n, total, low, high, last_ms, last_id, last_value FROM observation_hourly
            WHERE patient = $subject AND code = $code AND hour_ms >= $first AND hour_ms < $end
            """;
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$first", firstHour);
        command.Parameters.AddWithValue("$end", endHour);
        await AddBucketsAsync(command, buckets, cancellationToken);
    }

    private static async Task AddBucketsAsync(SqliteCommand command, Dictionary<(string, long), Bucket> buckets, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var bucket = new Bucket(reader.GetInt64(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), reader.GetInt64(6), reader.GetString(7), reader.GetDouble(8));
            var key = (reader.GetString(0), reader.GetInt64(1));
            buckets[key] = buckets.TryGetValue(key, out var existing) ? existing.Merge(bucket) : bucket;
        }
    }

    /// <summary>Hourly buckets merged into wider ones (days: every hour lies in exactly one day, both aligned on 1970).</summary>
    private static Dictionary<(string Field, long Bucket), Bucket> Regroup(Dictionary<(string Field, long Bucket), Bucket> hourly, long width)
    {
        var wider = new Dictionary<(string, long), Bucket>();
        foreach (var ((field, hour), bucket) in hourly)
        {
            var key = (field, StoreReads.BucketStart(hour, width));
            wider[key] = wider.TryGetValue(key, out var existing) ? existing.Merge(bucket) : bucket;
        }

        return wider;
    }

    /// <summary>What a bucket of readings sums up, in a form two buckets of the same series can be merged in.</summary>
    private readonly record struct Bucket(long Count, double Total, double Low, double High, long LastMs, string LastId, double LastValue)
    {
        public Bucket Merge(Bucket other)
        {
            var otherIsLater = other.LastMs > LastMs || (other.LastMs == LastMs && string.CompareOrdinal(other.LastId, LastId) > 0);
            return new Bucket(
                Count + other.Count,
                Total + other.Total,
                Math.Min(Low, other.Low),
                Math.Max(High, other.High),
                otherIsLater ? other.LastMs : LastMs,
                otherIsLater ? other.LastId : LastId,
                otherIsLater ? other.LastValue : LastValue);
        }

        public TrendPoint ToPoint(long start) =>
            new(DateTimeOffset.FromUnixTimeMilliseconds(start), Total / Count, Low, High, Count, LastValue);
    }
}
