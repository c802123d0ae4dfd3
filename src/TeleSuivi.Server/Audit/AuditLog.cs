using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Audit;

/// <summary>
/// Who did what, about which patient, from where, and how it ended (<c>200</c>, <c>403</c>, <c>ok</c>, <c>failed</c>…).
/// <paramref name="Actor"/> is a user name, <c>apikey:{id}</c>, or <c>cli:{account}</c>; <paramref name="Source"/> the
/// client's IP address, or <c>cli@{host}</c>.
/// </summary>
public sealed record AuditEntry(string Actor, string Role, string Action, string? Patient, string? Resource, string Outcome, string Source, string? Detail = null);

/// <summary>A row of the trail: the entry, its position and time, and the chain's hashes.</summary>
public sealed record AuditRecord(long Seq, DateTimeOffset Time, AuditEntry Entry, string PreviousHash, string Hash);

/// <summary>What <see cref="AuditLog.VerifyAsync"/> found: the chain's length and head, or the first row that breaks it.</summary>
public sealed record AuditVerification(long Rows, string HeadHash, long? BrokenSeq, string? Problem)
{
    public bool Intact => BrokenSeq is null;
}

/// <summary>A filter of <see cref="AuditLog.ListAsync"/>; every criterion is optional.</summary>
public sealed record AuditQuery(string? Patient = null, string? Actor = null, DateTimeOffset? From = null, DateTimeOffset? To = null, long AfterSeq = 0, int Limit = 100);

/// <summary>
/// The audit trail: an append-only, tamper-evident log in <c>{data}/audit.db</c>. Each row carries
/// <c>hash = SHA-256(previous row's hash + "\n" + canonical content)</c>, the canonical content being the JSON array of
/// its sequence number, time and fields; the first row follows 64 zeros. Editing, deleting, inserting or reordering a
/// row breaks the chain from that row on, which <see cref="VerifyAsync"/> (<c>telesuivi audit verify</c>) finds.
/// Triggers refuse UPDATE and DELETE (someone bypassing them still breaks the chain). Appends are synchronous and
/// durable (SQLite FULL sync in WAL; PostgreSQL's commit) before the request is answered: nothing audited is lost to a
/// crash. The server and the commands append to the same file, or with <see cref="WorkflowOptions.PostgreSql"/> every
/// node to the same PostgreSQL table; a write transaction (SQLite IMMEDIATE, PostgreSQL EXCLUSIVE table lock) keeps the
/// one chain linear across processes and nodes.
/// </summary>
public sealed class AuditLog : IDisposable
{
    public const string FileName = "audit.db";
    public static readonly string Genesis = new('0', 64);

    private const string Columns = "seq, time_ms, actor, role, action, patient, resource, outcome, source, detail, prev_hash, hash";
    private readonly WorkflowDatabase database;
    private readonly TimeProvider time;
    private readonly SemaphoreSlim appendLock = new(1, 1);
    private bool initialized;

    /// <summary>The single-node trail: <c>{dataDirectory}/audit.db</c>.</summary>
    public AuditLog(string dataDirectory, TimeProvider time)
        : this(WorkflowDatabase.Create(new WorkflowOptions(), dataDirectory, FileName), time)
    {
    }

    public AuditLog(WorkflowDatabase database, TimeProvider time)
    {
        this.database = database;
        this.time = time;
    }

    /// <summary>Where the trail is (the SQLite file, or the PostgreSQL host and database).</summary>
    public string FilePath => database.Location;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await database.CreateSchemaAsync("""
            CREATE TABLE IF NOT EXISTS audit (
                seq BIGINT PRIMARY KEY,
                time_ms BIGINT NOT NULL,
                actor TEXT NOT NULL,
                role TEXT NOT NULL,
                action TEXT NOT NULL,
                patient TEXT,
                resource TEXT,
                outcome TEXT NOT NULL,
                source TEXT NOT NULL,
                detail TEXT,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS audit_patient ON audit (patient, seq);
            CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, seq);
            CREATE INDEX IF NOT EXISTS audit_time ON audit (time_ms);
            """ + database.Pick(
            """
            CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            """,
            """
            CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
            CREATE OR REPLACE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
            """), cancellationToken);
        initialized = true;
    }

    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default) => AppendAsync([entry], cancellationToken);

    /// <summary>Appends the entries in one transaction, durable when this returns.</summary>
    public async Task AppendAsync(IReadOnlyCollection<AuditEntry> entries, CancellationToken cancellationToken = default)
    {
        if (entries.Count == 0)
        {
            return;
        }

        // An audited action is not abandoned half-way because its client went away: the entry is written regardless.
        _ = cancellationToken;
        await appendLock.WaitAsync(CancellationToken.None);
        try
        {
            if (!initialized)
            {
                await InitializeAsync(CancellationToken.None);
            }

            await using var connection = await OpenAsync(CancellationToken.None);
            await using var transaction = await database.BeginWriteAsync(connection, "audit", CancellationToken.None);
            await AppendAsync(connection, transaction, entries, time.GetUtcNow(), CancellationToken.None);
            await transaction.CommitAsync(CancellationToken.None);
        }
        finally
        {
            appendLock.Release();
        }
    }

    /// <summary>
    /// Appends the entries at the end of the chain in <paramref name="transaction"/>, which the caller has made the only
    /// writer of the table (<see cref="WorkflowDatabase.BeginWriteAsync"/>, or a lock of its own); the caller commits.
    /// </summary>
    internal static async Task<IReadOnlyList<AuditRecord>> AppendAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<AuditEntry> entries, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var last = await Sql.QueryAsync(connection, transaction, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", r => (Seq: r.GetInt64(0), Hash: r.GetString(1)), cancellationToken);
        var (seq, previous) = last.Count == 0 ? (0L, Genesis) : last[0];
        var timeMs = now.ToUnixTimeMilliseconds();
        var appended = new List<AuditRecord>(entries.Count);
        foreach (var entry in entries)
        {
            seq++;
            var hash = HashOf(previous, seq, timeMs, entry);
            await Sql.ExecuteAsync(connection, transaction, $"INSERT INTO audit ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", cancellationToken,
                seq, timeMs, entry.Actor, entry.Role, entry.Action, entry.Patient, entry.Resource, entry.Outcome, entry.Source, entry.Detail, previous, hash);
            appended.Add(new AuditRecord(seq, DateTimeOffset.FromUnixTimeMilliseconds(timeMs), entry, previous, hash));
            previous = hash;
        }

        return appended;
    }

    public async Task<IReadOnlyList<AuditRecord>> ListAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        // The casts give PostgreSQL the type of a filter left out (sent as an untyped NULL), which "$2 IS NULL" alone does not.
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.QueryAsync(
            connection,
            null,
            $"""
            SELECT {Columns} FROM audit
            WHERE seq > $1 AND (CAST($2 AS TEXT) IS NULL OR patient = $2) AND (CAST($3 AS TEXT) IS NULL OR actor = $3)
                AND (CAST($4 AS BIGINT) IS NULL OR time_ms >= $4) AND (CAST($5 AS BIGINT) IS NULL OR time_ms < $5)
            ORDER BY seq LIMIT $6
            """,
            Read,
            cancellationToken,
            query.AfterSeq,
            query.Patient,
            query.Actor,
            query.From?.ToUnixTimeMilliseconds(),
            query.To?.ToUnixTimeMilliseconds(),
            query.Limit);
    }

    /// <summary>Walks the whole chain in order and stops at the first row that does not fit.</summary>
    public async Task<AuditVerification> VerifyAsync(IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await VerifyChainAsync(connection, null, progress, cancellationToken);
    }

    /// <summary>Walks the chain as <paramref name="transaction"/> sees it (e.g. rows not committed yet).</summary>
    internal static async Task<AuditVerification> VerifyChainAsync(DbConnection connection, DbTransaction? transaction, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {Columns} FROM audit ORDER BY seq";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var expectedSeq = 1L;
        var previous = Genesis;
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = Read(reader);
            if (row.Seq != expectedSeq)
            {
                return new AuditVerification(expectedSeq - 1, previous, row.Seq,
                    row.Seq > expectedSeq ? $"row {row.Seq} follows row {expectedSeq - 1}: rows {expectedSeq}..{row.Seq - 1} were deleted" : $"row {row.Seq} is out of order");
            }

            if (!string.Equals(row.PreviousHash, previous, StringComparison.Ordinal))
            {
                return new AuditVerification(expectedSeq - 1, previous, row.Seq, $"row {row.Seq} does not follow row {row.Seq - 1} (a row was deleted, inserted or reordered, or the previous hash edited)");
            }

            if (!string.Equals(HashOf(previous, row.Seq, row.Time.ToUnixTimeMilliseconds(), row.Entry), row.Hash, StringComparison.Ordinal))
            {
                return new AuditVerification(expectedSeq - 1, previous, row.Seq, $"row {row.Seq} was edited: its content does not match its hash");
            }

            previous = row.Hash;
            if (expectedSeq % 10_000 == 0)
            {
                progress?.Report(expectedSeq);
            }

            expectedSeq++;
        }

        progress?.Report(expectedSeq - 1);
        return new AuditVerification(expectedSeq - 1, previous, null, null);
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.ScalarAsync(connection, null, "SELECT COUNT(*) FROM audit", cancellationToken);
    }

    public static string HashOf(string previousHash, long seq, long timeMs, AuditEntry entry)
    {
        var canonical = JsonSerializer.Serialize(new object?[]
        {
            seq, timeMs, entry.Actor, entry.Role, entry.Action, entry.Patient, entry.Resource, entry.Outcome, entry.Source, entry.Detail,
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(previousHash + "\n" + canonical)));
    }

    private static AuditRecord Read(DbDataReader r) => new(
        r.GetInt64(0),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
        new AuditEntry(r.GetString(2), r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.GetString(7), r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9)),
        r.GetString(10),
        r.GetString(11));

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

    public void Dispose() => appendLock.Dispose();
}
