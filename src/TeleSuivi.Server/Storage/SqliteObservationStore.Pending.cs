using System.Text.Json;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// Reads without folding. A read opens one snapshot (a deferred transaction) and sees what is folded in it plus the log
/// rows after the folded mark, with the fold's rule: of one id, the latest row wins. The pending rows' keys and numbers
/// are kept in memory (<see cref="PendingLog"/>) and loaded once each, so that a read costs what the folded tables cost
/// plus the pending rows of its subject, and never waits for the write lock.
/// </summary>
public sealed partial class SqliteObservationStore
{
    private readonly PendingLog pendingLog = new();

    /// <summary>One read: a connection, its snapshot and the pending rows of that snapshot that the read may need.</summary>
    private sealed class ReadScope(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<PendingRow> pending) : IAsyncDisposable
    {
        public SqliteConnection Connection => connection;

        /// <summary>The latest pending row of each id in the read's reach (its subject, its id, or all of them), not folded yet.</summary>
        public IReadOnlyList<PendingRow> Pending => pending;

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Opens a snapshot and the pending rows of <paramref name="subject"/> (all subjects when null) or of the one
    /// <paramref name="id"/>. When one of them rewrites an Observation folded with other content (a corrected reading),
    /// the folded tables and roll-ups would still count the old one: that rare case is folded first.
    /// </summary>
    private async Task<ReadScope> OpenReadAsync(string? subject, string? id, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var connection = await OpenAsync(cancellationToken);
            SqliteTransaction? transaction = null;
            try
            {
                transaction = connection.BeginTransaction(deferred: true);

                // The log file's snapshot before the main file's: a fold commits the main file, then deletes what it
                // folded from the log; the other order could see neither the folded rows nor their log rows.
                await ExecuteAsync(connection, transaction, "SELECT count(*) FROM (SELECT 1 FROM log.observation_log LIMIT 1)", cancellationToken);
                var (rows, rewrites) = await pendingLog.ViewAsync(connection, transaction, subject, id, cancellationToken);
                if (!rewrites || attempt > 0)
                {
                    return new ReadScope(connection, transaction, rows);
                }
            }
            catch
            {
                if (transaction is not null)
                {
                    await transaction.DisposeAsync();
                }

                await connection.DisposeAsync();
                throw;
            }

            await transaction.DisposeAsync();
            await connection.DisposeAsync();
            await FoldAllAsync(cancellationToken);
        }
    }

    /// <summary>
    /// A search page from the folded matches (already cut at the limit) and the pending rows of the subject in the
    /// search's codes and window: the pending ones after the cursor are merged in the search's order, the page cut again,
    /// and the FHIR JSON of the pending rows that made it read by seq.
    /// </summary>
    private static async Task<List<ObservationMatch>> MergePendingAsync(
        ReadScope scope, ObservationSearch search, List<ObservationMatch> folded, List<PendingRow> pending, CancellationToken cancellationToken)
    {
        var direction = search.Descending ? -1 : 1;
        var candidates = pending.Where(r => search.After is not { } after || direction * Compare(r.Time, r.Id, after) > 0).ToList();
        if (candidates.Count == 0)
        {
            return folded;
        }

        var page = folded.Select(m => (m.Cursor, Match: (ObservationMatch?)m, Row: (PendingRow?)null))
            .Concat(candidates.Select(r => (Cursor: new ObservationCursor(r.Time, r.Id), Match: (ObservationMatch?)null, Row: (PendingRow?)r)))
            .OrderBy(e => e.Cursor, Comparer<ObservationCursor>.Create((a, b) => direction * Compare(a.Position, a.Id, b)))
            .Take(search.Limit)
            .ToList();
        var resources = new Dictionary<long, Observation>();
        var seqs = page.Where(e => e.Row is not null).Select(e => e.Row!.Seq).ToList();
        if (seqs.Count > 0)
        {
            await using var command = scope.Connection.CreateCommand();
            command.CommandText = $"SELECT l.seq, {LogResource} FROM log.observation_log l {ShapeJoin} WHERE l.seq IN (SELECT value FROM json_each($seqs))";
            command.Parameters.AddWithValue("$seqs", JsonSerializer.Serialize(seqs));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                resources[reader.GetInt64(0)] = ReadResource(reader, 1);
            }
        }

        return page.Select(e => e.Match ?? new ObservationMatch(resources[e.Row!.Seq], e.Cursor)).ToList();
    }

    private static int Compare(long time, string id, ObservationCursor cursor) =>
        time != cursor.Position ? time.CompareTo(cursor.Position) : string.CompareOrdinal(id, cursor.Id);

    /// <summary>The latest of each (subject, code) from the folded readings and the pending rows: the later (time, then id) wins.</summary>
    private static List<LatestReading> MergePendingLatest(List<LatestReading> folded, IReadOnlyList<PendingRow> pending, string? subject, long sinceMs)
    {
        if (pending.Count == 0)
        {
            return folded;
        }

        var latest = folded.ToDictionary(r => (r.Subject, r.Code));
        foreach (var row in pending)
        {
            // Without a subject, the board's read: patients only, as the folded read's key range.
            if (row.Time < sinceMs || (subject is null && !row.Patient.StartsWith("Patient/", StringComparison.Ordinal)))
            {
                continue;
            }

            if (latest.TryGetValue((row.Patient, row.Code), out var current)
                && Compare(row.Time, row.Id, new ObservationCursor(current.Time.ToUnixTimeMilliseconds(), current.ObservationId)) <= 0)
            {
                continue;
            }

            latest[(row.Patient, row.Code)] = StoreReads.Latest(row.Patient, row.Code, row.Time, row.Id, row.Device, row.Unit, row.Fields);
        }

        return latest.Values.OrderBy(r => r.Subject, StringComparer.Ordinal).ThenBy(r => r.Code, StringComparer.Ordinal).ToList();
    }

    /// <summary>A log row after the folded mark, without its FHIR JSON (read by <see cref="Seq"/> when a search returns it).</summary>
    private sealed record PendingRow(long Seq, string Id, string Patient, string Code, long Time, string? Device, string? Unit, (string Field, double Value)[] Fields);

    /// <summary>
    /// The log rows after the folded mark, as of the latest snapshot a read opened: the latest row of each id, except
    /// those identical to the Observation already folded under that id (a replayed duplicate changes nothing).
    /// </summary>
    private sealed class PendingLog : IDisposable
    {
        // Snapshots are opened and synchronised one at a time under this gate, so they come in commit order and the
        // cache moves forward only.
        private readonly SemaphoreSlim gate = new(1, 1);
        private readonly Queue<(long Seq, string Id)> loaded = new();
        private readonly Dictionary<string, PendingRow> latest = new(StringComparer.Ordinal);
        private readonly Dictionary<string, HashSet<string>> idsBySubject = new(StringComparer.Ordinal);

        /// <summary>Pending ids already folded with other content, and the subject of the folded one.</summary>
        private readonly Dictionary<string, string> rewrites = new(StringComparer.Ordinal);
        private long mark = -1;
        private long loadedThrough;

        public async Task<(IReadOnlyList<PendingRow> Rows, bool Rewrites)> ViewAsync(
            SqliteConnection connection, SqliteTransaction transaction, string? subject, string? id, CancellationToken cancellationToken)
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                await SyncAsync(connection, transaction, cancellationToken);
                List<PendingRow> rows;
                if (id is not null)
                {
                    rows = latest.TryGetValue(id, out var row) ? [row] : [];
                    return (rows, false);
                }

                rows = subject is null
                    ? [.. latest.Values]
                    : idsBySubject.TryGetValue(subject, out var ids) ? ids.Select(i => latest[i]).ToList() : [];
                var rewritten = subject is null
                    ? rewrites.Count > 0
                    : rewrites.Any(r => r.Value == subject || latest[r.Key].Patient == subject);
                return (rows, rewritten);
            }
            finally
            {
                gate.Release();
            }
        }

        /// <summary>Brings the cache to the snapshot of <paramref name="transaction"/> (its first statement opens it).</summary>
        private async Task SyncAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
        {
            long folded, last;
            await using (var state = connection.CreateCommand())
            {
                state.Transaction = transaction;
                state.CommandText = $"""
                    SELECT coalesce((SELECT value FROM store_state WHERE name = '{FoldedState}'), 0), coalesce((SELECT max(seq) FROM log.observation_log), 0)
                    """;
                await using var reader = await state.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                (folded, last) = (reader.GetInt64(0), reader.GetInt64(1));
            }

            if (folded < mark)
            {
                // The file went back (another process migrated or restored it): start again from what it says.
                Clear();
            }

            var recheck = new List<long>();
            if (folded > mark)
            {
                while (loaded.TryPeek(out var entry) && entry.Seq <= folded)
                {
                    loaded.Dequeue();
                    if (latest.TryGetValue(entry.Id, out var row) && row.Seq == entry.Seq)
                    {
                        Remove(entry.Id);
                    }
                    else if (row is not null && row.Seq > folded)
                    {
                        // An earlier row of this id was just folded: the pending one now rewrites it, or repeats it.
                        recheck.Add(row.Seq);
                    }
                }

                mark = folded;
                loadedThrough = Math.Max(loadedThrough, folded);
            }

            if (last > loadedThrough || recheck.Count > 0)
            {
                await LoadAsync(connection, transaction, last, recheck, cancellationToken);
                loadedThrough = Math.Max(loadedThrough, last);
            }
        }

        private async Task LoadAsync(SqliteConnection connection, SqliteTransaction transaction, long last, List<long> recheck, CancellationToken cancellationToken)
        {
            await using var select = connection.CreateCommand();
            select.Transaction = transaction;

            // The folded row of the same id, if any, and whether the pending row says exactly the same (the fold's test).
            select.CommandText = $"""
                SELECT n.seq, n.id, n.patient, n.code, n.effective_ms, n.device, n.unit, n.value, n.components, o.patient,
                       {SameLogContent} AND o.patient = n.patient AND o.code = n.code AND o.effective_ms = n.effective_ms
                FROM log.observation_log n LEFT JOIN main.observation_log o ON o.seq = (
                    SELECT i.seq FROM observation_id i JOIN main.observation_log x ON x.seq = i.seq AND x.id = n.id WHERE i.key = n.id_key)
                WHERE (n.seq > $from AND n.seq <= $last) OR n.seq IN (SELECT value FROM json_each($recheck))
                ORDER BY n.seq
                """;
            select.Parameters.AddWithValue("$from", loadedThrough);
            select.Parameters.AddWithValue("$last", last);
            select.Parameters.AddWithValue("$recheck", JsonSerializer.Serialize(recheck));
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = new PendingRow(
                    reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                    DecodeNumbers(reader, 7));
                var foldedSubject = reader.IsDBNull(9) ? null : reader.GetString(9);
                var sameAsFolded = !reader.IsDBNull(10) && reader.GetBoolean(10);
                if (row.Seq > loadedThrough)
                {
                    loaded.Enqueue((row.Seq, row.Id));
                }

                Remove(row.Id);
                if (sameAsFolded)
                {
                    continue;
                }

                latest[row.Id] = row;
                if (!idsBySubject.TryGetValue(row.Patient, out var ids))
                {
                    idsBySubject[row.Patient] = ids = new HashSet<string>(StringComparer.Ordinal);
                }

                ids.Add(row.Id);
                if (foldedSubject is not null)
                {
                    rewrites[row.Id] = foldedSubject;
                }
            }
        }

        private void Remove(string id)
        {
            if (latest.Remove(id, out var row) && idsBySubject.TryGetValue(row.Patient, out var ids))
            {
                ids.Remove(id);
                if (ids.Count == 0)
                {
                    idsBySubject.Remove(row.Patient);
                }
            }

            rewrites.Remove(id);
        }

        public void Dispose() => gate.Dispose();

        private void Clear()
        {
            loaded.Clear();
            latest.Clear();
            idsBySubject.Clear();
            rewrites.Clear();
            mark = -1;
            loadedThrough = 0;
        }
    }
}
