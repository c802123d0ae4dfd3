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
/// for <see cref="ScoringPartitionOptions.WakeInterval"/> and sends their ids with one <c>NOTIFY</c> on the same
/// session (channel <see cref="WakeChannel"/>); every worker <c>LISTEN</c>s there and hands the ids it owns to
/// <see cref="Woken"/>, and the scorer then scores those patients from the store as if it had received the reading.
/// </para>
/// <para>
/// Without <c>Workflow:PostgreSql</c> there is one node: it owns every patient.
/// </para>
/// </summary>
public sealed partial class ScoringPartitions : BackgroundService
{
    public const string ApplicationName = "telesuivi-scoring";

    /// <summary>The PostgreSQL notification channel of the wake-ups: payload = patient ids, one a line.</summary>
    public const string WakeChannel = "telesuivi_score";

    // PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more: bigger wake-ups go as several.
    private const int MaxPayloadBytes = 7_000;
    private const long MinWaitTicks = 10 * TimeSpan.TicksPerMillisecond;

    // The first key of the two-key advisory locks: keeps the partition locks apart from any other advisory lock.
    private const int LockSpace = 0x7e1e_5c0;

    private readonly string? connectionString;
    private readonly ScoringPartitionOptions settings;
    private readonly ILogger<ScoringPartitions> logger;
    private readonly bool[] owned;
    private readonly ConcurrentDictionary<string, byte> toWake = new(StringComparer.Ordinal);
    private volatile int ownedCount;

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

    /// <summary>Raised (on the partitions' own loop) with patients this worker owns whose readings another worker received.</summary>
    public event Action<IReadOnlyList<string>>? Woken;

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
                await using (var listen = new NpgsqlCommand($"LISTEN {WakeChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                retry = TimeSpan.FromSeconds(1);
                var nextBalance = DateTimeOffset.UtcNow;
                while (!stoppingToken.IsCancellationRequested)
                {
                    if (DateTimeOffset.UtcNow >= nextBalance)
                    {
                        await BalanceAsync(connection, stoppingToken);
                        nextBalance = DateTimeOffset.UtcNow + settings.CheckInterval;
                    }

                    await WakeOwnersAsync(connection, stoppingToken);

                    // Notifications (wake-ups from other workers) are delivered while the session waits here. Never 0:
                    // Npgsql reads a zero timeout as "wait forever".
                    var wait = TimeSpan.FromTicks(Math.Clamp((nextBalance - DateTimeOffset.UtcNow).Ticks, MinWaitTicks, Math.Max(MinWaitTicks, settings.WakeInterval.Ticks)));
                    await connection.WaitAsync(wait, stoppingToken);
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

        var payload = new StringBuilder();
        var bytes = 0;
        foreach (var patient in patients)
        {
            var size = Encoding.UTF8.GetByteCount(patient) + 1;
            if (bytes > 0 && bytes + size > MaxPayloadBytes)
            {
                await NotifyAsync(connection, payload.ToString(), cancellationToken);
                payload.Clear();
                bytes = 0;
            }

            payload.Append(patient).Append('\n');
            bytes += size;
        }

        await NotifyAsync(connection, payload.ToString(), cancellationToken);
    }

    private static async Task NotifyAsync(NpgsqlConnection connection, string payload, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_notify(@channel, @payload)", connection);
        command.Parameters.AddWithValue("channel", WakeChannel);
        command.Parameters.AddWithValue("payload", payload);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel != WakeChannel)
        {
            return;
        }

        // Every worker hears every wake-up (its own too): each takes the patients it owns now.
        var mine = e.Payload.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(Owns).ToList();
        if (mine.Count > 0)
        {
            Woken?.Invoke(mine);
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scoring partitions: lost the PostgreSQL session ({Lost} partition(s) given up): {Reason}; retrying in {Seconds} s")]
    private partial void LogConnectionLost(int lost, string reason, double seconds);
}
