using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Server.Storage.Shapes;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The embedded observation store: two SQLite files in WAL mode, laid out so that a reading costs few page writes:
/// each reading appended to a log in a file of its own (<c>{path}-log</c>) as its shape's id and its varying parts (or
/// its own FHIR JSON when it does not split), then folded in large chunks into the main file: the keys and numbers
/// clustered by (patient, code, time), and hourly roll-ups kept up to date at fold time so that a long trend reads one
/// row per hour instead of one per reading. The two files have a write lock each, so an append (what the MQTT
/// acknowledgement waits for) never waits behind a fold.
/// </summary>
/// <remarks>
/// Schema (version 5, in the main file's <c>PRAGMA user_version</c>; README "Storage" has the why):
/// <list type="bullet">
/// <item><c>observation_log (seq PK, id, patient, code, effective_ms, device, unit, value, components, shape, style, issued_ms, identifier, resource, id_key)</c>,
/// in both files: in the log file, the readings acknowledged and not folded yet, in arrival order (rowid table); in the
/// main file, the folded ones, which the clustered tables point at. Each row holds the id of its shape and its varying parts in typed columns
/// (<see cref="Shapes.ObservationShapes"/>), or, when it does not fit them, as its own FHIR JSON in <c>resource</c>.
/// <c>patient</c> is <c>subject.reference</c> (empty when there is none), <c>code</c> the <c>system|code</c> of the first coding;
/// <c>value</c> and <c>components</c> (a JSON object by field) are the numbers the fold and the roll-ups work on.</item>
/// <item><c>observation_shape (id PK, resource)</c>, in the log file (an append may store a new one without the main file's lock):
/// each shape once, the FHIR JSON of an Observation without its varying parts.</item>
/// <item><c>observation (patient, code, effective_ms, id, seq, value, components)</c> WITHOUT ROWID, clustered by series and time,
/// pointing at the log row, with the numbers of <see cref="ObservationKeys.NumericFields"/> as the log row holds them (<c>value</c>,
/// and <c>components</c>: a JSON object by field, <c>c:8480-6</c>...), the same fields as InfluxDB.</item>
/// <item><c>observation_id (key, seq)</c> WITHOUT ROWID: read by id, and idempotence. <c>key</c> is the id's 64-bit
/// <see cref="ObservationIdKey"/> (also in the log row's <c>id_key</c>, computed when it is appended); two ids may share
/// one, so a lookup checks the id of the log row it finds.</item>
/// <item><c>observation_hourly (patient, code, hour_ms, field, n, total, low, high, last_ms, last_id, last_value)</c> WITHOUT ROWID:
/// the count, sum, min, max and last of each field in each UTC hour, updated in the transaction that writes the readings.</item>
/// </list>
/// Files of version 0 to 4 are migrated in place when they are opened (SqliteObservationStore.Migration.cs).
/// </remarks>
public sealed partial class SqliteObservationStore(string path, ILogger? logger = null) : IObservationStore
{
    private const int SchemaVersion = 5;

    /// <summary>The log file beside the main one (<c>{path}-log</c>, like SQLite's own <c>-wal</c> and <c>-shm</c>).</summary>
    private readonly string logPath = path + "-log";

    /// <summary>The width of a roll-up row: one UTC hour.</summary>
    internal const long HourMs = 3_600_000;

    private readonly string connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    private readonly string existingFileConnectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWrite,
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

            // The migrations index the ids already stored by their key.
            ObservationIdKey.Register(connection);

            // Without a schema name: both files.
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL", cancellationToken);

            // BEGIN IMMEDIATE (both files): two processes opening the same file migrate it once, one after the other.
            await using var transaction = connection.BeginTransaction(deferred: false);
            var version = Convert.ToInt32(await ScalarAsync(connection, transaction, "PRAGMA user_version", cancellationToken), CultureInfo.InvariantCulture);
            var legacy = await ScalarAsync(connection, transaction, "SELECT count(*) FROM sqlite_master WHERE name = 'observation' AND sql NOT LIKE '%WITHOUT ROWID%'", cancellationToken);
            var hasLegacyTable = Convert.ToInt64(legacy, CultureInfo.InvariantCulture) > 0;
            await ExecuteAsync(connection, transaction, LogFileDdl, cancellationToken);
            if (version < SchemaVersion && hasLegacyTable)
            {
                await MigrateFromRowidTablesAsync(connection, transaction, version, cancellationToken);
            }
            else if (version == 2)
            {
                await MigrateFromVersion2Async(connection, transaction, cancellationToken);
            }
            else
            {
                await ExecuteAsync(connection, transaction, SchemaDdl, cancellationToken);
            }

            if (version < SchemaVersion)
            {
                await KeyTheIdIndexAsync(connection, transaction, cancellationToken);
                await MoveNumbersIntoObservationAsync(connection, transaction, cancellationToken);
            }

            await ExecuteAsync(connection, transaction, string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version = {SchemaVersion}"), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await MovePendingToLogFileAsync(connection, cancellationToken);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot open the SQLite store {path}: {ex.Message}", ex);
        }

        // Rows a previous run appended and did not fold.
        StartFoldLoop();
    }

    /// <summary>The columns of <c>observation_log</c>, the same in both files (the fold copies rows from one to the other).</summary>
    private const string LogTableDdl = """
        (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            patient TEXT NOT NULL,
            code TEXT NOT NULL,
            effective_ms INTEGER NOT NULL,
            device TEXT,
            unit TEXT,
            value REAL,
            components TEXT,
            shape INTEGER,
            style INTEGER,
            issued_ms INTEGER,
            identifier TEXT,
            resource TEXT,
            id_key INTEGER
        )
        """;

    private const string SchemaDdl = $"""
        CREATE TABLE IF NOT EXISTS observation_log {LogTableDdl};
        CREATE TABLE IF NOT EXISTS observation (
            patient TEXT NOT NULL,
            code TEXT NOT NULL,
            effective_ms INTEGER NOT NULL,
            id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            value REAL,
            components TEXT,
            PRIMARY KEY (patient, code, effective_ms, id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS observation_id (key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS observation_hourly (
            patient TEXT NOT NULL,
            code TEXT NOT NULL,
            hour_ms INTEGER NOT NULL,
            field TEXT NOT NULL,
            n INTEGER NOT NULL,
            total REAL NOT NULL,
            low REAL NOT NULL,
            high REAL NOT NULL,
            last_ms INTEGER NOT NULL,
            last_id TEXT,
            last_value REAL,
            PRIMARY KEY (patient, code, hour_ms, field)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS store_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, written_at TEXT NOT NULL);
        """;

    /// <summary>The columns of <c>observation_log</c>, in both files, in the order of their DDL.</summary>
    private const string LogColumns = "seq, id, patient, code, effective_ms, device, unit, value, components, shape, style, issued_ms, identifier, resource, id_key";

    private const string LogFileDdl = $"""
        CREATE TABLE IF NOT EXISTS log.observation_log {LogTableDdl};
        CREATE TABLE IF NOT EXISTS log.observation_shape (id INTEGER PRIMARY KEY, resource TEXT NOT NULL);
        """;

    /// <summary>
    /// A first statement that takes the log file's write lock and only its: BEGIN IMMEDIATE would take the main file's
    /// too, which a fold may hold for a long transaction.
    /// </summary>
    private const string LockLogFile = "DELETE FROM log.observation_log WHERE 0";

    /// <summary>The same for the main file (the fold's transactions).</summary>
    private const string LockMainFile = "DELETE FROM main.store_probe WHERE 0";

    /// <summary>
    /// Appends a batch to the log and returns once it is durable. Batches written at the same time (the ingest pipeline
    /// keeps <see cref="Ingestion.IngestOptions.WritesInFlight"/> in flight) share one transaction and one sync: the
    /// writer that takes the log's gate appends every batch waiting for it (group commit), so a sync that takes
    /// milliseconds is paid once per group instead of once per batch (BENCHMARKS.md, "SQLite ingest").
    /// </summary>
    public async Task WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken)
    {
        if (observations.Count == 0)
        {
            return;
        }

        // SQLite's calls are synchronous: without this the caller (the ingest pipeline's taking loop) would wait for
        // the append and its sync before it could normalise the next batch, and no batch would ever be in flight.
        await Task.Yield();

        // Prepared here, beside the append in progress: the gate is held only to write rows. A reading the store refuses
        // throws here, and its batch fails alone.
        var request = new AppendRequest([.. observations.Select(o => LogAppender.Prepare(o))]);
        lock (appendQueue)
        {
            appendQueue.AddLast(request.Node);
            appendsInFlight++;
        }

        try
        {
            await AppendOrJoinAsync(request, cancellationToken);
        }
        finally
        {
            lock (appendQueue)
            {
                appendsInFlight--;
            }
        }
    }

    private async Task AppendOrJoinAsync(AppendRequest request, CancellationToken cancellationToken)
    {
        long pending = 0;
        try
        {
            await appendGate.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Taken by a writer meanwhile or not, the caller is told it failed: at worst it is written again later,
            // which the fold makes harmless (the same id, the same content).
            Withdraw(request);
            throw;
        }

        try
        {
            // Whoever holds the gate completes every batch it took before releasing it: a batch is either done or
            // still queued here.
            if (!request.Done.Task.IsCompleted)
            {
                pending = await AppendGroupAsync(TakeGroup(), cancellationToken);
            }
        }
        finally
        {
            appendGate.Release();
        }

        await request.Done.Task;
        Interlocked.Increment(ref appends);
        if (pending >= MaxPending)
        {
            await FoldChunkAsync(cancellationToken);
        }

        StartFoldLoop();
    }

    /// <summary>Writes in <see cref="WriteAsync"/>, queued or appending (group commit).</summary>
    internal int AppendsInFlight
    {
        get
        {
            lock (appendQueue)
            {
                return appendsInFlight;
            }
        }
    }

    /// <summary>Batches waiting for another writer to append them (group commit).</summary>
    internal int QueuedAppends
    {
        get
        {
            lock (appendQueue)
            {
                return appendQueue.Count;
            }
        }
    }

    /// <summary>Append transactions committed since the store was opened: fewer than the batches written when they were grouped.</summary>
    internal long AppendCommits => Interlocked.Read(ref appendCommits);

    /// <summary>The batches waiting for the log's gate, oldest first, up to <see cref="MaxGroupReadings"/> (always the first).</summary>
    private List<AppendRequest> TakeGroup()
    {
        var group = new List<AppendRequest>();
        var readings = 0;
        lock (appendQueue)
        {
            while (appendQueue.First is { } first && (group.Count == 0 || readings + first.Value.Readings.Count <= MaxGroupReadings))
            {
                appendQueue.RemoveFirst();
                group.Add(first.Value);
                readings += first.Value.Readings.Count;
            }
        }

        return group;
    }

    private void Withdraw(AppendRequest request)
    {
        lock (appendQueue)
        {
            if (request.Node.List is not null)
            {
                appendQueue.Remove(request.Node);
            }
        }
    }

    /// <summary>
    /// Appends the group in one transaction and completes each batch; returns the readings pending after it. Every reading
    /// was prepared before (a refused one failed its batch then), so what fails here is the file, the disk or the
    /// timeout, which fail every batch of the group alike: all are told, and all go to the spool.
    /// </summary>
    private async Task<long> AppendGroupAsync(List<AppendRequest> group, CancellationToken cancellationToken)
    {
        try
        {
            var pending = await AppendAsync(group.Count == 1 ? group[0].Readings : [.. group.SelectMany(r => r.Readings)], cancellationToken);
            group.ForEach(r => r.Done.TrySetResult());
            return pending;
        }
        catch (Exception ex)
        {
            group.ForEach(r => r.Done.TrySetException(ex));
            return 0;
        }
    }

    /// <summary>Appends the readings in one transaction of the log file; returns the readings pending after it.</summary>
    private async Task<long> AppendAsync(IReadOnlyList<PreparedReading> readings, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);

        // synchronous = FULL (set by OpenAsync): the commit syncs the log's WAL, so that a batch acknowledged to the
        // broker survives a power cut, not only a crash of the process (NORMAL would lose the last commits).
        // The log's write lock first: the appender numbers the rows itself from the largest seq, which no other
        // writer may take meanwhile.
        await using var transaction = connection.BeginTransaction(deferred: true);
        await ExecuteAsync(connection, transaction, LockLogFile, cancellationToken);
        await using (var appender = await LogAppender.CreateAsync(connection, transaction, "log", cancellationToken))
        {
            foreach (var reading in readings)
            {
                await appender.AppendAsync(reading, cancellationToken);
            }
        }

        var pending = await PendingAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        Interlocked.Increment(ref appendCommits);
        return pending;
    }

    /// <summary>A batch waiting to be appended, and its outcome.</summary>
    private sealed class AppendRequest
    {
        public AppendRequest(IReadOnlyList<PreparedReading> readings)
        {
            Readings = readings;
            Node = new LinkedListNode<AppendRequest>(this);
        }

        public IReadOnlyList<PreparedReading> Readings { get; }

        public LinkedListNode<AppendRequest> Node { get; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
        await using var scope = await OpenReadAsync(search.Subject, null, cancellationToken);
        var connection = scope.Connection;
        List<string> codes = search.Codes.Count > 0
            ? search.Codes.Distinct(StringComparer.Ordinal).ToList()
            : await ReadCodesAsync(scope, search.Subject, cancellationToken);
        if (codes.Count == 0)
        {
            return new ObservationSearchResult([], includeTotal ? 0 : null);
        }

        await using var command = connection.CreateCommand();
        command.Parameters.AddWithValue("$patient", search.Subject);
        command.Parameters.AddWithValue("$from", search.From.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$through", search.Through.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$limit", search.Limit);
        var order = search.Descending ? "effective_ms DESC, id DESC" : "effective_ms, id";
        var cursor = string.Empty;
        if (search.After is { } after)
        {
            cursor = search.Descending ? " AND (effective_ms, id) < ($position, $id)" : " AND (effective_ms, id) > ($position, $id)";
            command.Parameters.AddWithValue("$position", after.Position);
            command.Parameters.AddWithValue("$id", after.Id);
        }

        // The rows are clustered by (patient, code, time): one ordered range per code, each cut at the limit, merged.
        // A single "code IN (...) ORDER BY time" would sort every matching row before the limit applies.
        var ranges = new StringBuilder();
        for (var i = 0; i < codes.Count; i++)
        {
            command.Parameters.AddWithValue(string.Create(CultureInfo.InvariantCulture, $"$c{i}"), codes[i]);
            ranges.Append(i == 0 ? string.Empty : " UNION ALL ").Append(CultureInfo.InvariantCulture, $"""
                SELECT * FROM (SELECT id, effective_ms, seq FROM observation
                WHERE patient = $patient AND code = $c{i} AND effective_ms BETWEEN $from AND $through{cursor}
                ORDER BY {order} LIMIT $limit)
                """);
        }

        command.CommandText = $"""
            SELECT k.id, k.effective_ms, {LogResource} FROM ({ranges}) k JOIN observation_log l ON l.seq = k.seq {ShapeJoin}
            ORDER BY {order.Replace("effective_ms", "k.effective_ms", StringComparison.Ordinal).Replace(" id", " k.id", StringComparison.Ordinal)} LIMIT $limit
            """;
        var matches = new List<ObservationMatch>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                matches.Add(new ObservationMatch(ReadResource(reader, 2), new ObservationCursor(reader.GetInt64(1), reader.GetString(0))));
            }
        }

        var pending = scope.Pending.Where(r => codes.Contains(r.Code) && r.Time >= search.From.ToUnixTimeMilliseconds() && r.Time <= search.Through.ToUnixTimeMilliseconds()).ToList();
        matches = await MergePendingAsync(scope, search, matches, pending, cancellationToken);

        long? total = null;
        if (includeTotal)
        {
            var filter = new StringBuilder("patient = $patient AND effective_ms BETWEEN $from AND $through");
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$patient", search.Subject);
            command.Parameters.AddWithValue("$from", search.From.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$through", search.Through.ToUnixTimeMilliseconds());
            AppendCodes(command, filter, codes);
            command.CommandText = "SELECT count(*) FROM observation WHERE " + filter;
            total = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) + pending.Count;
        }

        return new ObservationSearchResult(matches, total);
    }

    public async Task<Observation?> FindAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        await using var scope = await OpenReadAsync(null, id, cancellationToken);
        await using var command = scope.Connection.CreateCommand();
        command.CommandText = scope.Pending.Count > 0
            ? $"SELECT {LogResource} FROM log.observation_log l {ShapeJoin} WHERE l.seq = $seq"
            : $"SELECT {LogResource} FROM observation_id i JOIN observation_log l ON l.seq = i.seq AND l.id = $id {ShapeJoin} WHERE i.key = $key";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$key", ObservationIdKey.Of(id));
        command.Parameters.AddWithValue("$seq", scope.Pending.Count > 0 ? scope.Pending[0].Seq : 0);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadResource(reader, 0) : null;
    }

    public async Task<IReadOnlyList<string>> ReadCodesAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        await using var scope = await OpenReadAsync(subject, null, cancellationToken);
        return await ReadCodesAsync(scope, subject, cancellationToken);
    }

    /// <summary>The codes of a subject, folded or pending, in ordinal order.</summary>
    private static async Task<List<string>> ReadCodesAsync(ReadScope scope, string subject, CancellationToken cancellationToken)
    {
        var codes = await ReadCodesAsync(scope.Connection, subject, cancellationToken);
        var missing = scope.Pending.Select(r => r.Code).Where(c => !codes.Contains(c)).Distinct().ToList();
        if (missing.Count > 0)
        {
            codes.AddRange(missing);
            codes.Sort(StringComparer.Ordinal);
        }

        return codes;
    }

    private static async Task<List<string>> ReadCodesAsync(SqliteConnection connection, string subject, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();

        // A loose index scan: one seek per code, however many Observations the subject has.
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

    public async Task<IReadOnlyList<LatestReading>> ReadLatestAsync(string? subject, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var scope = await OpenReadAsync(subject, null, cancellationToken);
        await using var command = scope.Connection.CreateCommand();

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
            ),
            latest(patient, code, effective_ms) AS (
                SELECT patient, code, (SELECT max(effective_ms) FROM observation i WHERE i.patient = pairs.patient AND i.code = pairs.code)
                FROM pairs WHERE code IS NOT NULL
            )
            SELECT o.patient, o.code, o.effective_ms, o.id, g.device, g.unit, o.value, o.components
            FROM latest l
            JOIN observation o ON o.patient = l.patient AND o.code = l.code AND o.effective_ms = l.effective_ms AND o.id = (
                SELECT max(id) FROM observation i WHERE i.patient = l.patient AND i.code = l.code AND i.effective_ms = l.effective_ms)
            JOIN observation_log g ON g.seq = o.seq
            WHERE l.effective_ms >= $since
            ORDER BY o.patient, o.code
            """;
        if (subject is not null)
        {
            command.Parameters.AddWithValue("$subject", subject);
        }

        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        var readings = new List<LatestReading>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                readings.Add(StoreReads.Latest(
                    reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), DecodeNumbers(reader, 6)));
            }
        }

        return MergePendingLatest(readings, scope.Pending, subject, since.ToUnixTimeMilliseconds());
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
            await using var scope = await OpenReadAsync(subject, null, cancellationToken);
            await using var command = scope.Connection.CreateCommand();
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

            foreach (var row in scope.Pending.Where(r => expectedPerDay.ContainsKey(r.Code)))
            {
                for (var day = 0; day < windows.Count; day++)
                {
                    if (row.Time >= windows[day].StartMs && row.Time < windows[day].EndMs)
                    {
                        received[(day, row.Code)] = received.GetValueOrDefault((day, row.Code)) + 1;
                    }
                }
            }
        }

        return StoreReads.Completeness(windows, expectedPerDay, received);
    }

    /// <summary>The columns of a log row <c>l</c> and its shape <c>s</c> (<see cref="ShapeJoin"/>) that <see cref="ReadResource"/> rebuilds the Observation from.</summary>
    internal const string LogResource = "l.id, l.patient, l.device, l.effective_ms, l.style, l.issued_ms, l.identifier, l.value, l.components, s.resource, l.resource";

    internal const string ShapeJoin = "LEFT JOIN observation_shape s ON s.id = l.shape";

    /// <summary>The Observation of the <see cref="LogResource"/> columns starting at <paramref name="first"/>: its own JSON, or its shape and parts.</summary>
    internal static Observation ReadResource(SqliteDataReader reader, int first)
    {
        if (!reader.IsDBNull(first + 10))
        {
            return ObservationKeys.Parse(reader.GetString(first + 10));
        }

        var id = reader.GetString(first);
        if (reader.IsDBNull(first + 9) || reader.IsDBNull(first + 4))
        {
            throw new InvalidDataException($"Observation {id} has neither its FHIR JSON nor a known shape in the log: the store file is damaged");
        }

        var patient = reader.GetString(first + 1);
        var parts = new ReadingParts(
            id,
            patient.Length == 0 ? null : patient,
            reader.IsDBNull(first + 2) ? null : reader.GetString(first + 2),
            reader.GetInt64(first + 3),
            (EffectiveStyle)reader.GetInt32(first + 4),
            reader.IsDBNull(first + 5) ? null : reader.GetInt64(first + 5),
            reader.IsDBNull(first + 6) ? null : reader.GetString(first + 6),
            reader.IsDBNull(first + 7) ? null : reader.GetDouble(first + 7),
            DecodeComponents(reader.IsDBNull(first + 8) ? null : reader.GetString(first + 8)));
        return ObservationShapes.Rebuild(reader.GetString(first + 9), parts);
    }

    /// <summary>Appends <c> AND code IN ($c0, ...)</c> for a non-empty list.</summary>
    private static void AppendCodes(SqliteCommand command, StringBuilder filter, List<string> codes)
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

    /// <param name="createMissing">
    /// False for the background fold: a file deleted under it (the data folder removed) is an error, not a new empty file.
    /// </param>
    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken, bool createMissing = true)
    {
        var connection = new SqliteConnection(createMissing ? connectionString : existingFileConnectionString);
        await connection.OpenAsync(cancellationToken);
        try
        {
            // A pooled connection keeps what it attached.
            if (Convert.ToInt64(await ScalarAsync(connection, null, "SELECT count(*) FROM pragma_database_list WHERE name = 'log'", cancellationToken), CultureInfo.InvariantCulture) == 0)
            {
                await using var attach = connection.CreateCommand();
                attach.CommandText = "ATTACH DATABASE $path AS log";
                attach.Parameters.AddWithValue("$path", logPath);
                await attach.ExecuteNonQueryAsync(cancellationToken);
            }

            // 64 MB of page cache per pooled connection instead of SQLite's 2 MB: the tail pages of every series a fold
            // appends to stay in memory between folds instead of being read back.
            // synchronous = FULL on both files: an append is acknowledged by its commit, and the fold deletes the log
            // rows it folded only after its own commit is on disk.
            // A page changed by several commits is copied back to the file once per checkpoint: let the WAL grow to 64 MB
            // before one, on every connection.
            await ExecuteAsync(
                connection,
                null,
                "PRAGMA main.cache_size = -65536; PRAGMA main.synchronous = FULL; PRAGMA log.synchronous = FULL; PRAGMA wal_autocheckpoint = 16384",
                cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A connection for a write that needs every acknowledged reading folded first (retention, erasure), with
    /// <see cref="ObservationIdKey.SqlFunction"/>: it deletes ids from the index by their key.
    /// </summary>
    private async Task<SqliteConnection> OpenFoldedAsync(CancellationToken cancellationToken)
    {
        await FoldAllAsync(cancellationToken);
        var connection = await OpenAsync(cancellationToken);
        ObservationIdKey.Register(connection);
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

    private static async Task<long> Int64Async(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken) =>
        Convert.ToInt64(await ScalarAsync(connection, transaction, sql, cancellationToken), CultureInfo.InvariantCulture);

    /// <summary>Whether the file <paramref name="schema"/> (<c>main</c>, <c>log</c>) has the table <paramref name="table"/>.</summary>
    private static async Task<bool> HasTableAsync(SqliteConnection connection, SqliteTransaction? transaction, string schema, string table, CancellationToken cancellationToken) =>
        await Int64Async(connection, transaction, $"SELECT count(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = '{table}'", cancellationToken) > 0;

    /// <summary>Whether <paramref name="schema"/>.<paramref name="table"/> has the column <paramref name="column"/>.</summary>
    private static async Task<bool> HasColumnAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string schema, string table, string column, CancellationToken cancellationToken) =>
        await Int64Async(connection, transaction, $"SELECT count(*) FROM pragma_table_info('{table}', '{schema}') WHERE name = '{column}'", cancellationToken) > 0;
}
