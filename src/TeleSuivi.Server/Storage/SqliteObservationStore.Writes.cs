using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The write path of the SQLite store, in two steps. A batch is appended to <c>observation_log</c> and committed: that
/// is what acknowledges it, and it touches only the last pages of one table. Then, once <see cref="FoldThreshold"/>
/// readings are pending (or before any read), the pending rows are folded into the tables clustered by
/// (patient, code, time) and into the roll-ups, sorted by series, in one transaction: the tail page of each series is
/// written once per fold instead of once per batch (BENCHMARKS.md, "Storage").
/// </summary>
public sealed partial class SqliteObservationStore
{
    /// <summary>Readings appended before a write folds them: a cohort's series each get tens of readings per fold.</summary>
    internal const int FoldThreshold = 20_000;

    private const string FoldedState = "folded_seq";

    /// <summary>Folds what is pending, if anything: every read calls it first, so that reads see every acknowledged write.</summary>
    private static async Task EnsureFoldedAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        if (await PendingAsync(connection, null, cancellationToken) > 0)
        {
            await using var transaction = connection.BeginTransaction(deferred: false);
            await FoldAsync(connection, transaction, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
    }

    private static async Task<long> PendingAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync(connection, transaction, $"""
            SELECT coalesce((SELECT max(seq) FROM observation_log), 0) - coalesce((SELECT value FROM store_state WHERE name = '{FoldedState}'), 0)
            """, cancellationToken), CultureInfo.InvariantCulture);

    /// <summary>
    /// Folds the log rows after the folded mark into the clustered tables, within <paramref name="transaction"/>. Of
    /// one id, only its latest row counts: an earlier pending row is deleted; an id already folded is replaced when
    /// anything changed (its old log row deleted, the roll-ups of both hours rebuilt) or the new row dropped when not.
    /// </summary>
    private static async Task FoldAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        var folded = Convert.ToInt64(await ScalarAsync(connection, transaction, $"SELECT coalesce((SELECT value FROM store_state WHERE name = '{FoldedState}'), 0)", cancellationToken), CultureInfo.InvariantCulture);
        var rows = new List<LogRow>();
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = transaction;
            select.CommandText = "SELECT seq, id, patient, code, effective_ms, fields FROM observation_log WHERE seq > $folded";
            select.Parameters.AddWithValue("$folded", folded);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new LogRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), reader.GetString(5)));
            }
        }

        if (rows.Count == 0)
        {
            return;
        }

        var latest = new Dictionary<string, long>(rows.Count, StringComparer.Ordinal);
        foreach (var row in rows)
        {
            latest[row.Id] = Math.Max(row.Seq, latest.GetValueOrDefault(row.Id));
        }

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

        await using var mark = connection.CreateCommand();
        mark.Transaction = transaction;
        mark.CommandText = $"INSERT INTO store_state (name, value) VALUES ('{FoldedState}', $seq) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        mark.Parameters.AddWithValue("$seq", rows.Count == 0 ? folded : Math.Max(folded, latest.Values.Max()));
        await mark.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Rebuilds the roll-up rows of one (subject, code, hour) from the readings: after a rewrite, a retention cut or a
    /// migration, when a minimum or a last value may have left and cannot be updated by difference.
    /// </summary>
    private static async Task RecomputeHourAsync(SqliteConnection connection, SqliteTransaction transaction, string patient, string code, long hourMs, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            DELETE FROM observation_hourly WHERE patient = $patient AND code = $code AND hour_ms = $hour;
            INSERT INTO observation_hourly (patient, code, hour_ms, field, n, total, low, high, last_ms)
            SELECT $patient, $code, $hour, field, count(*), sum(value), min(value), max(value), max(effective_ms)
            FROM observation_value WHERE patient = $patient AND code = $code AND effective_ms >= $hour AND effective_ms < $hour + 3600000
            GROUP BY field;
            UPDATE observation_hourly SET (last_id, last_value) = (
                SELECT v.id, v.value FROM observation_value v
                WHERE v.patient = $patient AND v.code = $code AND v.effective_ms = observation_hourly.last_ms AND v.field = observation_hourly.field
                ORDER BY v.id DESC LIMIT 1)
            WHERE patient = $patient AND code = $code AND hour_ms = $hour;
            """;
        command.Parameters.AddWithValue("$patient", patient);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$hour", hourMs);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The numbers of an Observation as the log keeps them until they are folded: <c>field TAB value</c> lines (a FHIR code holds neither).</summary>
    private static string EncodeFields(Observation observation)
    {
        var text = new StringBuilder();
        foreach (var (field, value) in ObservationKeys.NumericFields(observation))
        {
            text.Append(field).Append('\t').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }

        return text.ToString();
    }

    private static IEnumerable<(string Field, double Value)> DecodeFields(string fields)
    {
        foreach (var line in fields.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            yield return (line[..tab], double.Parse(line.AsSpan(tab + 1), NumberStyles.Float, CultureInfo.InvariantCulture));
        }
    }

    private sealed record LogRow(long Seq, string Id, string Patient, string Code, long Time, string Fields);

    /// <summary>Appends Observations to <c>observation_log</c> with one prepared command, numbering them after the largest seq.</summary>
    private sealed class LogAppender : IAsyncDisposable
    {
        private readonly SqliteCommand insert;
        private long nextSeq;

        private LogAppender(SqliteCommand insert, long lastSeq)
        {
            this.insert = insert;
            nextSeq = lastSeq + 1;
        }

        public static async Task<LogAppender> CreateAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
        {
            var last = await ScalarAsync(connection, transaction, "SELECT coalesce(max(seq), 0) FROM observation_log", cancellationToken);
            var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO observation_log (seq, id, patient, code, effective_ms, device, unit, fields, resource)
                VALUES ($seq, $id, $patient, $code, $time, $device, $unit, $fields, $resource)
                """;
            foreach (var (name, type) in new[]
            {
                ("$seq", SqliteType.Integer), ("$id", SqliteType.Text), ("$patient", SqliteType.Text), ("$code", SqliteType.Text), ("$time", SqliteType.Integer),
                ("$device", SqliteType.Text), ("$unit", SqliteType.Text), ("$fields", SqliteType.Text), ("$resource", SqliteType.Text),
            })
            {
                insert.Parameters.Add(name, type);
            }

            return new LogAppender(insert, Convert.ToInt64(last, CultureInfo.InvariantCulture));
        }

        /// <summary>The number of the last row appended.</summary>
        public long LastSeq => nextSeq - 1;

        public async Task AppendAsync(Observation observation, CancellationToken cancellationToken)
        {
            var values = new object?[]
            {
                nextSeq,
                observation.Id ?? throw new ArgumentException("an Observation must have an id to be stored", nameof(observation)),
                observation.Subject?.Reference ?? string.Empty,
                ObservationKeys.CodeToken(observation),
                ObservationKeys.EffectiveMilliseconds(observation),
                observation.Device?.Reference,
                ObservationKeys.UnitOf(observation),
                EncodeFields(observation),
                ObservationKeys.Serializer.SerializeToString(observation),
            };
            for (var i = 0; i < values.Length; i++)
            {
                insert.Parameters[i].Value = values[i] ?? DBNull.Value;
            }

            await insert.ExecuteNonQueryAsync(cancellationToken);
            nextSeq++;
        }

        public ValueTask DisposeAsync() => insert.DisposeAsync();
    }

    /// <summary>The prepared commands of a fold.</summary>
    private sealed class Folder : IAsyncDisposable
    {
        private readonly SqliteConnection connection;
        private readonly SqliteTransaction transaction;
        private readonly SqliteCommand claimId, insertRow, insertValue, upsertHour, findOld, deleteLogRow;

        public Folder(SqliteConnection connection, SqliteTransaction transaction)
        {
            this.connection = connection;
            this.transaction = transaction;
            claimId = Command("INSERT INTO observation_id (id, seq) VALUES ($id, $seq) ON CONFLICT (id) DO NOTHING", "$id", "$seq");
            insertRow = Command("INSERT INTO observation (patient, code, effective_ms, id, seq) VALUES ($patient, $code, $time, $id, $seq)", "$patient", "$code", "$time", "$id", "$seq");
            insertValue = Command(
                "INSERT OR REPLACE INTO observation_value (patient, code, effective_ms, id, field, value) VALUES ($patient, $code, $time, $id, $field, $value)",
                "$patient", "$code", "$time", "$id", "$field", "$value");

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
            findOld = Command("""
                SELECT o.seq, o.patient, o.code, o.effective_ms, o.resource = n.resource AND o.device IS n.device AND o.unit IS n.unit
                FROM observation_id i JOIN observation_log o ON o.seq = i.seq JOIN observation_log n ON n.seq = $seq
                WHERE i.id = $id
                """, "$id", "$seq");
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

        public async Task FoldAsync(LogRow row, CancellationToken cancellationToken)
        {
            var fields = DecodeFields(row.Fields).ToList();
            if (await ExecuteAsync(claimId, cancellationToken, row.Id, row.Seq) == 1)
            {
                await InsertRowsAsync(row, fields, cancellationToken);
                foreach (var (field, value) in fields)
                {
                    await ExecuteAsync(upsertHour, cancellationToken, row.Patient, row.Code, StoreReads.BucketStart(row.Time, HourMs), field, value, row.Time, row.Id);
                }

                return;
            }

            await ReplaceAsync(row, fields, cancellationToken);
        }

        private async Task InsertRowsAsync(LogRow row, List<(string Field, double Value)> fields, CancellationToken cancellationToken)
        {
            await ExecuteAsync(insertRow, cancellationToken, row.Patient, row.Code, row.Time, row.Id, row.Seq);
            foreach (var (field, value) in fields)
            {
                await ExecuteAsync(insertValue, cancellationToken, row.Patient, row.Code, row.Time, row.Id, field, value);
            }
        }

        /// <summary>The id was folded before: the new row is dropped when it says the same, else it replaces the old one.</summary>
        private async Task ReplaceAsync(LogRow row, List<(string Field, double Value)> fields, CancellationToken cancellationToken)
        {
            findOld.Parameters[0].Value = row.Id;
            findOld.Parameters[1].Value = row.Seq;
            long oldSeq, oldTime;
            string oldPatient, oldCode;
            bool sameContent;
            await using (var reader = await findOld.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    throw new InvalidOperationException($"Observation {row.Id} is in observation_id without its log row: the store file is damaged");
                }

                (oldSeq, oldPatient, oldCode, oldTime, sameContent) = (reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetBoolean(4));
            }

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
                    DELETE FROM observation_value WHERE patient = $oldPatient AND code = $oldCode AND effective_ms = $oldTime AND id = $id;
                    DELETE FROM observation_log WHERE seq = $oldSeq;
                    UPDATE observation_id SET seq = $seq WHERE id = $id;
                    """;
                replace.Parameters.AddWithValue("$oldPatient", oldPatient);
                replace.Parameters.AddWithValue("$oldCode", oldCode);
                replace.Parameters.AddWithValue("$oldTime", oldTime);
                replace.Parameters.AddWithValue("$oldSeq", oldSeq);
                replace.Parameters.AddWithValue("$id", row.Id);
                replace.Parameters.AddWithValue("$seq", row.Seq);
                await replace.ExecuteNonQueryAsync(cancellationToken);
            }

            await InsertRowsAsync(row, fields, cancellationToken);
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
            foreach (var command in new[] { claimId, insertRow, insertValue, upsertHour, findOld, deleteLogRow })
            {
                await command.DisposeAsync();
            }
        }
    }
}
