using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.DeadLetters;

/// <summary>A message that could not be stored, kept byte for byte with the precise reason, until replayed.</summary>
public sealed record DeadLetter(long Id, string Topic, byte[] Payload, DateTimeOffset ReceivedAt, string Reason, DateTimeOffset? ReplayedAt);

/// <summary>
/// The dead-letter store: a local SQLite file beside the data, whatever the observation store is, so that a
/// message can be dead-lettered durably even when the observation store is the thing that is down.
/// </summary>
public sealed class DeadLetterStore
{
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
                reason TEXT NOT NULL,
                replayed_at TEXT
            );
            CREATE INDEX IF NOT EXISTS dead_letter_pending ON dead_letter (replayed_at, id);
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Adds the letters in one transaction: when it returns, all of them are on disk.</summary>
    public async Task AddAsync(IReadOnlyCollection<(string Topic, byte[] Payload, DateTimeOffset ReceivedAt, string Reason)> letters, CancellationToken cancellationToken)
    {
        if (letters.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO dead_letter (topic, payload, received_at, reason) VALUES ($topic, $payload, $received, $reason)";
        var topic = command.Parameters.Add("$topic", SqliteType.Text);
        var payload = command.Parameters.Add("$payload", SqliteType.Blob);
        var received = command.Parameters.Add("$received", SqliteType.Text);
        var reason = command.Parameters.Add("$reason", SqliteType.Text);
        foreach (var letter in letters)
        {
            topic.Value = letter.Topic;
            payload.Value = letter.Payload;
            received.Value = letter.ReceivedAt.ToString("O", CultureInfo.InvariantCulture);
            reason.Value = letter.Reason;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<DeadLetter>> ListAsync(bool includeReplayed, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = includeReplayed
            ? "SELECT id, topic, payload, received_at, reason, replayed_at FROM dead_letter ORDER BY id LIMIT $limit"
            : "SELECT id, topic, payload, received_at, reason, replayed_at FROM dead_letter WHERE replayed_at IS NULL ORDER BY id LIMIT $limit";
        command.Parameters.AddWithValue("$limit", limit);
        var letters = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            letters.Add(new DeadLetter(
                reader.GetInt64(0),
                reader.GetString(1),
                (byte[])reader.GetValue(2),
                DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture),
                reader.GetString(4),
                reader.IsDBNull(5) ? null : DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture)));
        }

        return letters;
    }

    public async Task<IReadOnlyDictionary<string, long>> CountByReasonAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT reason, COUNT(*) FROM dead_letter WHERE replayed_at IS NULL GROUP BY reason";
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
