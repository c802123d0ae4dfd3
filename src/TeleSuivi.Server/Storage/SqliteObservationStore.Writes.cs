using System.Globalization;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Server.Storage.Shapes;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The write path of the SQLite store, in two steps. A batch is appended to <c>observation_log</c> in the log file and
/// committed with <c>synchronous = FULL</c>: that is what acknowledges it, and it touches only the last pages of one
/// table. Then a background fold copies the pending rows into the main file, into the tables clustered by (patient,
/// code, time) and into the roll-ups, sorted by series, in chunks of up to <see cref="MaxFoldChunk"/> readings, and
/// deletes them from the log. The fold holds the main file's write lock, the append the log file's: a long fold never
/// delays an acknowledgement (reads never fold: SqliteObservationStore.Pending.cs). Folding many readings per series at
/// once writes the tail page of each series once per chunk instead of once per batch (BENCHMARKS.md, "Storage").
/// </summary>
public sealed partial class SqliteObservationStore : IDisposable
{
    /// <summary>
    /// Pending readings from which the background fold works at once; below it, it waits until writes pause for
    /// <see cref="IdleFoldDelay"/>. Large, so that a chunk holds many readings of each series (a 200-patient cohort has
    /// 1,200 series): the bytes written per reading fall as the readings per series and chunk grow.
    /// </summary>
    internal const int FoldThreshold = 20_000;

    /// <summary>The most readings one fold transaction takes (its rows are held in memory meanwhile).</summary>
    internal const int MaxFoldChunk = 50_000;

    /// <summary>
    /// Pending readings beyond which a write folds a chunk itself before it returns: the fold cannot keep up, and the
    /// writer is slowed to its pace rather than letting the log, and the pending rows that reads keep in memory, grow
    /// without bound.
    /// </summary>
    internal const int MaxPending = 100_000;

    /// <summary>The most readings one append transaction takes from the batches waiting (a batch larger alone goes alone).</summary>
    internal const int MaxGroupReadings = 5_000;

    private const string FoldedState = "folded_seq";

    private static readonly TimeSpan IdleFoldDelay = TimeSpan.FromMilliseconds(500);

    // One writer at a time per file inside the process: SQLite's own lock would make the others sleep and retry.
    // The append gate guards the log file, the fold gate the main file.
    private readonly SemaphoreSlim appendGate = new(1, 1);

    /// <summary>Batches waiting for <see cref="appendGate"/>, appended together by whoever takes it (group commit).</summary>
    private readonly LinkedList<AppendRequest> appendQueue = new();
    private long appendCommits;
    private int appendsInFlight;
    private readonly SemaphoreSlim foldGate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private Task foldLoop = Task.CompletedTask;
    private int foldLoopRunning;
    private long appends;

    /// <summary>
    /// Folds everything pending now, chunk after chunk (retention, erasure and the ingest benchmark, which counts the
    /// fold in the sustained rate).
    /// </summary>
    public async Task FoldAllAsync(CancellationToken cancellationToken)
    {
        while (await FoldChunkAsync(cancellationToken) > 0)
        {
        }
    }

    /// <summary>
    /// Folds the next chunk of pending rows in a transaction of the main file, then deletes them from the log file;
    /// returns how many are still pending. The folded mark moves in the same transaction as the folded rows, so a crash
    /// between the two commits leaves log rows at or below the mark, which nothing reads and the next fold deletes: a
    /// row is never folded twice.
    /// </summary>
    private async Task<long> FoldChunkAsync(CancellationToken cancellationToken)
    {
        long pending, mark;
        await foldGate.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken, createMissing: false);

            // synchronous = FULL (OpenAsync): the log rows are deleted below only once this commit is on disk. One sync
            // per chunk of thousands of readings.
            await using var transaction = connection.BeginTransaction(deferred: true);
            await ExecuteAsync(connection, transaction, LockMainFile, cancellationToken);
            await using (var copy = connection.CreateCommand())
            {
                // OR IGNORE: a row moved from a file of version 3 by a start that crashed half-way is on both sides.
                copy.Transaction = transaction;
                copy.CommandText = $"""
                    INSERT OR IGNORE INTO main.observation_log ({LogColumns})
                    SELECT {LogColumns} FROM log.observation_log WHERE seq > (SELECT coalesce((SELECT value FROM main.store_state WHERE name = '{FoldedState}'), 0))
                    ORDER BY seq LIMIT $limit
                    """;
                copy.Parameters.AddWithValue("$limit", MaxFoldChunk);
                await copy.ExecuteNonQueryAsync(cancellationToken);
            }

            await FoldAsync(connection, transaction, MaxFoldChunk, cancellationToken);
            mark = await FoldedMarkAsync(connection, transaction, cancellationToken);
            pending = await PendingAsync(connection, transaction, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            foldGate.Release();
        }

        await ForgetFoldedAsync(mark, cancellationToken);
        return pending;
    }

    /// <summary>Deletes the log rows at or below the folded <paramref name="mark"/>: they are in the main file now.</summary>
    private async Task ForgetFoldedAsync(long mark, CancellationToken cancellationToken)
    {
        await appendGate.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken, createMissing: false);
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM log.observation_log WHERE seq <= $mark";
            command.Parameters.AddWithValue("$mark", mark);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            appendGate.Release();
        }
    }

    private static async Task<long> FoldedMarkAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        Convert.ToInt64(
            await ScalarAsync(connection, transaction, $"SELECT coalesce((SELECT value FROM main.store_state WHERE name = '{FoldedState}'), 0)", cancellationToken),
            CultureInfo.InvariantCulture);

    private void StartFoldLoop()
    {
        if (!stopping.IsCancellationRequested && Interlocked.CompareExchange(ref foldLoopRunning, 1, 0) == 0)
        {
            foldLoop = Task.Run(() => FoldLoopAsync(stopping.Token));
        }
    }

    /// <summary>Folds while anything is pending: at once from <see cref="FoldThreshold"/> rows, otherwise when writes pause.</summary>
    private async Task FoldLoopAsync(CancellationToken cancellationToken)
    {
        var seen = Interlocked.Read(ref appends);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                seen = Interlocked.Read(ref appends);
                long pending;
                await using (var connection = await OpenAsync(cancellationToken, createMissing: false))
                {
                    pending = await PendingAsync(connection, null, cancellationToken);
                }

                if (pending == 0)
                {
                    break;
                }

                if (pending < FoldThreshold)
                {
                    await Task.Delay(IdleFoldDelay, cancellationToken);
                    if (Interlocked.Read(ref appends) != seen)
                    {
                        continue;
                    }
                }

                await FoldChunkAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is SqliteException or IOException or InvalidOperationException)
        {
            // Nothing is lost: the rows stay in the log, reads see them, and the next write starts the fold again.
            if (logger is not null)
            {
                LogFoldFailed(logger, path, ex.Message);
            }
        }
        finally
        {
            Volatile.Write(ref foldLoopRunning, 0);
        }

        // A write that came after the last look found the loop still running and did not start it again.
        if (Interlocked.Read(ref appends) != seen)
        {
            StartFoldLoop();
        }
    }

    /// <summary>Stops the background fold (what it has not folded stays pending in the log, visible to reads).</summary>
    public void Dispose()
    {
        if (!stopping.IsCancellationRequested)
        {
            stopping.Cancel();
            try
            {
                foldLoop.Wait(TimeSpan.FromSeconds(10));
            }
            catch (AggregateException)
            {
                // Its failures are logged by the loop itself.
            }

            stopping.Dispose();
            appendGate.Dispose();
            foldGate.Dispose();
            pendingLog.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Folding the SQLite store {Path} failed ({Reason}); its readings stay in the log, readable, and the next write tries again")]
    private static partial void LogFoldFailed(ILogger logger, string path, string reason);

    /// <summary>How many log rows are past the folded mark (an upper bound: superseded rows leave gaps).</summary>
    private static async Task<long> PendingAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync(connection, transaction, $"""
            SELECT max(0, coalesce((SELECT max(seq) FROM log.observation_log), 0) - coalesce((SELECT value FROM main.store_state WHERE name = '{FoldedState}'), 0))
            """, cancellationToken), CultureInfo.InvariantCulture);

    /// <summary>
    /// Folds at most <paramref name="limit"/> log rows after the folded mark, in seq order, into the clustered tables,
    /// within <paramref name="transaction"/>; returns how many it took. Of one id, only its latest row counts: an
    /// earlier pending row is deleted; an id already folded is replaced when anything changed (its old log row deleted,
    /// the roll-ups of both hours rebuilt) or the new row dropped when not. An id whose later row is beyond the chunk is
    /// folded now and replaced by a later chunk: the same result.
    /// </summary>
    private static async Task<int> FoldAsync(SqliteConnection connection, SqliteTransaction transaction, int limit, CancellationToken cancellationToken)
    {
        var folded = Convert.ToInt64(await ScalarAsync(connection, transaction, $"SELECT coalesce((SELECT value FROM store_state WHERE name = '{FoldedState}'), 0)", cancellationToken), CultureInfo.InvariantCulture);
        var keys = new List<(long Seq, string Id)>();
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = transaction;
            select.CommandText = "SELECT seq, id FROM observation_log WHERE seq > $folded ORDER BY seq LIMIT $limit";
            select.Parameters.AddWithValue("$folded", folded);
            select.Parameters.AddWithValue("$limit", limit);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add((reader.GetInt64(0), reader.GetString(1)));
            }
        }

        if (keys.Count == 0)
        {
            return 0;
        }

        var lastSeq = keys[^1].Seq;
        var latest = new Dictionary<string, long>(keys.Count, StringComparer.Ordinal);
        foreach (var (seq, id) in keys)
        {
            latest[id] = Math.Max(seq, latest.GetValueOrDefault(id));
        }

        // New readings, in bulk, by SQL. An id written twice in the chunk or already folded (a replay, a correction, a
        // tracker re-sending the day's step count) takes the row-by-row path, which applies "the latest wins"; its ids
        // are apart from the bulk's, so the two can go one after the other.
        var byRow = new HashSet<string>(keys.Where(k => latest[k.Id] != k.Seq).Select(k => k.Id), StringComparer.Ordinal);
        byRow.UnionWith(await FoldedIdsAsync(connection, transaction, folded, lastSeq, cancellationToken));
        await MarkByRowAsync(connection, transaction, [.. keys.Where(k => byRow.Contains(k.Id)).Select(k => k.Seq)], cancellationToken);
        await FoldNewInBulkAsync(connection, transaction, folded, lastSeq, cancellationToken);
        if (byRow.Count == 0)
        {
            await MarkFoldedAsync(connection, transaction, lastSeq, cancellationToken);
            return keys.Count;
        }

        var rows = await ByRowAsync(connection, transaction, cancellationToken);
        await using var folder = new Folder(connection, transaction);
        foreach (var superseded in rows.Where(r => latest[r.Id] != r.Seq))
        {
            await folder.DeleteLogRowAsync(superseded.Seq, cancellationToken);
        }

        // In series order: consecutive inserts land on the same tail pages.
        rows.RemoveAll(r => latest[r.Id] != r.Seq);
        rows.Sort(static (a, b) =>
        {
            var order = string.CompareOrdinal(a.Patient, b.Patient);
            order = order != 0 ? order : string.CompareOrdinal(a.Code, b.Code);
            order = order != 0 ? order : a.Time.CompareTo(b.Time);
            return order != 0 ? order : string.CompareOrdinal(a.Id, b.Id);
        });
        foreach (var row in rows)
        {
            await folder.FoldAsync(row, cancellationToken);
        }

        await MarkFoldedAsync(connection, transaction, lastSeq, cancellationToken);
        return keys.Count;
    }

    /// <summary>The log rows listed in <c>temp.fold_by_row</c>, with their numbers, in seq order.</summary>
    private static async Task<List<LogRow>> ByRowAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        var rows = new List<LogRow>();
        await using var select = connection.CreateCommand();
        select.Transaction = transaction;
        select.CommandText = "SELECT seq, id, patient, code, effective_ms, value, components, id_key FROM observation_log WHERE seq IN (SELECT seq FROM temp.fold_by_row) ORDER BY seq";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new LogRow(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
                reader.IsDBNull(5) ? null : reader.GetDouble(5), reader.IsDBNull(6) ? null : reader.GetString(6), DecodeNumbers(reader, 5), reader.GetInt64(7)));
        }

        return rows;
    }

    /// <summary>
    /// Lists <paramref name="seqs"/> in <c>temp.fold_by_row</c>, which the bulk fold leaves out (a table of
    /// the connection, emptied first: pooled connections keep it).
    /// </summary>
    private static async Task MarkByRowAsync(SqliteConnection connection, SqliteTransaction transaction, List<long> seqs, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, "CREATE TEMP TABLE IF NOT EXISTS fold_by_row (seq INTEGER PRIMARY KEY); DELETE FROM temp.fold_by_row", cancellationToken);
        if (seqs.Count == 0)
        {
            return;
        }

        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO temp.fold_by_row (seq) VALUES ($seq)";
        var parameter = insert.Parameters.Add("$seq", SqliteType.Integer);
        foreach (var seq in seqs)
        {
            parameter.Value = seq;
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task MarkFoldedAsync(SqliteConnection connection, SqliteTransaction transaction, long lastSeq, CancellationToken cancellationToken)
    {
        await using var mark = connection.CreateCommand();
        mark.Transaction = transaction;
        mark.CommandText = $"INSERT INTO store_state (name, value) VALUES ('{FoldedState}', $seq) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        mark.Parameters.AddWithValue("$seq", lastSeq);
        await mark.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The numbers of the log rows in ($after, $last] left to the bulk fold (<see cref="NumbersOf"/>).</summary>
    private static readonly string FoldNumbers = NumbersOf("observation_log", BulkRows, "patient", "code", "effective_ms", "id");

    /// <summary>The log rows of the bulk fold: those in ($after, $last] not left to the row-by-row path.</summary>
    private const string BulkRows = "seq > $after AND seq <= $last AND seq NOT IN (SELECT seq FROM temp.fold_by_row)";

    /// <summary>
    /// The ids of the log rows in (<paramref name="after"/>, <paramref name="last"/>] that are folded already: their key
    /// in the index, then the id of the row it points at (two ids may share a key).
    /// </summary>
    private static async Task<List<string>> FoldedIdsAsync(SqliteConnection connection, SqliteTransaction transaction, long after, long last, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT l.id FROM observation_log l JOIN observation_id i ON i.key = l.id_key JOIN observation_log o ON o.seq = i.seq AND o.id = l.id WHERE l.seq > $after AND l.seq <= $last";
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$last", last);
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>
    /// Folds the log rows in (<paramref name="after"/>, <paramref name="last"/>] except those listed in
    /// <c>temp.fold_by_row</c> (<see cref="MarkByRowAsync"/>), all of new ids, one statement per table:
    /// the keys and numbers inserted in the order of each table's key (a B-tree filled in order touches each page once), the roll-ups of each (series, hour, field) merged with one upsert
    /// (the same rule for the last reading as the row-by-row path: the latest time, then the greatest id).
    /// </summary>
    private static async Task FoldNewInBulkAsync(SqliteConnection connection, SqliteTransaction transaction, long after, long last, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $$"""
            INSERT INTO observation_id (key, seq) SELECT id_key, seq FROM observation_log WHERE {{BulkRows}} ORDER BY id_key, seq;
            INSERT INTO observation (patient, code, effective_ms, id, seq, value, components)
            SELECT patient, code, effective_ms, id, seq, value, components FROM observation_log WHERE {{BulkRows}} ORDER BY patient, code, effective_ms, id;
            WITH numbers AS ({{FoldNumbers}})
            INSERT INTO observation_hourly (patient, code, hour_ms, field, n, total, low, high, last_ms, last_id, last_value)
            SELECT patient, code, bucket, field, n, total, low, high, last_ms, last_id, last_value
            FROM ({{BucketsOfNumbers(HourMsSql, "patient", "code")}})
            WHERE true
            ORDER BY patient, code, bucket, field
            ON CONFLICT DO UPDATE SET n = n + excluded.n, total = total + excluded.total, low = min(low, excluded.low), high = max(high, excluded.high),
                last_value = CASE WHEN (excluded.last_ms, excluded.last_id) > (last_ms, coalesce(last_id, '')) THEN excluded.last_value ELSE last_value END,
                last_id = CASE WHEN (excluded.last_ms, excluded.last_id) > (last_ms, coalesce(last_id, '')) THEN excluded.last_id ELSE last_id END,
                last_ms = max(last_ms, excluded.last_ms);
            """;
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$last", last);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Rebuilds the roll-up rows of one (subject, code, hour) from the readings: after a rewrite, a retention cut or a
    /// migration, when a minimum or a last value may have left and cannot be updated by difference.
    /// </summary>
    private static async Task RecomputeHourAsync(SqliteConnection connection, SqliteTransaction transaction, string patient, string code, long hourMs, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"""
            DELETE FROM observation_hourly WHERE patient = $patient AND code = $code AND hour_ms = $hour;
            WITH numbers AS ({SeriesNumbers("$patient", "$code", "$hour", "$hour + 3599999")})
            INSERT INTO observation_hourly (patient, code, hour_ms, field, n, total, low, high, last_ms, last_id, last_value)
            SELECT $patient, $code, $hour, field, n, total, low, high, last_ms, last_id, last_value FROM ({BucketsOfNumbers(HourMsSql)});
            """;
        command.Parameters.AddWithValue("$patient", patient);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$hour", hourMs);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary><see cref="HourMs"/> as SQL text.</summary>
    private const string HourMsSql = "3600000";

    /// <summary>
    /// The numbers of the rows of <paramref name="table"/> (<c>observation_log</c> or <c>observation</c>, which both hold
    /// them as <c>value</c> and <c>components</c>) that match <paramref name="where"/> (an SQL condition on its unqualified
    /// columns), one row per field: <paramref name="columns"/>, then <c>field</c> and <c>value</c>; <c>value</c> first,
    /// then the components' read from their JSON object.
    /// </summary>
    private static string NumbersOf(string table, string where, params string[] columns)
    {
        var selected = string.Join(", ", columns.Select(c => $"r.{c} AS {c}"));
        return $"""
            SELECT {selected}, 'value' AS field, r.value AS value FROM {table} r WHERE {where} AND r.value IS NOT NULL
            UNION ALL
            SELECT {selected}, j.key, j.value FROM {table} r, json_each(r.components) j WHERE {where} AND r.components IS NOT NULL
            """;
    }

    /// <summary>
    /// The numbers of the folded readings of one series in a window (<c>effective_ms, id, field, value</c>); the arguments
    /// are SQL expressions (parameter names).
    /// </summary>
    internal static string SeriesNumbers(string subject, string code, string from, string through) =>
        NumbersOf("observation", $"patient = {subject} AND code = {code} AND effective_ms BETWEEN {from} AND {through}", "effective_ms", "id");

    /// <summary>
    /// The buckets of <paramref name="width"/> (an SQL expression) of a CTE <c>numbers</c> (<see cref="NumbersOf"/>), per
    /// <paramref name="series"/> columns when it holds several series: <c>series..., bucket, field, n, total, low, high,
    /// last_ms, last_id, last_value</c>, grouped in that order, the last being the latest time, then the greatest id (the
    /// order of the raw trend reads; the roll-up upserts and <see cref="Bucket.Merge"/> keep the same rule).
    /// </summary>
    internal static string BucketsOfNumbers(string width, params string[] series)
    {
        var prefix = string.Concat(series.Select(c => c + ", "));
        var bucket = $"effective_ms - (((effective_ms % {width}) + {width}) % {width})";
        return $"""
            SELECT {prefix}bucket, field, count(*) AS n, sum(value) AS total, min(value) AS low, max(value) AS high, max(effective_ms) AS last_ms,
                   max(CASE WHEN latest = 1 THEN id END) AS last_id, max(CASE WHEN latest = 1 THEN value END) AS last_value
            FROM (
                SELECT {prefix}{bucket} AS bucket, field, effective_ms, id, value,
                       row_number() OVER (PARTITION BY {prefix}{bucket}, field ORDER BY effective_ms DESC, id DESC) AS latest
                FROM numbers)
            GROUP BY {prefix}bucket, field
            """;
    }

    /// <summary>
    /// The numbers of an Observation as the log keeps them (<see cref="ObservationKeys.NumericFields"/>): the value in
    /// <c>value</c>, the components' as a JSON object by field (null when there are none), which SQL can read too.
    /// </summary>
    private static (double? Value, string? Components) EncodeNumbers(IEnumerable<(string Field, double Value)> numbers)
    {
        double? value = null;
        StringBuilder? components = null;
        foreach (var (field, number) in numbers)
        {
            if (field == ObservationKeys.ValueField)
            {
                value = number;
                continue;
            }

            components = components is null ? new StringBuilder("{") : components.Append(',');
            components.Append(JsonSerializer.Serialize(field)).Append(':').Append(number.ToString("R", CultureInfo.InvariantCulture));
        }

        return (value, components?.Append('}').ToString());
    }

    /// <summary>The numbers of the <c>value, components</c> columns at <paramref name="first"/>, in the order of <see cref="ObservationKeys.NumericFields"/>.</summary>
    private static (string Field, double Value)[] DecodeNumbers(SqliteDataReader reader, int first)
    {
        var components = DecodeComponents(reader.IsDBNull(first + 1) ? null : reader.GetString(first + 1));
        return reader.IsDBNull(first) ? [.. components] : [(ObservationKeys.ValueField, reader.GetDouble(first)), .. components];
    }

    private static List<(string Field, double Value)> DecodeComponents(string? components)
    {
        var fields = new List<(string Field, double Value)>();
        if (components is not null)
        {
            using var document = JsonDocument.Parse(components);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                fields.Add((property.Name, property.Value.GetDouble()));
            }
        }

        return fields;
    }

    /// <summary>
    /// True when log rows <c>o</c> and <c>n</c> hold the same Observation apart from its subject, code and time (a shape id
    /// names one shape: the appender never stores two under one id).
    /// </summary>
    private const string SameLogContent = """
        o.shape IS n.shape AND o.style IS n.style AND o.issued_ms IS n.issued_ms AND o.identifier IS n.identifier
            AND o.value IS n.value AND o.components IS n.components AND o.resource IS n.resource AND o.device IS n.device AND o.unit IS n.unit
        """;

    /// <summary>A log row to fold: its numbers as stored (<c>value</c>, <c>components</c>) and decoded (<see cref="Fields"/>).</summary>
    private sealed record LogRow(long Seq, string Id, string Patient, string Code, long Time, double? Value, string? Components, (string Field, double Value)[] Fields, long IdKey);

    /// <summary>A reading with the columns of its log row computed (<see cref="LogAppender.Prepare"/>).</summary>
    private sealed record PreparedReading(Observation Observation, SplitObservation Split, string Patient, string Code, long EffectiveMs, string? Unit, double? Value, string? Components, long IdKey);

    /// <summary>
    /// Appends Observations to <c>observation_log</c> of one file with one prepared command, numbering them after the
    /// largest seq of both files and the folded mark: in the log file each as its shape's id and its parts, the shape
    /// stored once, or as its own JSON when it does not split; in the main file (a migration) as its own JSON, so that
    /// the main file never points at a shape of the other file that a crash between their commits could lose.
    /// </summary>
    private sealed class LogAppender : IAsyncDisposable
    {
        private readonly sqlite3 database;

        /// <summary>
        /// The insert, as SQLite's own prepared statement bound by position: through <see cref="SqliteCommand"/> each row
        /// cost as much again (parameters looked up by name, statements re-listed: BENCHMARKS.md, "SQLite ingest").
        /// </summary>
        private readonly sqlite3_stmt insert;

        private readonly SqliteCommand storeShape;

        /// <summary>The shapes this append stored or found, and whether the one stored under that id is the same text.</summary>
        private readonly Dictionary<long, bool> shapes = [];
        private long nextSeq;

        private readonly bool splitShapes;

        private LogAppender(sqlite3 database, sqlite3_stmt insert, SqliteCommand storeShape, long lastSeq, bool splitShapes)
        {
            this.database = database;
            this.insert = insert;
            this.storeShape = storeShape;
            this.splitShapes = splitShapes;
            nextSeq = lastSeq + 1;
        }

        /// <param name="schema"><c>log</c> for readings, <c>main</c> for a migration's rewrite.</param>
        public static async Task<LogAppender> CreateAsync(SqliteConnection connection, SqliteTransaction transaction, string schema, CancellationToken cancellationToken)
        {
            // After the folded mark too: the fold deletes the rows it folded from the log, and a seq at or below the mark
            // would never be folded.
            var last = await ScalarAsync(connection, transaction, $"""
                SELECT max(coalesce((SELECT max(seq) FROM log.observation_log), 0), coalesce((SELECT max(seq) FROM main.observation_log), 0),
                           coalesce((SELECT value FROM main.store_state WHERE name = '{FoldedState}'), 0))
                """, cancellationToken);
            var database = connection.Handle!;
            SqliteException.ThrowExceptionForRC(
                raw.sqlite3_prepare_v2(database, $"INSERT INTO {schema}.observation_log ({LogColumns}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", out var insert),
                database);

            // Once per shape and append: a shape erasure pruned is stored again before a row points at it.
            var storeShape = connection.CreateCommand();
            storeShape.Transaction = transaction;
            storeShape.CommandText = """
                INSERT INTO log.observation_shape (id, resource) VALUES ($id, $resource) ON CONFLICT (id) DO NOTHING;
                SELECT resource = $resource FROM log.observation_shape WHERE id = $id;
                """;
            storeShape.Parameters.Add("$id", SqliteType.Integer);
            storeShape.Parameters.Add("$resource", SqliteType.Text);
            return new LogAppender(database, insert, storeShape, Convert.ToInt64(last, CultureInfo.InvariantCulture), schema == "log");
        }

        /// <summary>The number of the last row appended.</summary>
        public long LastSeq => nextSeq - 1;

        /// <summary>
        /// Everything of a reading the log row holds that does not need the database: computed by the writer itself before
        /// it waits for the log's gate (WriteAsync), beside the append in progress, and where the store refuses a reading
        /// (no id, no time): before its batch joins any other.
        /// </summary>
        public static PreparedReading Prepare(Observation observation, bool splitShapes = true)
        {
            var split = splitShapes
                ? ObservationShapes.Split(observation)
                : new SplitObservation(null, 0, null, ObservationKeys.Serializer.SerializeToString(observation));
            // A split reading's parts hold exactly its numeric fields (its value, then the first component of each
            // code): taken from there rather than walked again.
            var (value, components) = EncodeNumbers(split.Parts is { } parts
                ? (parts.Value is { } number ? [(ObservationKeys.ValueField, number), .. parts.Components] : parts.Components)
                : ObservationKeys.NumericFields(observation));
            return new PreparedReading(
                observation, split, observation.Subject?.Reference ?? string.Empty, ObservationKeys.CodeToken(observation),
                split.Parts?.EffectiveMs ?? ObservationKeys.EffectiveMilliseconds(observation), ObservationKeys.UnitOf(observation), value, components,
                ObservationIdKey.Of(observation.Id ?? throw new ArgumentException("an Observation must have an id to be stored", nameof(observation))));
        }

        public Task AppendAsync(Observation observation, CancellationToken cancellationToken) =>
            AppendAsync(Prepare(observation, splitShapes), cancellationToken);

        public async Task AppendAsync(PreparedReading reading, CancellationToken cancellationToken)
        {
            var observation = reading.Observation;
            var split = reading.Split;
            if (split.Shape is not null && !await StoreShapeAsync(split.ShapeId, split.Shape, cancellationToken))
            {
                // Another shape holds this hash (64 bits: not expected in practice): this reading keeps its own JSON.
                split = split with { Shape = null, Parts = null, OwnJson = ObservationKeys.Serializer.SerializeToString(observation) };
            }

            var parts = split.Shape is null ? null : split.Parts;

            // In the order of LogColumns.
            BindInteger(1, nextSeq);
            BindText(2, observation.Id);
            BindText(3, reading.Patient);
            BindText(4, reading.Code);
            BindInteger(5, reading.EffectiveMs);
            BindText(6, observation.Device?.Reference);
            BindText(7, reading.Unit);
            Check(reading.Value is { } number ? raw.sqlite3_bind_double(insert, 8, number) : raw.sqlite3_bind_null(insert, 8));
            BindText(9, reading.Components);
            BindInteger(10, parts is null ? null : split.ShapeId);
            BindInteger(11, parts is null ? null : (int)parts.Style);
            BindInteger(12, parts?.IssuedMs);
            BindText(13, parts?.Identifier);
            BindText(14, split.OwnJson);
            BindInteger(15, reading.IdKey);
            var stepped = raw.sqlite3_step(insert);
            raw.sqlite3_reset(insert);
            if (stepped != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(stepped, database);
            }

            nextSeq++;
        }

        private void BindInteger(int index, long? value) =>
            Check(value is { } number ? raw.sqlite3_bind_int64(insert, index, number) : raw.sqlite3_bind_null(insert, index));

        private void BindText(int index, string? value) =>
            Check(value is null ? raw.sqlite3_bind_null(insert, index) : raw.sqlite3_bind_text(insert, index, value));

        private void Check(int result) => SqliteException.ThrowExceptionForRC(result, database);

        private async Task<bool> StoreShapeAsync(long id, string shape, CancellationToken cancellationToken)
        {
            if (!shapes.TryGetValue(id, out var same))
            {
                storeShape.Parameters[0].Value = id;
                storeShape.Parameters[1].Value = shape;
                same = Convert.ToInt64(await storeShape.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 1;
                shapes[id] = same;
            }

            return same;
        }

        public async ValueTask DisposeAsync()
        {
            insert.Dispose();
            await storeShape.DisposeAsync();
        }
    }

    /// <summary>The prepared commands of a fold.</summary>
    private sealed class Folder : IAsyncDisposable
    {
        private readonly SqliteConnection connection;
        private readonly SqliteTransaction transaction;
        private readonly SqliteCommand claimId, insertRow, upsertHour, findOld, deleteLogRow;

        public Folder(SqliteConnection connection, SqliteTransaction transaction)
        {
            this.connection = connection;
            this.transaction = transaction;
            claimId = Command("INSERT INTO observation_id (key, seq) VALUES ($key, $seq)", "$key", "$seq");
            insertRow = Command(
                "INSERT INTO observation (patient, code, effective_ms, id, seq, value, components) VALUES ($patient, $code, $time, $id, $seq, $value, $components)",
                "$patient", "$code", "$time", "$id", "$seq", "$value", "$components");

            // The last reading of the hour is the latest time, then the greatest id (the order of the raw trend reads).
            // The right-hand sides of an UPDATE see the row as it was, so the three last_ columns are decided together.
            upsertHour = Command("""
                INSERT INTO observation_hourly (patient, code, hour_ms, field, n, total, low, high, last_ms, last_id, last_value)
                VALUES ($patient, $code, $hour, $field, 1, $value, $value, $value, $time, $id, $value)
                ON CONFLICT DO UPDATE SET n = n + 1, total = total + excluded.total, low = min(low, excluded.low), high = max(high, excluded.high),
                    last_value = CASE WHEN (excluded.last_ms, excluded.last_id) > (last_ms, coalesce(last_id, '')) THEN excluded.last_value ELSE last_value END,
                    last_id = CASE WHEN (excluded.last_ms, excluded.last_id) > (last_ms, coalesce(last_id, '')) THEN excluded.last_id ELSE last_id END,
                    last_ms = max(last_ms, excluded.last_ms)
                """,
                "$patient", "$code", "$hour", "$field", "$value", "$time", "$id");
            findOld = Command($"""
                SELECT o.seq, o.patient, o.code, o.effective_ms, {SameLogContent}
                FROM observation_id i JOIN observation_log o ON o.seq = i.seq AND o.id = $id JOIN observation_log n ON n.seq = $seq
                WHERE i.key = $key
                """, "$id", "$seq", "$key");
            deleteLogRow = Command("DELETE FROM observation_log WHERE seq = $seq", "$seq");
        }

        private SqliteCommand Command(string sql, params string[] parameters)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            return command;
        }

        public Task<int> DeleteLogRowAsync(long seq, CancellationToken cancellationToken) => ExecuteAsync(deleteLogRow, cancellationToken, seq);

        /// <summary>Folds one row: as a new Observation when its id was never folded, else over the folded one.</summary>
        public async Task FoldAsync(LogRow row, CancellationToken cancellationToken)
        {
            var fields = row.Fields;
            var old = await FindOldAsync(row, cancellationToken);
            if (old is null)
            {
                await ExecuteAsync(claimId, cancellationToken, row.IdKey, row.Seq);
                await InsertRowAsync(row, cancellationToken);
                foreach (var (field, value) in fields)
                {
                    await ExecuteAsync(upsertHour, cancellationToken, row.Patient, row.Code, StoreReads.BucketStart(row.Time, HourMs), field, value, row.Time, row.Id);
                }

                return;
            }

            await ReplaceAsync(row, fields, old.Value, cancellationToken);
        }

        private Task<int> InsertRowAsync(LogRow row, CancellationToken cancellationToken) =>
            ExecuteAsync(insertRow, cancellationToken, row.Patient, row.Code, row.Time, row.Id, row.Seq, (object?)row.Value ?? DBNull.Value, (object?)row.Components ?? DBNull.Value);

        /// <summary>The folded row of the same id, if any, and whether <paramref name="row"/> says exactly what it says.</summary>
        private async Task<(long Seq, string Patient, string Code, long Time, bool SameContent)?> FindOldAsync(LogRow row, CancellationToken cancellationToken)
        {
            findOld.Parameters[0].Value = row.Id;
            findOld.Parameters[1].Value = row.Seq;
            findOld.Parameters[2].Value = row.IdKey;
            await using var reader = await findOld.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? (reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetBoolean(4))
                : null;
        }

        /// <summary>The id was folded before: the new row is dropped when it says the same, else it replaces the old one.</summary>
        private async Task ReplaceAsync(
            LogRow row, (string Field, double Value)[] fields, (long Seq, string Patient, string Code, long Time, bool SameContent) old, CancellationToken cancellationToken)
        {
            var (oldSeq, oldPatient, oldCode, oldTime, sameContent) = old;
            if (sameContent && oldPatient == row.Patient && oldCode == row.Code && oldTime == row.Time)
            {
                await DeleteLogRowAsync(row.Seq, cancellationToken);
                return;
            }

            await using (var replace = connection.CreateCommand())
            {
                replace.Transaction = transaction;
                replace.CommandText = """
                    DELETE FROM observation WHERE patient = $oldPatient AND code = $oldCode AND effective_ms = $oldTime AND id = $id;
                    DELETE FROM observation_log WHERE seq = $oldSeq;
                    UPDATE observation_id SET seq = $seq WHERE key = $key AND seq = $oldSeq;
                    """;
                replace.Parameters.AddWithValue("$key", row.IdKey);
                replace.Parameters.AddWithValue("$oldPatient", oldPatient);
                replace.Parameters.AddWithValue("$oldCode", oldCode);
                replace.Parameters.AddWithValue("$oldTime", oldTime);
                replace.Parameters.AddWithValue("$oldSeq", oldSeq);
                replace.Parameters.AddWithValue("$id", row.Id);
                replace.Parameters.AddWithValue("$seq", row.Seq);
                await replace.ExecuteNonQueryAsync(cancellationToken);
            }

            await InsertRowAsync(row, cancellationToken);
            await RecomputeHourAsync(connection, transaction, oldPatient, oldCode, StoreReads.BucketStart(oldTime, HourMs), cancellationToken);
            await RecomputeHourAsync(connection, transaction, row.Patient, row.Code, StoreReads.BucketStart(row.Time, HourMs), cancellationToken);
        }

        private static Task<int> ExecuteAsync(SqliteCommand command, CancellationToken cancellationToken, params object[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i];
            }

            return command.ExecuteNonQueryAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var command in new[] { claimId, insertRow, upsertHour, findOld, deleteLogRow })
            {
                await command.DisposeAsync();
            }
        }
    }
}
