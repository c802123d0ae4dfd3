using System.Globalization;
using Microsoft.Data.Sqlite;

namespace TeleSuivi.Server.Storage;

/// <summary>Retention and erasure on the SQLite store: deletes in small transactions, series by series along the clustered key.</summary>
public sealed partial class SqliteObservationStore
{
    /// <summary>Observations deleted per transaction: small enough that the ingestion's writes wait milliseconds, not seconds.</summary>
    internal const int DeleteBatchSize = 1_000;

    public async Task<RetentionOutcome> ApplyRetentionAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retention, TimeSpan.Zero);
        if (retention == TimeSpan.Zero)
        {
            return new RetentionOutcome(0, "kept forever (retention 0)");
        }

        var cutoff = DateTimeOffset.UtcNow - retention;
        var cutoffMs = cutoff.ToUnixTimeMilliseconds();
        long removed = 0;
        await using var connection = await OpenFoldedAsync(cancellationToken);

        // Series by series, so that each batch is a range at the head of the clustered (patient, code, time) key.
        // The subject without a reference is stored as '' and comes first.
        for (var subject = await NextSubjectAsync(connection, null, cancellationToken); subject is not null; subject = await NextSubjectAsync(connection, subject, cancellationToken))
        {
            foreach (var code in await ReadCodesAsync(connection, subject, cancellationToken))
            {
                var deleted = await DeleteInBatchesAsync(connection, subject, code, cutoffMs, cancellationToken);
                if (deleted > 0)
                {
                    await TrimRollUpsAsync(connection, subject, code, cutoffMs, cancellationToken);
                }

                removed += deleted;
            }
        }

        return new RetentionOutcome(removed, string.Create(CultureInfo.InvariantCulture, $"deleted {removed} observation(s) with an effective time before {cutoff:u}"));
    }

    public async Task<long> EraseSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        await using var connection = await OpenFoldedAsync(cancellationToken);

        // Deleted rows are overwritten with zeros, not just unlinked: their bytes must not stay readable in free pages.
        // Only for this erasure: the connection goes back to the pool, and every later fold and retention run on it
        // would otherwise pay for zeroing what it deletes.
        var before = Convert.ToInt64(await ScalarAsync(connection, null, "PRAGMA secure_delete", cancellationToken), CultureInfo.InvariantCulture);
        await ExecuteAsync(connection, null, "PRAGMA secure_delete = ON", cancellationToken);
        try
        {
            return await EraseAsync(connection, subject, cancellationToken);
        }
        finally
        {
            await ExecuteAsync(connection, null, string.Create(CultureInfo.InvariantCulture, $"PRAGMA secure_delete = {before}"), CancellationToken.None);
        }
    }

    private async Task<long> EraseAsync(SqliteConnection connection, string subject, CancellationToken cancellationToken)
    {
        long removed = 0;
        foreach (var code in await ReadCodesAsync(connection, subject, cancellationToken))
        {
            removed += await DeleteInBatchesAsync(connection, subject, code, long.MaxValue, cancellationToken);
        }

        await using (var leftovers = connection.CreateCommand())
        {
            // Rows without an Observation cannot exist, but erasure must not depend on it; the log has no patient
            // index, a scan is acceptable here (VACUUM below reads the whole file anyway).
            leftovers.CommandText = $"""
                DELETE FROM observation_hourly WHERE patient = $subject;
                DELETE FROM observation_id WHERE (key, seq) IN (SELECT {ObservationIdKey.SqlFunction}(id), seq FROM main.observation_log WHERE patient = $subject);
                DELETE FROM main.observation_log WHERE patient = $subject;
                DELETE FROM log.observation_log WHERE patient = $subject;
                DELETE FROM log.observation_shape WHERE id NOT IN (
                    SELECT shape FROM main.observation_log WHERE shape IS NOT NULL UNION ALL SELECT shape FROM log.observation_log WHERE shape IS NOT NULL);
                """;
            leftovers.Parameters.AddWithValue("$subject", subject);
            await leftovers.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var check = connection.CreateCommand())
        {
            check.CommandText = """
                SELECT (SELECT count(*) FROM observation WHERE patient = $subject)
                     + (SELECT count(*) FROM observation_hourly WHERE patient = $subject) + (SELECT count(*) FROM main.observation_log WHERE patient = $subject)
                     + (SELECT count(*) FROM log.observation_log WHERE patient = $subject)
                """;
            check.Parameters.AddWithValue("$subject", subject);
            var left = Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            if (left != 0)
            {
                throw new InvalidOperationException($"{Display} still holds {left} row(s) of {subject} after erasing them (written meanwhile?): run the erasure again");
            }
        }

        // Deleting is not enough: copies of the rows stay in the free space of b-tree pages that split while they
        // were written. VACUUM rewrites each whole file (as long as copying it, and as much free disk), then the
        // write-ahead logs that hold the old pages are emptied (no schema name: both files).
        await ExecuteAsync(connection, null, "VACUUM main", cancellationToken);
        await ExecuteAsync(connection, null, "VACUUM log", cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken);
        return removed;
    }

    /// <summary>The smallest subject after <paramref name="after"/> (the first when null), by one seek on the clustered key.</summary>
    private static async Task<string?> NextSubjectAsync(SqliteConnection connection, string? after, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = after is null
            ? "SELECT min(patient) FROM observation"
            : "SELECT min(patient) FROM observation WHERE patient > $after";
        if (after is not null)
        {
            command.Parameters.AddWithValue("$after", after);
        }

        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Deletes the Observations of one series before <paramref name="cutoffMs"/> (and everything kept beside them), <see cref="DeleteBatchSize"/> per transaction.</summary>
    private static async Task<long> DeleteInBatchesAsync(SqliteConnection connection, string subject, string code, long cutoffMs, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            int deleted;
            // The main file's lock only (BEGIN IMMEDIATE would take the log file's too, which appends need).
            await using (var transaction = connection.BeginTransaction(deferred: true))
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = $"""
                    {LockMainFile};
                    CREATE TEMP TABLE IF NOT EXISTS doomed (effective_ms INTEGER NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (effective_ms, id));
                    DELETE FROM temp.doomed;
                    INSERT INTO temp.doomed SELECT effective_ms, id, seq FROM observation
                    WHERE patient = $subject AND code = $code AND effective_ms < $cutoff ORDER BY effective_ms LIMIT $batch;
                    DELETE FROM observation_log WHERE seq IN (SELECT seq FROM temp.doomed);
                    DELETE FROM observation_id WHERE (key, seq) IN (SELECT {ObservationIdKey.SqlFunction}(id), seq FROM temp.doomed);
                    DELETE FROM observation WHERE patient = $subject AND code = $code AND (effective_ms, id) IN (SELECT effective_ms, id FROM temp.doomed);
                    SELECT count(*) FROM temp.doomed;
                    """;
                command.Parameters.AddWithValue("$subject", subject);
                command.Parameters.AddWithValue("$code", code);
                command.Parameters.AddWithValue("$cutoff", cutoffMs);
                command.Parameters.AddWithValue("$batch", DeleteBatchSize);
                deleted = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
                await transaction.CommitAsync(cancellationToken);
            }

            total += deleted;
            if (deleted < DeleteBatchSize)
            {
                return total;
            }
        }
    }

    /// <summary>After a retention cut: the roll-ups of hours wholly before the cut go, the hour the cut falls in is rebuilt.</summary>
    private static async Task TrimRollUpsAsync(SqliteConnection connection, string subject, string code, long cutoffMs, CancellationToken cancellationToken)
    {
        var cutHour = StoreReads.BucketStart(cutoffMs, HourMs);
        await using var transaction = connection.BeginTransaction(deferred: true);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM observation_hourly WHERE patient = $subject AND code = $code AND hour_ms < $hour";
            command.Parameters.AddWithValue("$subject", subject);
            command.Parameters.AddWithValue("$code", code);
            command.Parameters.AddWithValue("$hour", cutHour);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await RecomputeHourAsync(connection, transaction, subject, code, cutHour, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}
