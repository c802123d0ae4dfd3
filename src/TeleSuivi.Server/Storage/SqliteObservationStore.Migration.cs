using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// Opening a file of an earlier schema migrates it in place, in the one transaction that opens it: an interrupted
/// migration (a crash, a full disk) leaves the file as it was, and the next start begins again.
/// </summary>
/// <remarks>
/// Version 1 (<c>observation</c> as a rowid table with the JSON, its id index and two patient indexes, and
/// <c>observation_value</c> clustered by (patient, code, field, time, id) with an id index) is copied by SQL in chunks of
/// <see cref="MigrationChunk"/> Observations, each keeping its rowid as seq in the log, already folded; the roll-ups are
/// then computed from the numbers. Version 0 (the JSON and the search columns only) is read back and written again as
/// new readings, and folded. Both go straight to the current schema.
/// Version 2 (the same tables as now, but every log row with its whole FHIR JSON and its numbers as <c>field TAB value</c>
/// lines) keeps its rows and their JSON: the log is copied by seq in chunks, the numbers moved to the typed columns. Only
/// readings written after the migration are stored as shapes and parts.
/// Version 4 and older index ids by their text and keep each number of a reading in a row of its own: the index is rebuilt on
/// the ids' 64-bit keys (<see cref="KeyTheIdIndexAsync"/>), the numbers moved into the reading's row (<see cref="MoveNumbersIntoObservationAsync"/>).
/// </remarks>
public sealed partial class SqliteObservationStore
{
    /// <summary>Observations copied per step of a migration, each step followed by a progress line.</summary>
    internal const int MigrationChunk = 50_000;

    private async Task MigrateFromRowidTablesAsync(SqliteConnection connection, SqliteTransaction transaction, int version, CancellationToken cancellationToken)
    {
        var log = Log;
        var clock = Stopwatch.StartNew();
        var total = await Int64Async(connection, transaction, "SELECT count(*) FROM observation", cancellationToken);
        var lastRowId = await Int64Async(connection, transaction, "SELECT coalesce(max(rowid), 0) FROM observation", cancellationToken);
        var hasNumbers = version >= 1 && await HasTableAsync(connection, transaction, "main", "observation_value", cancellationToken);
        LogMigrationStart(log, path, version, SchemaVersion, total);

        await ExecuteAsync(connection, transaction, hasNumbers
            ? "ALTER TABLE observation RENAME TO observation_v1; ALTER TABLE observation_value RENAME TO observation_value_v1;"
            : "ALTER TABLE observation RENAME TO observation_v1;", cancellationToken);
        await ExecuteAsync(connection, transaction, SchemaDdl, cancellationToken);

        // Version 1's numbers go through version 4's table, from which the roll-ups are computed below and the numbers
        // then moved into observation (MoveNumbersIntoObservationAsync), as for any file of version 4.
        await ExecuteAsync(connection, transaction, Version4NumbersDdl, cancellationToken);

        long copied = 0;
        for (var first = 1L; first <= lastRowId; first += MigrationChunk)
        {
            var last = first + MigrationChunk - 1;
            copied += hasNumbers
                ? await CopyVersion1ChunkAsync(connection, transaction, first, last, cancellationToken)
                : await RewriteVersion0ChunkAsync(connection, transaction, first, last, cancellationToken);
            LogMigrationProgress(log, path, copied, total);
        }

        if (hasNumbers)
        {
            // Version 0 rows were written as readings, roll-ups included; version 1 rows are copied, their roll-ups computed here.
            LogMigrationRollUps(log, path);
            await ExecuteAsync(connection, transaction, """
                INSERT INTO observation_hourly (patient, code, hour_ms, field, n, total, low, high, last_ms)
                SELECT patient, code, effective_ms - (((effective_ms % 3600000) + 3600000) % 3600000) AS hour, field,
                       count(*), sum(value), min(value), max(value), max(effective_ms)
                FROM observation_value GROUP BY patient, code, hour, field;
                UPDATE observation_hourly SET (last_id, last_value) = (
                    SELECT v.id, v.value FROM observation_value v
                    WHERE v.patient = observation_hourly.patient AND v.code = observation_hourly.code
                      AND v.effective_ms = observation_hourly.last_ms AND v.field = observation_hourly.field
                    ORDER BY v.id DESC LIMIT 1);
                DROP TABLE observation_value_v1;
                INSERT INTO store_state (name, value) SELECT 'folded_seq', coalesce(max(seq), 0) FROM observation_log;
                """, cancellationToken);
        }

        await ExecuteAsync(connection, transaction, "DROP TABLE observation_v1", cancellationToken);
        LogMigrationDone(log, path, copied, clock.Elapsed.TotalSeconds);
    }

    private static async Task<long> CopyVersion1ChunkAsync(SqliteConnection connection, SqliteTransaction transaction, long first, long last, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"""
            INSERT INTO observation_log (seq, id, patient, code, effective_ms, device, unit, resource)
            SELECT rowid, id, coalesce(patient, ''), code, effective_ms, device, unit, resource FROM observation_v1 WHERE rowid BETWEEN $first AND $last;
            INSERT INTO observation (patient, code, effective_ms, id, seq)
            SELECT coalesce(patient, ''), code, effective_ms, id, rowid FROM observation_v1 WHERE rowid BETWEEN $first AND $last;
            INSERT INTO observation_id (key, seq) SELECT {ObservationIdKey.SqlFunction}(id), rowid FROM observation_v1 WHERE rowid BETWEEN $first AND $last;
            INSERT INTO observation_value (patient, code, effective_ms, id, field, value)
            SELECT v.patient, v.code, v.effective_ms, v.id, v.field, v.value
            FROM observation_v1 o JOIN observation_value_v1 v ON v.id = o.id WHERE o.rowid BETWEEN $first AND $last;
            SELECT count(*) FROM observation_v1 WHERE rowid BETWEEN $first AND $last;
            """;
        command.Parameters.AddWithValue("$first", first);
        command.Parameters.AddWithValue("$last", last);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static async Task<long> RewriteVersion0ChunkAsync(SqliteConnection connection, SqliteTransaction transaction, long first, long last, CancellationToken cancellationToken)
    {
        var observations = new List<Hl7.Fhir.Model.Observation>();
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = transaction;
            select.CommandText = "SELECT resource FROM observation_v1 WHERE rowid BETWEEN $first AND $last ORDER BY rowid";
            select.Parameters.AddWithValue("$first", first);
            select.Parameters.AddWithValue("$last", last);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                observations.Add(ObservationKeys.Parse(reader.GetString(0)));
            }
        }

        await using (var appender = await LogAppender.CreateAsync(connection, transaction, "main", cancellationToken))
        {
            foreach (var observation in observations)
            {
                await appender.AppendAsync(observation, cancellationToken);
            }
        }

        await FoldAsync(connection, transaction, int.MaxValue, cancellationToken);
        return observations.Count;
    }

    private static readonly string[] Version3LogColumns = ["$seq", "$id", "$patient", "$code", "$time", "$device", "$unit", "$value", "$components", "$resource"];

    private async Task MigrateFromVersion2Async(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        var log = Log;
        var clock = Stopwatch.StartNew();
        var total = await Int64Async(connection, transaction, "SELECT count(*) FROM observation_log", cancellationToken);
        LogMigrationStart(log, path, 2, SchemaVersion, total);
        await ExecuteAsync(connection, transaction, "ALTER TABLE observation_log RENAME TO observation_log_v2", cancellationToken);
        await ExecuteAsync(connection, transaction, SchemaDdl, cancellationToken);

        await using var select = connection.CreateCommand();
        select.Transaction = transaction;
        select.CommandText = "SELECT seq, id, patient, code, effective_ms, device, unit, fields, resource FROM observation_log_v2 WHERE seq > $after ORDER BY seq LIMIT $chunk";
        select.Parameters.AddWithValue("$chunk", MigrationChunk);
        var after = select.Parameters.AddWithValue("$after", 0L);
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO observation_log (seq, id, patient, code, effective_ms, device, unit, value, components, resource)
            VALUES ($seq, $id, $patient, $code, $time, $device, $unit, $value, $components, $resource)
            """;
        var columns = Version3LogColumns.Select(name => insert.Parameters.Add(new SqliteParameter { ParameterName = name })).ToArray();
        long copied = 0;
        for (var read = -1; read != 0;)
        {
            read = 0;
            await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var (value, components) = DecodeVersion2Numbers(reader.GetString(7));
                    object?[] row = [reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
                        reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), value, components, reader.GetString(8)];
                    for (var i = 0; i < row.Length; i++)
                    {
                        columns[i].Value = row[i] ?? DBNull.Value;
                    }

                    await insert.ExecuteNonQueryAsync(cancellationToken);
                    after.Value = row[0];
                    read++;
                }
            }

            copied += read;
            if (read > 0)
            {
                LogMigrationProgress(log, path, copied, total);
            }
        }

        await ExecuteAsync(connection, transaction, "DROP TABLE observation_log_v2", cancellationToken);
        LogMigrationDone(log, path, copied, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Version 2's <c>field TAB value</c> lines as the <c>value</c> and <c>components</c> columns.</summary>
    private static (double? Value, string? Components) DecodeVersion2Numbers(string fields) =>
        EncodeNumbers(fields.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            return (line[..tab], double.Parse(line.AsSpan(tab + 1), NumberStyles.Float, CultureInfo.InvariantCulture));
        }));

    /// <summary>
    /// Version 5: the log rows get the <c>id_key</c> column (filled for the pending ones: the fold indexes them by it) and
    /// <c>observation_id</c>, indexed by the ids' text until version 4, is rebuilt on their keys, in key order.
    /// </summary>
    private async Task KeyTheIdIndexAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        foreach (var schema in new[] { "main", "log" })
        {
            if (!await HasColumnAsync(connection, transaction, schema, "observation_log", "id_key", cancellationToken))
            {
                await ExecuteAsync(connection, transaction, $"ALTER TABLE {schema}.observation_log ADD COLUMN id_key INTEGER", cancellationToken);
            }
        }

        await FillIdKeysAsync(connection, transaction, cancellationToken);
        if (!await HasColumnAsync(connection, transaction, "main", "observation_id", "id", cancellationToken))
        {
            return;
        }

        await RebuildAsync(connection, transaction, "observation_id", $"""
            ALTER TABLE observation_id RENAME TO observation_id_v4;
            {SchemaDdl}
            INSERT INTO observation_id (key, seq) SELECT {ObservationIdKey.SqlFunction}(id), seq FROM observation_id_v4 ORDER BY 1, 2;
            DROP TABLE observation_id_v4;
            """, total => LogIdIndexStart(Log, path, total), (total, seconds) => LogIdIndexDone(Log, path, total, seconds), cancellationToken);
    }

    private ILogger Log => logger ?? NullLogger.Instance;

    /// <summary>
    /// Runs <paramref name="sql"/>, which rebuilds <paramref name="table"/> in the open transaction; when the table holds
    /// rows, says so before (the store opens when it is done) and after, with the time taken.
    /// </summary>
    private static async Task RebuildAsync(
        SqliteConnection connection, SqliteTransaction transaction, string table, string sql, Action<long> starting, Action<long, double> done, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var total = await Int64Async(connection, transaction, $"SELECT count(*) FROM {table}", cancellationToken);
        if (total > 0)
        {
            starting(total);
        }

        await ExecuteAsync(connection, transaction, sql, cancellationToken);
        if (total > 0)
        {
            done(total, clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>Version 4's table of numbers, one row per field of each folded reading (moved into <c>observation</c> by version 5).</summary>
    private const string Version4NumbersDdl = """
        CREATE TABLE IF NOT EXISTS observation_value (
            patient TEXT NOT NULL,
            code TEXT NOT NULL,
            effective_ms INTEGER NOT NULL,
            id TEXT NOT NULL,
            field TEXT NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (patient, code, effective_ms, id, field)
        ) WITHOUT ROWID;
        """;

    /// <summary>
    /// Version 5: the numbers of each folded reading, one row per field in <c>observation_value</c> until version 4, go into
    /// its <c>observation</c> row as the log row holds them (<c>value</c>, <c>components</c>), and <c>observation_value</c> goes.
    /// Taken from the log row when it has them (rows written since version 2); rows migrated from version 1 kept only
    /// their JSON in the log, so theirs are rebuilt from <c>observation_value</c>, with 17 significant digits (exact).
    /// </summary>
    private async Task MoveNumbersIntoObservationAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        if (!await HasTableAsync(connection, transaction, "main", "observation_value", cancellationToken))
        {
            return;
        }

        const string sameReading = "v.patient = o.patient AND v.code = o.code AND v.effective_ms = o.effective_ms AND v.id = o.id";
        await RebuildAsync(connection, transaction, "observation", $$"""
            ALTER TABLE observation RENAME TO observation_v4;
            {{SchemaDdl}}
            INSERT INTO observation (patient, code, effective_ms, id, seq, value, components)
            SELECT o.patient, o.code, o.effective_ms, o.id, o.seq,
                   CASE WHEN l.value IS NOT NULL OR l.components IS NOT NULL THEN l.value
                        ELSE (SELECT v.value FROM observation_value v WHERE {{sameReading}} AND v.field = 'value') END,
                   CASE WHEN l.value IS NOT NULL OR l.components IS NOT NULL THEN l.components
                        ELSE (SELECT '{' || group_concat(json_quote(v.field) || ':' || printf('%!.17g', v.value), ',') || '}'
                              FROM observation_value v WHERE {{sameReading}} AND v.field <> 'value' HAVING count(*) > 0) END
            FROM observation_v4 o JOIN main.observation_log l ON l.seq = o.seq
            ORDER BY o.patient, o.code, o.effective_ms, o.id;
            DROP TABLE observation_v4;
            DROP TABLE observation_value;
            """, total => LogNumbersMoveStart(Log, path, total), (total, seconds) => LogNumbersMoveDone(Log, path, total, seconds), cancellationToken);
    }

    /// <summary>The key of each log row of the log file that has none (rows of a file of version 4 or older): the fold indexes them by it.</summary>
    private static Task FillIdKeysAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, $"UPDATE log.observation_log SET id_key = {ObservationIdKey.SqlFunction}(id) WHERE id_key IS NULL", cancellationToken);

    /// <summary>
    /// What a file of version 3 or older kept in its one file and now lives in the log file: the shapes, and the rows
    /// acknowledged and not folded yet. Each is copied in a commit of the log file, then deleted from the main file in
    /// a commit of its own: two files commit one after the other, and a crash between the two leaves copies on both
    /// sides, which the next start (and the fold) take once. Nothing to do on a file of version 4.
    /// </summary>
    private static async Task MovePendingToLogFileAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        if (await HasTableAsync(connection, null, "main", "observation_shape", cancellationToken))
        {
            await ExecuteAsync(connection, null, "INSERT OR IGNORE INTO log.observation_shape (id, resource) SELECT id, resource FROM main.observation_shape", cancellationToken);
            await ExecuteAsync(connection, null, "DROP TABLE main.observation_shape", cancellationToken);
        }

        const string mark = $"(SELECT coalesce((SELECT value FROM main.store_state WHERE name = '{FoldedState}'), 0))";
        await ExecuteAsync(connection, null, $"INSERT OR IGNORE INTO log.observation_log ({LogColumns}) SELECT {LogColumns} FROM main.observation_log WHERE seq > {mark}", cancellationToken);
        await FillIdKeysAsync(connection, null, cancellationToken);
        await ExecuteAsync(connection, null, $"DELETE FROM main.observation_log WHERE seq > {mark}", cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrating the SQLite store {Path} from schema {From} to {To}: {Total} Observations; the store opens when it is done")]
    private static partial void LogMigrationStart(ILogger logger, string path, int from, int to, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Migrating {Path}: {Copied} of {Total} Observations copied")]
    private static partial void LogMigrationProgress(ILogger logger, string path, long copied, long total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrating the SQLite store {Path} to schema 5: indexing the ids of {Total} Observations by their 64-bit key; the store opens when it is done")]
    private static partial void LogIdIndexStart(ILogger logger, string path, long total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrated the SQLite store {Path} to schema 5: {Total} ids indexed in {Seconds:F1} s")]
    private static partial void LogIdIndexDone(ILogger logger, string path, long total, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrating the SQLite store {Path} to schema 5: moving the numbers of {Total} Observations into their rows; the store opens when it is done")]
    private static partial void LogNumbersMoveStart(ILogger logger, string path, long total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrated the SQLite store {Path} to schema 5: the numbers of {Total} Observations moved in {Seconds:F1} s")]
    private static partial void LogNumbersMoveDone(ILogger logger, string path, long total, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Migrating {Path}: computing the hourly roll-ups")]
    private static partial void LogMigrationRollUps(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrated the SQLite store {Path}: {Copied} Observations in {Seconds:F1} s")]
    private static partial void LogMigrationDone(ILogger logger, string path, long copied, double seconds);
}
