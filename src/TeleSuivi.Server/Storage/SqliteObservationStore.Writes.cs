using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>The write path of the SQLite store: rows of one batch, and the roll-ups they change.</summary>
public sealed partial class SqliteObservationStore
{
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

    /// <summary>
    /// Writes Observations within one transaction with prepared commands. A new Observation (nearly every write) is
    /// appended: its body at the end of <c>observation_body</c>, its keys and numbers at the tail of its series, its
    /// hour's roll-up updated by an upsert. An id written before (a replay, a redelivery) replaces the old rows, or is
    /// skipped when nothing changed.
    /// </summary>
    private sealed class RowWriter : IAsyncDisposable
    {
        private readonly SqliteConnection connection;
        private readonly SqliteTransaction transaction;
        private readonly SqliteCommand claimId, insertBody, insertRow, insertValue, upsertHour, findOld;
        private long nextSeq;

        private RowWriter(SqliteConnection connection, SqliteTransaction transaction, long lastSeq)
        {
            this.connection = connection;
            this.transaction = transaction;
            nextSeq = lastSeq + 1;
            claimId = Command("INSERT INTO observation_id (id, patient, code, effective_ms, body) VALUES ($id, $patient, $code, $time, $body) ON CONFLICT (id) DO NOTHING",
                ("$id", SqliteType.Text), ("$patient", SqliteType.Text), ("$code", SqliteType.Text), ("$time", SqliteType.Integer), ("$body", SqliteType.Integer));
            insertBody = Command("INSERT INTO observation_body (seq, resource) VALUES ($seq, $resource)", ("$seq", SqliteType.Integer), ("$resource", SqliteType.Text));
            insertRow = Command(
                "INSERT INTO observation (patient, code, effective_ms, id, device, unit, body) VALUES ($patient, $code, $time, $id, $device, $unit, $body)",
                ("$patient", SqliteType.Text), ("$code", SqliteType.Text), ("$time", SqliteType.Integer), ("$id", SqliteType.Text),
                ("$device", SqliteType.Text), ("$unit", SqliteType.Text), ("$body", SqliteType.Integer));
            insertValue = Command(
                "INSERT OR REPLACE INTO observation_value (patient, code, effective_ms, id, field, value) VALUES ($patient, $code, $time, $id, $field, $value)",
                ("$patient", SqliteType.Text), ("$code", SqliteType.Text), ("$time", SqliteType.Integer), ("$id", SqliteType.Text),
                ("$field", SqliteType.Text), ("$value", SqliteType.Real));

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
                ("$patient", SqliteType.Text), ("$code", SqliteType.Text), ("$hour", SqliteType.Integer), ("$field", SqliteType.Text),
                ("$value", SqliteType.Real), ("$time", SqliteType.Integer), ("$id", SqliteType.Text));
            findOld = Command(
                "SELECT i.patient, i.code, i.effective_ms, i.body, b.resource FROM observation_id i JOIN observation_body b ON b.seq = i.body WHERE i.id = $id",
                ("$id", SqliteType.Text));
        }

        public static async Task<RowWriter> CreateAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
        {
            var last = await ScalarAsync(connection, transaction, "SELECT coalesce(max(seq), 0) FROM observation_body", cancellationToken);
            return new RowWriter(connection, transaction, Convert.ToInt64(last, CultureInfo.InvariantCulture));
        }

        private SqliteCommand Command(string sql, params (string Name, SqliteType Type)[] parameters)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            foreach (var (name, type) in parameters)
            {
                command.Parameters.Add(name, type);
            }

            return command;
        }

        public async Task WriteAsync(Observation observation, CancellationToken cancellationToken)
        {
            var id = observation.Id ?? throw new ArgumentException("an Observation must have an id to be stored", nameof(observation));
            var patient = observation.Subject?.Reference ?? string.Empty;
            var code = ObservationKeys.CodeToken(observation);
            var time = ObservationKeys.EffectiveMilliseconds(observation);
            var resource = ObservationKeys.Serializer.SerializeToString(observation);
            var fields = ObservationKeys.NumericFields(observation).ToList();

            if (await ExecuteAsync(claimId, cancellationToken, id, patient, code, time, nextSeq) == 1)
            {
                var seq = nextSeq++;
                await ExecuteAsync(insertBody, cancellationToken, seq, resource);
                await InsertRowsAsync(observation, id, patient, code, time, seq, fields, cancellationToken);
                foreach (var (field, value) in fields)
                {
                    await ExecuteAsync(upsertHour, cancellationToken, patient, code, StoreReads.BucketStart(time, HourMs), field, value, time, id);
                }

                return;
            }

            await RewriteAsync(observation, id, patient, code, time, resource, fields, cancellationToken);
        }

        private async Task InsertRowsAsync(
            Observation observation, string id, string patient, string code, long time, long seq, List<(string Field, double Value)> fields, CancellationToken cancellationToken)
        {
            await ExecuteAsync(insertRow, cancellationToken, patient, code, time, id, observation.Device?.Reference, ObservationKeys.UnitOf(observation), seq);
            foreach (var (field, value) in fields)
            {
                await ExecuteAsync(insertValue, cancellationToken, patient, code, time, id, field, value);
            }
        }

        /// <summary>The id is stored already: nothing to do when the row is the same, else its rows are replaced and the roll-ups of both hours rebuilt.</summary>
        private async Task RewriteAsync(
            Observation observation, string id, string patient, string code, long time, string resource, List<(string Field, double Value)> fields, CancellationToken cancellationToken)
        {
            findOld.Parameters[0].Value = id;
            string oldPatient, oldCode, oldResource;
            long oldTime, seq;
            await using (var reader = await findOld.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    throw new InvalidOperationException($"Observation {id} is in observation_id without its body: the store file is damaged");
                }

                (oldPatient, oldCode, oldTime, seq, oldResource) = (reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4));
            }

            if (oldPatient == patient && oldCode == code && oldTime == time && oldResource == resource)
            {
                return;
            }

            await using (var replace = connection.CreateCommand())
            {
                replace.Transaction = transaction;
                replace.CommandText = """
                    DELETE FROM observation WHERE patient = $oldPatient AND code = $oldCode AND effective_ms = $oldTime AND id = $id;
                    DELETE FROM observation_value WHERE patient = $oldPatient AND code = $oldCode AND effective_ms = $oldTime AND id = $id;
                    UPDATE observation_body SET resource = $resource WHERE seq = $seq;
                    UPDATE observation_id SET patient = $patient, code = $code, effective_ms = $time WHERE id = $id;
                    """;
                replace.Parameters.AddWithValue("$oldPatient", oldPatient);
                replace.Parameters.AddWithValue("$oldCode", oldCode);
                replace.Parameters.AddWithValue("$oldTime", oldTime);
                replace.Parameters.AddWithValue("$id", id);
                replace.Parameters.AddWithValue("$resource", resource);
                replace.Parameters.AddWithValue("$seq", seq);
                replace.Parameters.AddWithValue("$patient", patient);
                replace.Parameters.AddWithValue("$code", code);
                replace.Parameters.AddWithValue("$time", time);
                await replace.ExecuteNonQueryAsync(cancellationToken);
            }

            await InsertRowsAsync(observation, id, patient, code, time, seq, fields, cancellationToken);
            await RecomputeHourAsync(connection, transaction, oldPatient, oldCode, StoreReads.BucketStart(oldTime, HourMs), cancellationToken);
            await RecomputeHourAsync(connection, transaction, patient, code, StoreReads.BucketStart(time, HourMs), cancellationToken);
        }

        private static Task<int> ExecuteAsync(SqliteCommand command, CancellationToken cancellationToken, params object?[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i] ?? DBNull.Value;
            }

            return command.ExecuteNonQueryAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var command in new[] { claimId, insertBody, insertRow, insertValue, upsertHour, findOld })
            {
                await command.DisposeAsync();
            }
        }
    }
}
