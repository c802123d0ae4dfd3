using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.ScaleOut;

/// <summary>Bound from the <c>ScoringPartitions</c> configuration section (<c>TELESUIVI_SCORINGPARTITIONS__*</c>).</summary>
public sealed class ScoringPartitionOptions
{
    public const string Section = "ScoringPartitions";

    /// <summary>
    /// How many partitions the patients are hashed into. Every node of a deployment must use the same number; more
    /// partitions than ingest workers (a few per worker) keep the shares even when a worker joins or leaves.
    /// </summary>
    public int Count { get; set; } = 64;

    /// <summary>How often a worker counts the live workers and takes or gives back partitions to hold its fair share.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a worker gathers the patients it received readings of but does not own before it wakes their owners
    /// (one PostgreSQL NOTIFY for all of them): the debounce of the wake-ups, and what it adds to their scoring delay.
    /// </summary>
    public TimeSpan WakeInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// Which patients this ingest worker scores, when several share the load. Readings reach any worker (the broker's
/// shared subscription deals them out without regard to the patient), but the online risk state of a patient is kept
/// by one worker at a time: the owner of the patient's partition (a stable hash of the patient id modulo
/// <see cref="ScoringPartitionOptions.Count"/>).
/// <para>
/// A partition is owned by holding a PostgreSQL session-level advisory lock on it, on one connection per worker that
/// stays open (<c>application_name = telesuivi-scoring</c>); the live workers are the sessions with that name. Each
/// check, a worker takes free partitions up to its fair share (partitions / live workers, rounded up) and gives back
/// what it holds beyond it, so shares even out within two checks of a worker joining. When a worker dies, its session
/// ends (PostgreSQL notices the closed socket at once, or by TCP keep-alive when the host vanished) and the locks
/// with it: the survivors take its partitions at their next check. A worker that loses its own connection stops
/// owning anything before it reconnects, so two workers never hold one partition.
/// </para>
/// <para>
/// A reading that reaches a worker that does not own its patient wakes the owner: the worker gathers such patients
/// for <see cref="ScoringPartitionOptions.WakeInterval"/>, writes them to the table <c>scoring_wake</c> (one row per
/// patient, with its partition) and, in the same transaction, sends one <c>NOTIFY</c> on channel
/// <see cref="WakeChannel"/> naming the partitions concerned. Every worker <c>LISTEN</c>s there; a worker that owns one
/// of them drains the rows of its partitions (<c>DELETE … RETURNING</c>) and hands the patients to <see cref="Woken"/>,
/// and the scorer then scores them from the store as if it had received the reading.
/// </para>
/// <para>
/// The table, not the notification, carries the wake-up because PostgreSQL keeps no notification for a session that is
/// not listening: one sent while the owner's session is down (killed, network cut, server restarted) would be lost,
/// and a patient whose readings have stopped would not be scored again. A row stays until the owner of its partition
/// takes it, whoever that is by then: each worker drains after every (re)connection once <c>LISTEN</c> is in place (so
/// nothing committed before is missed and nothing committed after goes unannounced), after every check of its share
/// (partitions taken from a dead worker come with their pending wake-ups), and when told. Rows are keyed by patient, so
/// what waits is bounded by the number of patients however long no owner drains. The readings store could not serve
/// as this durable source: it is InfluxDB or each node's SQLite, not shared PostgreSQL, and it cannot say which
/// patients' readings another worker received.
/// </para>
/// <para>
/// Without <c>Workflow:PostgreSql</c> there is one node: it owns every patient.
/// </para>
/// </summary>
public sealed partial class ScoringPartitions : BackgroundService
{
    public const string ApplicationName = "telesuivi-scoring";

    /// <summary>
    /// The PostgreSQL notification channel of the wake-ups: payload = the partitions with new rows in
    /// <c>scoring_wake</c>, comma-separated, or empty for "any partition".
    /// </summary>
    public const string WakeChannel = "telesuivi_score";

    // PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more: a longer list of partitions is sent as "any".
    private const int MaxPayloadBytes = 7_000;
    private const long MinWaitTicks = 10 * TimeSpan.TicksPerMillisecond;

    // The first key of the two-key advisory locks: keeps the partition locks apart from any other advisory lock.
    private const int LockSpace = 0x7e1e_5c0;

    // The second key of the transaction lock under which workers starting together create the table once (partitions
    // are 0 and up, so it is no partition's).
    private const int SchemaLockKey = -1;

    // partition_count: rows written by workers configured with another count are re-filed at the next connection.
    private const string WakeTableDdl = """
        CREATE TABLE IF NOT EXISTS scoring_wake (
            patient_id TEXT PRIMARY KEY,
            partition INTEGER NOT NULL,
            partition_count INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS scoring_wake_by_partition ON scoring_wake (partition_count, partition);
        """;

    private readonly string? connectionString;
    private readonly ScoringPartitionOptions settings;
    private readonly ILogger<ScoringPartitions> logger;
    private readonly bool[] owned;
    private readonly ConcurrentDictionary<string, byte> toWake = new(StringComparer.Ordinal);
    private volatile int ownedCount;
    private int toldToDrain;

    public ScoringPartitions(IOptions<WorkflowOptions> workflow, IOptions<ScoringPartitionOptions> options, ILogger<ScoringPartitions> logger)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(options);
        settings = options.Value;
        if (settings.Count is < 1 or > 65_536)
        {
            throw new ConfigurationException($"ScoringPartitions:Count {settings.Count} is not valid: expected 1 to 65536");
        }

        if (settings.CheckInterval <= TimeSpan.Zero || settings.WakeInterval <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"ScoringPartitions:CheckInterval ({settings.CheckInterval}) and WakeInterval ({settings.WakeInterval}) must be positive durations");
        }

        this.logger = logger;
        owned = new bool[settings.Count];
        if (string.IsNullOrWhiteSpace(workflow.Value.PostgreSql))
        {
            Array.Fill(owned, true);
            ownedCount = settings.Count;
        }
        else
        {
            connectionString = new NpgsqlConnectionStringBuilder(workflow.Value.PostgreSql) { ApplicationName = ApplicationName, Pooling = false }.ToString();
        }
    }

    public int Count => settings.Count;

    /// <summary>How many partitions this worker owns now.</summary>
    public int OwnedCount => ownedCount;

    /// <summary>The partition of a patient: FNV-1a of the id's UTF-8 bytes, the same in every process and release.</summary>
    public static int PartitionOf(string patientId, int count)
    {
        ArgumentNullException.ThrowIfNull(patientId);
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(patientId))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)count);
    }

    /// <summary>True when several workers may share the patients (<c>Workflow:PostgreSql</c> set): a worker then sees only part of each patient's readings.</summary>
    public bool Shared => connectionString is not null;

    /// <summary>True when this worker keeps (and scores) the state of <paramref name="patientId"/> right now.</summary>
    public bool Owns(string patientId) => Volatile.Read(ref owned[PartitionOf(patientId, settings.Count)]);

    /// <summary>
    /// Called (on the partitions' own loop) with patients this worker owns whose readings another worker received.
    /// Returns false when it cannot take them now (the scoring queue is full): they stay pending in PostgreSQL and are
    /// offered again at the next check. While it is not set, the wake-ups are left for a worker that scores.
    /// </summary>
    public Func<IReadOnlyList<string>, bool>? Woken { get; set; }

    /// <summary>
    /// Asks the owner of <paramref name="patientId"/> to score them: this worker received a reading of theirs but does
    /// not own them. Sent within <see cref="ScoringPartitionOptions.WakeInterval"/>, once however many readings came.
    /// </summary>
    public void WakeOwner(string patientId)
    {
        if (Shared)
        {
            toWake.TryAdd(patientId, 0);
        }
    }

    /// <summary>
    /// The right to erasure: deletes the patient's pending wake-up (the row names them) and rewrites the table so the
    /// row leaves no trace on disk. Returns how many rows went (0 or 1; 0 too without PostgreSQL, or when no worker
    /// ever created the table). A wake-up taken already, or written again by a worker that still receives the patient's
    /// readings, is refused by the scorer: the patient is no longer registered (README "Retention and erasure").
    /// </summary>
    public static async Task<int> ErasePatientAsync(WorkflowOptions workflow, string patientId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(patientId);
        if (string.IsNullOrWhiteSpace(workflow.PostgreSql))
        {
            return 0;
        }

        // Not the workers' application name: the live workers are counted by it.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(workflow.PostgreSql) { ApplicationName = "telesuivi-erase", Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('scoring_wake') IS NOT NULL", connection))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                return 0;
            }
        }

        int erased;
        await using (var delete = new NpgsqlCommand("DELETE FROM scoring_wake WHERE patient_id = @patient", connection))
        {
            delete.Parameters.AddWithValue("patient", patientId);
            erased = await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        if (erased > 0)
        {
            // A few rows at most (one per patient waiting): rewritten in a moment, the workers' inserts wait that long.
            await using var vacuum = new NpgsqlCommand("VACUUM FULL scoring_wake", connection);
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        return erased;
    }

    /// <summary>The partitions this worker owns now.</summary>
    public IReadOnlyList<int> Owned() => [.. Enumerable.Range(0, owned.Length).Where(p => Volatile.Read(ref owned[p]))];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (connectionString is null)
        {
            return;
        }

        var retry = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                connection.Notification += OnNotification;
                await connection.OpenAsync(stoppingToken);
                await PrepareWakeTableAsync(connection, stoppingToken);

                // LISTEN before the first drain (which follows the first balance): a wake-up committed before the drain
                // is found by it, one committed after is announced to this session.
                await using (var listen = new NpgsqlCommand($"LISTEN {WakeChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                retry = TimeSpan.FromSeconds(1);
                var nextBalance = DateTimeOffset.UtcNow;
                while (!stoppingToken.IsCancellationRequested)
                {
                    var drain = Interlocked.Exchange(ref toldToDrain, 0) == 1;
                    if (DateTimeOffset.UtcNow >= nextBalance)
                    {
                        await BalanceAsync(connection, stoppingToken);
                        nextBalance = DateTimeOffset.UtcNow + settings.CheckInterval;
                        drain = true;
                    }

                    await WakeOwnersAsync(connection, stoppingToken);
                    if (drain)
                    {
                        await DrainWakeUpsAsync(connection, stoppingToken);
                    }

                    // Notifications (wake-ups from other workers) are delivered while the session waits here. Never 0:
                    // Npgsql reads a zero timeout as "wait forever".
                    var wait = TimeSpan.FromTicks(Math.Clamp((nextBalance - DateTimeOffset.UtcNow).Ticks, MinWaitTicks, Math.Max(MinWaitTicks, settings.WakeInterval.Ticks)));
                    if (Volatile.Read(ref toldToDrain) == 0)
                    {
                        await connection.WaitAsync(wait, stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // The session and its locks are gone (or about to be): another worker may take the partitions now.
                var lost = ownedCount;
                ReleaseAllLocally();
                LogConnectionLost(lost, ex.Message, retry.TotalSeconds);
                await Task.Delay(retry, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }

        // Closing the connection released the locks; say so before the scorer asks again.
        ReleaseAllLocally();
    }

    private async Task BalanceAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        long live;
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = @app AND datname = current_database()", connection))
        {
            count.Parameters.AddWithValue("app", ApplicationName);
            live = Math.Max(1, (long)(await count.ExecuteScalarAsync(cancellationToken))!);
        }

        var fair = (int)((settings.Count + live - 1) / live);
        var before = ownedCount;
        for (var p = owned.Length - 1; p >= 0 && ownedCount > fair; p--)
        {
            if (owned[p])
            {
                // Stop owning before unlocking: the scorer must not use a partition another worker may already hold.
                Volatile.Write(ref owned[p], false);
                ownedCount--;
                await LockCommandAsync(connection, "pg_advisory_unlock", p, cancellationToken);
            }
        }

        // Each worker starts its search at its own place, so joining workers do not all contend for partition 0.
        var start = PartitionOf(connection.ProcessID.ToString(System.Globalization.CultureInfo.InvariantCulture), settings.Count);
        for (var i = 0; i < owned.Length && ownedCount < fair; i++)
        {
            var p = (start + i) % owned.Length;
            if (!owned[p] && await LockCommandAsync(connection, "pg_try_advisory_lock", p, cancellationToken))
            {
                Volatile.Write(ref owned[p], true);
                ownedCount++;
            }
        }

        if (ownedCount != before)
        {
            LogRebalanced(ownedCount, settings.Count, live);
        }
    }

    /// <summary>Creates <c>scoring_wake</c> once, and re-files the rows of workers that hashed with another partition count.</summary>
    private async Task PrepareWakeTableAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({LockSpace}, {SchemaLockKey}); {WakeTableDdl}", connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        // Only after a change of ScoringPartitions:Count: every node must use the same, so the rows of the old count
        // belong to no partition now. The schema lock above keeps two workers from re-filing them at once.
        var stale = new List<string>();
        await using (var take = new NpgsqlCommand("DELETE FROM scoring_wake WHERE partition_count <> @count RETURNING patient_id", connection, transaction))
        {
            take.Parameters.AddWithValue("count", settings.Count);
            await using var reader = await take.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stale.Add(reader.GetString(0));
            }
        }

        await RecordWakeUpsAsync(connection, transaction, stale, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task WakeOwnersAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (toWake.IsEmpty)
        {
            return;
        }

        var patients = toWake.Keys.ToList();
        foreach (var patient in patients)
        {
            toWake.TryRemove(patient, out _);
        }

        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await RecordWakeUpsAsync(connection, transaction, patients, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch
        {
            // Not recorded (the session failed): sent again by the next session instead of lost.
            foreach (var patient in patients)
            {
                toWake.TryAdd(patient, 0);
            }

            throw;
        }
    }

    /// <summary>
    /// Adds the patients to <c>scoring_wake</c> and announces their partitions; the NOTIFY is delivered at commit, when
    /// the rows are visible. A patient already waiting keeps its row: the owner's next drain scores them from the store,
    /// with whatever readings it holds by then.
    /// </summary>
    private async Task RecordWakeUpsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<string> patients, CancellationToken cancellationToken)
    {
        if (patients.Count == 0)
        {
            return;
        }

        // Inserted in one order by every worker: two workers adding the same patients never wait for each other in a cycle.
        var ids = patients.Order(StringComparer.Ordinal).ToArray();
        var partitions = ids.Select(id => PartitionOf(id, settings.Count)).ToArray();
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO scoring_wake (patient_id, partition, partition_count)
            SELECT id, part, @count FROM unnest(@ids, @partitions) WITH ORDINALITY AS w(id, part, n) ORDER BY n
            ON CONFLICT (patient_id) DO NOTHING
            """,
            connection,
            transaction))
        {
            insert.Parameters.AddWithValue("count", settings.Count);
            insert.Parameters.AddWithValue("ids", ids);
            insert.Parameters.AddWithValue("partitions", partitions);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        var touched = string.Join(',', partitions.Distinct().Order().Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await using var notify = new NpgsqlCommand("SELECT pg_notify(@channel, @payload)", connection, transaction);
        notify.Parameters.AddWithValue("channel", WakeChannel);
        notify.Parameters.AddWithValue("payload", touched.Length < MaxPayloadBytes ? touched : string.Empty);
        await notify.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Takes the wake-ups of the partitions this worker owns and hands them to <see cref="Woken"/>. The rows are deleted
    /// in the transaction that hands them over: if the scorer cannot take them, or the session fails before the commit,
    /// they stay for the next drain (this worker's or the partition's next owner's).
    /// </summary>
    private async Task DrainWakeUpsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (Woken is not { } woken || ownedCount == 0)
        {
            return;
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var patients = new List<string>();
        await using (var take = new NpgsqlCommand("DELETE FROM scoring_wake WHERE partition_count = @count AND partition = ANY(@owned) RETURNING patient_id", connection, transaction))
        {
            take.Parameters.AddWithValue("count", settings.Count);
            take.Parameters.AddWithValue("owned", Owned().ToArray());
            await using var reader = await take.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                patients.Add(reader.GetString(0));
            }
        }

        if (patients.Count == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
        }
        else if (woken(patients))
        {
            await transaction.CommitAsync(cancellationToken);
        }
        else
        {
            await transaction.RollbackAsync(cancellationToken);
            LogWakeUpsDeferred(patients.Count);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        // Every worker hears every wake-up (its own too); only the owners of the partitions named need to drain. Raised
        // while the loop waits on (or uses) the session, which cannot run a query then: the loop drains next.
        if (e.Channel == WakeChannel && NamesAnOwnedPartition(e.Payload))
        {
            Volatile.Write(ref toldToDrain, 1);
        }
    }

    private bool NamesAnOwnedPartition(string payload)
    {
        if (payload.Length == 0)
        {
            return true;
        }

        foreach (var part in payload.Split(','))
        {
            // Anything else (a payload of another release) is read as "any partition": a drain too many costs one query.
            if (!int.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var partition)
                || partition >= owned.Length
                || Volatile.Read(ref owned[partition]))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<bool> LockCommandAsync(NpgsqlConnection connection, string function, int partition, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {function}(@space, @partition)", connection);
        command.Parameters.AddWithValue("space", LockSpace);
        command.Parameters.AddWithValue("partition", partition);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private void ReleaseAllLocally()
    {
        for (var p = 0; p < owned.Length; p++)
        {
            Volatile.Write(ref owned[p], false);
        }

        ownedCount = 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scoring partitions: this worker owns {Owned} of {Count} ({Live} live worker(s))")]
    private partial void LogRebalanced(int owned, int count, long live);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scoring partitions: the scorer's queue is full; {Count} woken patient(s) left pending in PostgreSQL for the next check")]
    private partial void LogWakeUpsDeferred(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scoring partitions: lost the PostgreSQL session ({Lost} partition(s) given up): {Reason}; retrying in {Seconds} s")]
    private partial void LogConnectionLost(int lost, string reason, double seconds);
}
