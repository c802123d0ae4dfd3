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
/// Without <c>Workflow:PostgreSql</c> there is one node: it owns every patient.
/// </para>
/// </summary>
public sealed partial class ScoringPartitions : BackgroundService
{
    public const string ApplicationName = "telesuivi-scoring";

    // The first key of the two-key advisory locks: keeps the partition locks apart from any other advisory lock.
    private const int LockSpace = 0x7e1e_5c0;

    private readonly string? connectionString;
    private readonly ScoringPartitionOptions settings;
    private readonly ILogger<ScoringPartitions> logger;
    private readonly bool[] owned;
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

        if (settings.CheckInterval <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"ScoringPartitions:CheckInterval {settings.CheckInterval} is not valid: expected a positive duration");
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
                await connection.OpenAsync(stoppingToken);
                retry = TimeSpan.FromSeconds(1);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await BalanceAsync(connection, stoppingToken);
                    await Task.Delay(settings.CheckInterval, stoppingToken);
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
