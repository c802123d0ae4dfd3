using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.DeadLetters;

/// <summary>A message that could not be stored, kept byte for byte with the precise reason, until replayed.</summary>
public sealed record DeadLetter(
    long Id,
    string Topic,
    byte[] Payload,
    DateTimeOffset ReceivedAt,
    string ReasonCode,
    string Reason,
    int Attempts,
    DateTimeOffset? ReplayedAt);

/// <summary>A message to dead-letter: what arrived, when, and why it cannot be stored.</summary>
public readonly record struct Rejection(string Topic, byte[] Payload, DateTimeOffset ReceivedAt, string ReasonCode, string Reason);

/// <summary>
/// The dead-letter store: a local SQLite file beside the data, whatever the observation store is, so that a
/// message can be dead-lettered durably even when the observation store is the thing that is down.
/// </summary>
public sealed class DeadLetterStore
{
    private const string Columns = "id, topic, payload, received_at, reason_code, reason, attempts, replayed_at";
    private readonly string connectionString;

    public DeadLetterStore(IOptions<StoreOptions> options)
    {
        var directory = Path.GetFullPath(options.Value.DataDirectory);
        Directory.CreateDirectory(directory);
        FilePath = Path.Combine(directory, "deadletters.db");
        connectionString = new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadWriteCreate }.ToString();
    }

    public string FilePath { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS dead_letter (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL,
                received_at TEXT NOT NULL,
                reason_code TEXT NOT NULL,
                reason TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 1,
                replayed_at TEXT
            );
            CREATE INDEX IF NOT EXISTS dead_letter_pending ON dead_letter (replayed_at, reason_code, id);
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Adds the letters in one transaction: when it returns, all of them are on disk.</summary>
    public async Task AddAsync(IReadOnlyCollection<Rejection> letters, CancellationToken cancellationToken)
    {
        if (letters.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO dead_letter (topic, payload, received_at, reason_code, reason) VALUES ($topic, $payload, $received, $code, $reason)";
        var topic = command.Parameters.Add("$topic", SqliteType.Text);
        var payload = command.Parameters.Add("$payload", SqliteType.Blob);
        var received = command.Parameters.Add("$received", SqliteType.Text);
        var code = command.Parameters.Add("$code", SqliteType.Text);
        var reason = command.Parameters.Add("$reason", SqliteType.Text);
        foreach (var letter in letters)
        {
            topic.Value = letter.Topic;
            payload.Value = letter.Payload;
            received.Value = letter.ReceivedAt.ToString("O", CultureInfo.InvariantCulture);
            code.Value = letter.ReasonCode;
            reason.Value = letter.Reason;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Pending letters (not yet replayed), oldest first, optionally of one reason code, after an id (for paging).</summary>
    public async Task<IReadOnlyList<DeadLetter>> ListAsync(DeadLetterQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var conditions = new List<string> { "id > $after" };
        if (!query.IncludeReplayed)
        {
            conditions.Add("replayed_at IS NULL");
        }

        if (query.ReasonCode is not null)
        {
            conditions.Add("reason_code = $code");
            command.Parameters.AddWithValue("$code", query.ReasonCode);
        }

        if (query.Ids is { Count: > 0 } ids)
        {
            conditions.Add($"id IN ({string.Join(',', ids.Select(id => id.ToString(CultureInfo.InvariantCulture)))})");
        }

        command.CommandText = $"SELECT {Columns} FROM dead_letter WHERE {string.Join(" AND ", conditions)} ORDER BY id LIMIT $limit";
        command.Parameters.AddWithValue("$after", query.AfterId);
        command.Parameters.AddWithValue("$limit", query.Limit);
        var letters = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            letters.Add(Read(reader));
        }

        return letters;
    }

    public async Task<DeadLetter?> FindAsync(long id, CancellationToken cancellationToken)
    {
        var letters = await ListAsync(new DeadLetterQuery { IncludeReplayed = true, Ids = [id], Limit = 1 }, cancellationToken);
        return letters.Count == 0 ? null : letters[0];
    }

    /// <summary>Records the outcome of a replay: stored (replayed now), or rejected again with the new reason.</summary>
    public async Task RecordReplayAsync(IReadOnlyCollection<long> stored, IReadOnlyCollection<(long Id, string Code, string Reason)> rejectedAgain, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var id in stored)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE dead_letter SET replayed_at = $now, attempts = attempts + 1 WHERE id = $id";
            command.Parameters.AddWithValue("$now", now.ToString("O", CultureInfo.InvariantCulture));
            command.Parameters.AddWithValue("$id", id);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var (id, code, reason) in rejectedAgain)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE dead_letter SET reason_code = $code, reason = $reason, attempts = attempts + 1 WHERE id = $id";
            command.Parameters.AddWithValue("$code", code);
            command.Parameters.AddWithValue("$reason", reason);
            command.Parameters.AddWithValue("$id", id);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Pending letters by reason code (for metrics and the status page).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountByReasonAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT reason_code, COUNT(*) FROM dead_letter WHERE replayed_at IS NULL GROUP BY reason_code ORDER BY reason_code";
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    /// <summary>
    /// Deletes the letters received before <paramref name="cutoff"/>, replayed or not (the retention), a thousand per
    /// transaction so that new letters are never held up for long. Returns how many went, pending ones apart.
    /// </summary>
    public async Task<(long Replayed, long Pending)> PurgeReceivedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        long replayed = 0, pending = 0;
        await using var connection = await OpenAsync(cancellationToken);
        while (true)
        {
            await using var transaction = connection.BeginTransaction(deferred: false);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;

            // received_at is ISO 8601 with an offset: julianday() compares instants, whatever the offset.
            command.CommandText = """
                CREATE TEMP TABLE IF NOT EXISTS expired (id INTEGER PRIMARY KEY, pending INTEGER NOT NULL);
                DELETE FROM temp.expired;
                INSERT INTO temp.expired SELECT id, replayed_at IS NULL FROM dead_letter WHERE julianday(received_at) < julianday($cutoff) ORDER BY id LIMIT 1000;
                DELETE FROM dead_letter WHERE id IN (SELECT id FROM temp.expired);
                SELECT count(*), coalesce(sum(pending), 0) FROM temp.expired;
                """;
            command.Parameters.AddWithValue("$cutoff", cutoff.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            long batch, batchPending;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                batch = reader.GetInt64(0);
                batchPending = reader.GetInt64(1);
            }

            await transaction.CommitAsync(cancellationToken);
            replayed += batch - batchPending;
            pending += batchPending;
            if (batch < 1000)
            {
                return (replayed, pending);
            }
        }
    }

    /// <summary>
    /// Deletes these letters for good (the right to erasure): the file is rewritten (VACUUM: no copy is left in free
    /// space) and the write-ahead log emptied. Returns how many existed.
    /// </summary>
    public async Task<long> EraseAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using (var secure = connection.CreateCommand())
        {
            secure.CommandText = "PRAGMA secure_delete = ON";
            await secure.ExecuteNonQueryAsync(cancellationToken);
        }

        long erased = 0;
        foreach (var chunk in ids.Chunk(500))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"DELETE FROM dead_letter WHERE id IN ({string.Join(',', chunk.Select(id => id.ToString(CultureInfo.InvariantCulture)))})";
            erased += await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var checkpoint = connection.CreateCommand())
        {
            checkpoint.CommandText = "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)";
            await checkpoint.ExecuteNonQueryAsync(cancellationToken);
        }

        return erased;
    }

    private static DeadLetter Read(SqliteDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        (byte[])reader.GetValue(2),
        DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture),
        reader.GetString(4),
        reader.GetString(5),
        reader.GetInt32(6),
        reader.IsDBNull(7) ? null : DateTimeOffset.Parse(reader.GetString(7), CultureInfo.InvariantCulture));

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}

/// <summary>Which dead letters to list or replay.</summary>
public sealed record DeadLetterQuery
{
    public string? ReasonCode { get; init; }

    public IReadOnlyCollection<long>? Ids { get; init; }

    public bool IncludeReplayed { get; init; }

    public long AfterId { get; init; }

    public int Limit { get; init; } = 100;
}
