using System.Globalization;
using Microsoft.Data.Sqlite;

namespace TeleSuivi.Server.Storage;

/// <summary>Retention and erasure on the SQLite store: deletes in small transactions, by the (patient, time) index.</summary>
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
        await using var connection = await OpenAsync(cancellationToken);

        // Subject by subject, so that each batch is found by an index seek on (patient, effective_ms) rather than a scan.
        for (var subject = await NextSubjectAsync(connection, null, cancellationToken); subject is not null; subject = await NextSubjectAsync(connection, subject, cancellationToken))
        {
            removed += await DeleteInBatchesAsync(connection, "patient = $subject AND effective_ms < $cutoff", subject, cutoffMs, cancellationToken);
        }

        removed += await DeleteInBatchesAsync(connection, "patient IS NULL AND effective_ms < $cutoff", null, cutoffMs, cancellationToken);
        return new RetentionOutcome(removed, string.Create(CultureInfo.InvariantCulture, $"deleted {removed} observation(s) with an effective time before {cutoff:u}"));
    }

    public async Task<long> EraseSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        await using var connection = await OpenAsync(cancellationToken);

        // Deleted rows are overwritten with zeros, not just unlinked: their bytes must not stay readable in free pages.
        await ExecuteAsync(connection, null, "PRAGMA secure_delete = ON", cancellationToken);
        var removed = await DeleteInBatchesAsync(connection, "patient = $subject", subject, 0, cancellationToken);
        await using (var leftovers = connection.CreateCommand())
        {
            leftovers.CommandText = "DELETE FROM observation_value WHERE patient = $subject";
            leftovers.Parameters.AddWithValue("$subject", subject);
            await leftovers.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var check = connection.CreateCommand())
        {
            check.CommandText = "SELECT (SELECT count(*) FROM observation WHERE patient = $subject) + (SELECT count(*) FROM observation_value WHERE patient = $subject)";
            check.Parameters.AddWithValue("$subject", subject);
            var left = Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            if (left != 0)
            {
                throw new InvalidOperationException($"{Display} still holds {left} row(s) of {subject} after erasing them (written meanwhile?): run the erasure again");
            }
        }

        // Deleting is not enough: copies of the rows stay in the free space of b-tree pages that split while they
        // were written. VACUUM rewrites the whole file (as long as copying it, and as much free disk), then the
        // write-ahead log that holds the old pages is emptied.
        await ExecuteAsync(connection, null, "VACUUM", cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken);
        return removed;
    }

    /// <summary>The smallest subject after <paramref name="after"/> (the first when null), by one index seek.</summary>
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

    /// <summary>Deletes the Observations that match <paramref name="filter"/> (and their numbers), <see cref="DeleteBatchSize"/> per transaction.</summary>
    private static async Task<long> DeleteInBatchesAsync(SqliteConnection connection, string filter, string? subject, long cutoffMs, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            int deleted;
            await using (var transaction = connection.BeginTransaction(deferred: false))
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = $"""
                    CREATE TEMP TABLE IF NOT EXISTS doomed (id TEXT PRIMARY KEY);
                    DELETE FROM temp.doomed;
                    INSERT INTO temp.doomed SELECT id FROM observation WHERE {filter} LIMIT $batch;
                    DELETE FROM observation_value WHERE id IN (SELECT id FROM temp.doomed);
                    DELETE FROM observation WHERE id IN (SELECT id FROM temp.doomed);
                    SELECT count(*) FROM temp.doomed;
                    """;
                command.Parameters.AddWithValue("$subject", (object?)subject ?? DBNull.Value);
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
}
