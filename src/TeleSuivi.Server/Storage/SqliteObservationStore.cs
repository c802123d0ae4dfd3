using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The embedded observation store: one SQLite file in WAL mode, the Observation kept as FHIR JSON beside
/// the columns it is searched by, and its numbers in a table of their own for trends.
/// </summary>
/// <remarks>
/// Schema (version 1, in <c>PRAGMA user_version</c>):
/// <list type="bullet">
/// <item><c>observation (id PK, patient, code, effective_ms, device, unit, resource)</c>: <c>patient</c> is
/// <c>subject.reference</c>, <c>code</c> the <c>system|code</c> of the first coding, <c>resource</c> the FHIR JSON; indexed
/// by (patient, code, effective_ms, id) and (patient, effective_ms, id).</item>
/// <item><c>observation_value (patient, code, field, effective_ms, id, value)</c>, clustered on that order: one row per
/// number of <see cref="ObservationKeys.NumericFields"/> (<c>value</c>, <c>c:8480-6</c>...), the same fields as InfluxDB.</item>
/// </list>
/// A version-0 file (before the read path) is migrated when it is opened: the new columns and table are filled from
/// the stored JSON.
/// </remarks>
public sealed partial class SqliteObservationStore(string path) : IObservationStore
{
    private const int SchemaVersion = 1;

    private static readonly string[] AddedColumns = ["device", "unit"];

    private static readonly FhirJsonSerializer Serializer = new();

    private readonly string connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    public string Display => $"sqlite:{path}";

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var directory = Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            await using var connection = await OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL", cancellationToken);

            // BEGIN IMMEDIATE: two processes opening the same file migrate it once, one after the other.
            await using var transaction = connection.BeginTransaction(deferred: false);
            await ExecuteAsync(connection, transaction, """
                CREATE TABLE IF NOT EXISTS observation (
                    id TEXT PRIMARY KEY,
                    patient TEXT,
                    code TEXT NOT NULL,
                    effective_ms INTEGER NOT NULL,
                    resource TEXT NOT NULL
                );
                CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, written_at TEXT NOT NULL);
                """, cancellationToken);
            var version = Convert.ToInt32(await ScalarAsync(connection, transaction, "PRAGMA user_version", cancellationToken), CultureInfo.InvariantCulture);
            if (version < SchemaVersion)
            {
                await MigrateToVersion1Async(connection, transaction, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot open the SQLite store {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Version 0 → 1: device and unit columns, the numbers table, indexes with the id as tie-breaker; filled from the stored JSON.</summary>
    private static async Task MigrateToVersion1Async(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        var columns = new HashSet<string>(StringComparer.Ordinal);
        await using (var info = connection.CreateCommand())
        {
            info.Transaction = transaction;
            info.CommandText = "SELECT name FROM pragma_table_info('observation')";
            await using var reader = await info.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                columns.Add(reader.GetString(0));
            }
        }

        var alter = new StringBuilder();
        foreach (var column in AddedColumns.Where(c => !columns.Contains(c)))
        {
            alter.Append(CultureInfo.InvariantCulture, $"ALTER TABLE observation ADD COLUMN {column} TEXT;\n");
        }

        await ExecuteAsync(connection, transaction, alter + """
            DROP INDEX IF EXISTS observation_patient_code_time;
            CREATE INDEX IF NOT EXISTS observation_patient_code_time_id ON observation (patient, code, effective_ms, id);
            CREATE INDEX IF NOT EXISTS observation_patient_time_id ON observation (patient, effective_ms, id);
            CREATE TABLE IF NOT EXISTS observation_value (
                patient TEXT NOT NULL,
                code TEXT NOT NULL,
                field TEXT NOT NULL,
                effective_ms INTEGER NOT NULL,
                id TEXT NOT NULL,
                value REAL NOT NULL,
                PRIMARY KEY (patient, code, field, effective_ms, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS observation_value_id ON observation_value (id);
            DELETE FROM observation_value;
            """, cancellationToken);

        // Observations stored by version 0: their numbers, device and unit come from their JSON.
        var stored = new List<Observation>();
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = transaction;
            select.CommandText = "SELECT resource FROM observation";
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored.Add(ObservationKeys.Parse(reader.GetString(0)));
            }
        }

        if (stored.Count > 0)
        {
            await using var writer = new RowWriter(connection, transaction);
            foreach (var observation in stored)
            {
                await writer.WriteAsync(observation, cancellationToken);
            }
        }

        await ExecuteAsync(connection, transaction, string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version = {SchemaVersion}"), cancellationToken);
    }

    public async Task WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken)
    {
        if (observations.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);

        // A batch of a cohort touches index pages all over the file (one series per patient and code), and WAL mode
        // writes every page a transaction changed: let the WAL grow to 64 MB before it is copied back, so that a page
        // changed by several batches is copied once (about 30 % fewer bytes written per reading, see BENCHMARKS.md).
        // synchronous stays FULL (the default): a batch is acknowledged to the broker once committed, so a commit must
        // survive a power cut, not only a crash of the process.
        await ExecuteAsync(connection, null, "PRAGMA wal_autocheckpoint = 16384", cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var writer = new RowWriter(connection, transaction))
        {
            foreach (var observation in observations)
            {
                await writer.WriteAsync(observation, cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task CheckWritableAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR REPLACE INTO store_probe (id, written_at) VALUES (1, $now); SELECT written_at FROM store_probe WHERE id = 1";
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        command.Parameters.AddWithValue("$now", now);
        var readBack = (string?)await command.ExecuteScalarAsync(cancellationToken);
        if (readBack != now)
        {
            throw new InvalidOperationException($"the SQLite store {path} did not return the probe it was given");
        }
    }

    public async Task<IReadOnlyList<Observation>> ReadAsync(
        string patientReference,
        string? code,
        DateTimeOffset from,
        DateTimeOffset through,
        int limit,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(patientReference);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var result = await SearchAsync(new ObservationSearch(patientReference, code is null ? [] : [code], from, through, false, null, limit), includeTotal: false, cancellationToken);
        return result.Matches.Select(m => m.Observation).ToList();
    }

    public Task<ObservationSearchResult> SearchAsync(ObservationSearch search, CancellationToken cancellationToken) =>
        SearchAsync(search, includeTotal: true, cancellationToken);

    private async Task<ObservationSearchResult> SearchAsync(ObservationSearch search, bool includeTotal, CancellationToken cancellationToken)
    {
        StoreReads.CheckSearch(search);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var filter = new StringBuilder("patient = $patient AND effective_ms BETWEEN $from AND $through");
        command.Parameters.AddWithValue("$patient", search.Subject);
        command.Parameters.AddWithValue("$from", search.From.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$through", search.Through.ToUnixTimeMilliseconds());
        AppendCodes(command, filter, search.Codes);

        var page = new StringBuilder("SELECT id, effective_ms, resource FROM observation WHERE ").Append(filter);
        if (search.After is { } after)
        {
            page.Append(search.Descending ? " AND (effective_ms, id) < ($position, $id)" : " AND (effective_ms, id) > ($position, $id)");
            command.Parameters.AddWithValue("$position", after.Position);
            command.Parameters.AddWithValue("$id", after.Id);
        }

        page.Append(search.Descending ? " ORDER BY effective_ms DESC, id DESC" : " ORDER BY effective_ms, id").Append(" LIMIT $limit");
        command.Parameters.AddWithValue("$limit", search.Limit);
        command.CommandText = page.ToString();
        var matches = new List<ObservationMatch>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                matches.Add(new ObservationMatch(ObservationKeys.Parse(reader.GetString(2)), new ObservationCursor(reader.GetInt64(1), reader.GetString(0))));
            }
        }

        long? total = null;
        if (includeTotal)
        {
            command.CommandText = "SELECT count(*) FROM observation WHERE " + filter;
            total = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }

        return new ObservationSearchResult(matches, total);
    }

    public async Task<Observation?> FindAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT resource FROM observation WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? ObservationKeys.Parse(json) : null;
    }

    public async Task<IReadOnlyList<string>> ReadCodesAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // A loose index scan: one index seek per code, however many Observations the subject has.
        command.CommandText = """
            WITH RECURSIVE codes(code) AS (
                SELECT min(code) FROM observation WHERE patient = $subject
                UNION ALL
                SELECT (SELECT min(code) FROM observation WHERE patient = $subject AND code > codes.code) FROM codes WHERE codes.code IS NOT NULL
            )
            SELECT code FROM codes WHERE code IS NOT NULL
            """;
        command.Parameters.AddWithValue("$subject", subject);
        var codes = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            codes.Add(reader.GetString(0));
        }

        return codes;
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
        var rows = await ReadTrendRowsAsync(subject, code, from, through, resolution, cancellationToken);
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
        return StoreReads.Trends(subject, resolution, await ReadTrendRowsAsync(subject, null, from, through, resolution, cancellationToken));
    }

    private async Task<List<(string Code, string Field, TrendPoint Point)>> ReadTrendRowsAsync(
        string subject, string? code, DateTimeOffset from, DateTimeOffset through, TrendResolution resolution, CancellationToken cancellationToken)
    {
        var width = resolution.Milliseconds();
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var codeFilter = code is null ? string.Empty : " AND code = $code";
        command.CommandText = width == 0
            ? $"""
               SELECT code, field, effective_ms, value FROM observation_value
               WHERE patient = $subject{codeFilter} AND effective_ms BETWEEN $from AND $through
               ORDER BY code, field, effective_ms, id
               """
            : $"""
               WITH buckets AS (
                   SELECT code, field, effective_ms - (((effective_ms % $width) + $width) % $width) AS bucket,
                          avg(value) AS mean, min(value) AS low, max(value) AS high, count(*) AS n, max(effective_ms) AS last_ms
                   FROM observation_value
                   WHERE patient = $subject{codeFilter} AND effective_ms BETWEEN $from AND $through
                   GROUP BY code, field, bucket
               )
               SELECT code, field, bucket, mean, low, high, n,
                      (SELECT v.value FROM observation_value v
                       WHERE v.patient = $subject AND v.code = b.code AND v.field = b.field AND v.effective_ms = b.last_ms
                       ORDER BY v.id DESC LIMIT 1)
               FROM buckets b
               ORDER BY code, field, bucket
               """;
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$through", through.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$width", width);
        if (code is not null)
        {
            command.Parameters.AddWithValue("$code", code);
        }

        var rows = new List<(string, string, TrendPoint)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var time = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2));
            var point = width == 0
                ? new TrendPoint(time, reader.GetDouble(3), reader.GetDouble(3), reader.GetDouble(3), 1, reader.GetDouble(3))
                : new TrendPoint(time, reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), reader.GetInt64(6), reader.GetDouble(7));
            rows.Add((reader.GetString(0), reader.GetString(1), point));
        }

        return rows;
    }

    public async Task<IReadOnlyList<LatestReading>> ReadLatestAsync(string? subject, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // Loose index scans: one seek per subject and one per (subject, code), then one for the latest of each pair;
        // the cost grows with the number of pairs, not with the number of Observations.
        var subjects = subject is null
            ? """
              subjects(patient) AS (
                  SELECT min(patient) FROM observation WHERE patient >= 'Patient/' AND patient < 'Patient0'
                  UNION ALL
                  SELECT (SELECT min(patient) FROM observation WHERE patient > subjects.patient AND patient < 'Patient0')
                  FROM subjects WHERE subjects.patient IS NOT NULL
              )
              """
            : "subjects(patient) AS (SELECT $subject)";
        command.CommandText = $"""
            WITH RECURSIVE {subjects},
            pairs(patient, code) AS (
                SELECT patient, (SELECT min(code) FROM observation WHERE patient = subjects.patient) FROM subjects WHERE patient IS NOT NULL
                UNION ALL
                SELECT patient, (SELECT min(code) FROM observation WHERE patient = pairs.patient AND code > pairs.code) FROM pairs WHERE code IS NOT NULL
            )
            SELECT o.patient, o.code, o.effective_ms, o.id, o.device, o.unit, v.field, v.value
            FROM pairs p
            JOIN observation o ON o.rowid = (
                SELECT rowid FROM observation i WHERE i.patient = p.patient AND i.code = p.code ORDER BY i.effective_ms DESC, i.id DESC LIMIT 1)
            LEFT JOIN observation_value v ON v.id = o.id
            WHERE p.code IS NOT NULL AND o.effective_ms >= $since
            ORDER BY o.patient, o.code, v.field
            """;
        if (subject is not null)
        {
            command.Parameters.AddWithValue("$subject", subject);
        }

        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        var readings = new List<LatestReading>();
        var fields = new List<(string Field, double Value)>();
        (string Patient, string Code, long Time, string Id, string? Device, string? Unit)? current = null;
        void Flush()
        {
            if (current is { } c)
            {
                var value = fields.FirstOrDefault(f => f.Field == ObservationKeys.ValueField);
                readings.Add(new LatestReading(
                    c.Patient, c.Code, DateTimeOffset.FromUnixTimeMilliseconds(c.Time), c.Id, c.Device,
                    value.Field is null ? null : value.Value, c.Unit, StoreReads.Components(fields)));
            }

            fields.Clear();
        }

        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(3);
                if (current?.Id != id)
                {
                    Flush();
                    current = (reader.GetString(0), reader.GetString(1), reader.GetInt64(2), id,
                        reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5));
                }

                if (!reader.IsDBNull(6))
                {
                    fields.Add((reader.GetString(6), reader.GetDouble(7)));
                }
            }
        }

        Flush();
        return readings;
    }

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
        if (windows.Count > 0 && expectedPerDay.Count > 0)
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            var days = new StringBuilder();
            for (var i = 0; i < windows.Count; i++)
            {
                days.Append(i == 0 ? string.Empty : ", ").Append(CultureInfo.InvariantCulture, $"({i}, $s{i}, $e{i})");
                command.Parameters.AddWithValue($"$s{i}", windows[i].StartMs);
                command.Parameters.AddWithValue($"$e{i}", windows[i].EndMs);
            }

            var codes = new StringBuilder();
            AppendCodes(command, codes, [.. expectedPerDay.Keys]);
            command.CommandText = $"""
                WITH days(day, start_ms, end_ms) AS (VALUES {days})
                SELECT d.day, o.code, count(*) FROM days d
                JOIN observation o ON o.patient = $subject{codes} AND o.effective_ms >= d.start_ms AND o.effective_ms < d.end_ms
                GROUP BY d.day, o.code
                """;
            command.Parameters.AddWithValue("$subject", subject);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                received[(reader.GetInt32(0), reader.GetString(1))] = reader.GetInt32(2);
            }
        }

        return StoreReads.Completeness(windows, expectedPerDay, received);
    }

    /// <summary>Appends <c> AND code IN ($c0, ...)</c> for a non-empty list.</summary>
    private static void AppendCodes(SqliteCommand command, StringBuilder filter, IReadOnlyList<string> codes)
    {
        if (codes.Count == 0)
        {
            return;
        }

        filter.Append(" AND code IN (");
        for (var i = 0; i < codes.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"$c{i}");
            filter.Append(i == 0 ? string.Empty : ", ").Append(name);
            command.Parameters.AddWithValue(name, codes[i]);
        }

        filter.Append(')');
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);

        // 64 MB of page cache per pooled connection instead of SQLite's 2 MB: a batch of 500 readings of a cohort changes
        // some 2,500 index pages, more than 2 MB holds, and SQLite would spill them to the WAL before the commit.
        await ExecuteAsync(connection, null, "PRAGMA cache_size = -65536", cancellationToken);
        return connection;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Writes Observations within one transaction with prepared commands: the row, then its numbers (replacing the old ones).</summary>
    private sealed class RowWriter : IAsyncDisposable
    {
        private const string Columns = "(id, patient, code, effective_ms, device, unit, resource) VALUES ($id, $patient, $code, $time, $device, $unit, $resource)";

        // A new Observation (nearly every write) is one insert and its numbers: no lookup of numbers to replace. Only an
        // Observation written again (a replay, a redelivery) takes the upsert and clears its old numbers first.
        private readonly SqliteCommand insert;
        private readonly SqliteCommand upsert;
        private readonly SqliteCommand clearValues;
        private readonly SqliteCommand insertValue;
        private readonly SqliteParameter clearId;
        private readonly SqliteParameter valuePatient, valueCode, valueField, valueTime, valueId, value;

        public RowWriter(SqliteConnection connection, SqliteTransaction transaction)
        {
            insert = RowCommand(connection, transaction, $"INSERT INTO observation {Columns} ON CONFLICT (id) DO NOTHING");
            upsert = RowCommand(connection, transaction, $"""
                INSERT INTO observation {Columns}
                ON CONFLICT (id) DO UPDATE SET patient = excluded.patient, code = excluded.code, effective_ms = excluded.effective_ms,
                    device = excluded.device, unit = excluded.unit, resource = excluded.resource
                """);

            clearValues = connection.CreateCommand();
            clearValues.Transaction = transaction;
            clearValues.CommandText = "DELETE FROM observation_value WHERE id = $id";
            clearId = clearValues.Parameters.Add("$id", SqliteType.Text);

            insertValue = connection.CreateCommand();
            insertValue.Transaction = transaction;
            insertValue.CommandText = "INSERT OR REPLACE INTO observation_value (patient, code, field, effective_ms, id, value) VALUES ($patient, $code, $field, $time, $id, $value)";
            valuePatient = insertValue.Parameters.Add("$patient", SqliteType.Text);
            valueCode = insertValue.Parameters.Add("$code", SqliteType.Text);
            valueField = insertValue.Parameters.Add("$field", SqliteType.Text);
            valueTime = insertValue.Parameters.Add("$time", SqliteType.Integer);
            valueId = insertValue.Parameters.Add("$id", SqliteType.Text);
            value = insertValue.Parameters.Add("$value", SqliteType.Real);
        }

        /// <summary>A command on the row's columns, its parameters in the order of <see cref="Columns"/>.</summary>
        private static SqliteCommand RowCommand(SqliteConnection connection, SqliteTransaction transaction, string sql)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.Add("$id", SqliteType.Text);
            command.Parameters.Add("$patient", SqliteType.Text);
            command.Parameters.Add("$code", SqliteType.Text);
            command.Parameters.Add("$time", SqliteType.Integer);
            command.Parameters.Add("$device", SqliteType.Text);
            command.Parameters.Add("$unit", SqliteType.Text);
            command.Parameters.Add("$resource", SqliteType.Text);
            return command;
        }

        public async Task WriteAsync(Observation observation, CancellationToken cancellationToken)
        {
            var observationId = observation.Id ?? throw new ArgumentException("an Observation must have an id to be stored", nameof(observation));
            var subject = observation.Subject?.Reference;
            var codeToken = ObservationKeys.CodeToken(observation);
            var milliseconds = ObservationKeys.EffectiveMilliseconds(observation);
            object?[] row =
            [
                observationId, (object?)subject ?? DBNull.Value, codeToken, milliseconds, (object?)observation.Device?.Reference ?? DBNull.Value,
                (object?)ObservationKeys.UnitOf(observation) ?? DBNull.Value, Serializer.SerializeToString(observation),
            ];
            if (await ExecuteAsync(insert, row, cancellationToken) == 0)
            {
                await ExecuteAsync(upsert, row, cancellationToken);
                clearId.Value = observationId;
                await clearValues.ExecuteNonQueryAsync(cancellationToken);
            }

            foreach (var (field, number) in ObservationKeys.NumericFields(observation))
            {
                valuePatient.Value = subject ?? string.Empty;
                valueCode.Value = codeToken;
                valueField.Value = field;
                valueTime.Value = milliseconds;
                valueId.Value = observationId;
                value.Value = number;
                await insertValue.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        private static Task<int> ExecuteAsync(SqliteCommand command, object?[] row, CancellationToken cancellationToken)
        {
            for (var i = 0; i < row.Length; i++)
            {
                command.Parameters[i].Value = row[i];
            }

            return command.ExecuteNonQueryAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await insert.DisposeAsync();
            await upsert.DisposeAsync();
            await clearValues.DisposeAsync();
            await insertValue.DisposeAsync();
        }
    }
}
