using System.Diagnostics;
using System.Globalization;

namespace TeleSuivi.Server.Bench;

/// <summary>One reading of the platform's <c>/metrics</c> and of its process, at <see cref="At"/> (a <see cref="Stopwatch"/> time stamp taken when the answer arrived).</summary>
public readonly record struct PlatformSample(long At, long Messages, long Observations, long DeadLetters, long Waiting, long Resident, double StoreWriteSeconds, long StoreWrites, IReadOnlyDictionary<string, double> Risk)
{
    /// <summary>The garbage collector's pauses since start (<c>dotnet_gc_pause_seconds_total</c>).</summary>
    public double GcPauseSeconds { get; init; }

    /// <summary>Full (generation 2) collections since start.</summary>
    public long FullCollections { get; init; }

    /// <summary>The durations of the store writes since start (<c>telesuivi_store_write_duration_seconds</c>).</summary>
    public HistogramCounts StoreWriteDurations { get; init; } = HistogramCounts.Empty;

    /// <summary>From reception from the broker to acknowledgement, since start (<c>telesuivi_ingest_durable_lag_seconds</c>).</summary>
    public HistogramCounts ReceiveToAcknowledged { get; init; } = HistogramCounts.Empty;

    /// <summary>The histograms of the stages an alert goes through (<see cref="StageHistograms"/>), by metric name, since start.</summary>
    public IReadOnlyDictionary<string, HistogramCounts> Stages { get; init; } = new Dictionary<string, HistogramCounts>();

    /// <summary>Inputs waiting for the alert engine (<c>telesuivi_alert_queue_depth</c>).</summary>
    public long AlertQueueDepth { get; init; }

    /// <summary>
    /// The platform's histograms of the path to an alert on the hub, and of the scorer's work that shares the machine and
    /// the alert file with it: the bench reports each one per load, to show where the time of a late alert went.
    /// </summary>
    public static readonly IReadOnlyList<string> StageHistograms =
    [
        "telesuivi_alert_reading_wait_seconds",
        "telesuivi_alert_score_wait_seconds",
        "telesuivi_alert_input_duration_seconds",
        "telesuivi_alert_raise_duration_seconds",
        "telesuivi_alert_sweep_step_seconds",
        "telesuivi_alert_vital_replay_duration_seconds",
        "telesuivi_risk_first_sight_seconds",
        "telesuivi_risk_save_duration_seconds",
    ];
}

/// <summary>
/// Polls <c>/metrics</c> every <see cref="Period"/> while the bench runs. The platform counts a message in
/// <c>telesuivi_ingest_messages_total</c> once it is durably stored (or dead-lettered), just before it is acknowledged;
/// <see cref="StoredLatency"/> turns the polled counts into publish → stored latencies. The resolution is the poll
/// period plus one request (a few ms).
/// </summary>
public sealed class PlatformProbe(PlatformProcess platform) : IAsyncDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);

    private readonly List<PlatformSample> samples = [];
    private readonly CancellationTokenSource stop = new();
    private Task? loop;

    public string? LastError { get; private set; }

    public void Start() => loop = Task.Run(() => PollAsync(stop.Token));

    /// <summary>The latest sample, read now.</summary>
    public async Task<PlatformSample> ReadAsync(CancellationToken cancellationToken)
    {
        var text = await platform.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        var at = Stopwatch.GetTimestamp();
        long messages = 0, observations = 0, deadLetters = 0, waiting = 0, storeWrites = 0;
        double storeWriteSeconds = 0, gcPauseSeconds = 0;
        long fullCollections = 0;
        var writeDurations = new HistogramCounts();
        var durableLag = new HistogramCounts();
        var stages = PlatformSample.StageHistograms.ToDictionary(name => name, _ => new HistogramCounts(), StringComparer.Ordinal);
        long alertQueue = 0;
        var risk = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var name = line[..space];
            var value = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
            if (name == "telesuivi_ingest_messages_total")
            {
                messages = (long)value;
            }
            else if (name == "telesuivi_ingest_observations_total")
            {
                observations = (long)value;
            }
            else if (name.StartsWith("telesuivi_ingest_dead_letters_total", StringComparison.Ordinal))
            {
                deadLetters += (long)value;
            }
            else if (name is "telesuivi_ingest_queue_depth" or "telesuivi_ingest_in_flight")
            {
                waiting += (long)value;
            }
            else if (name == "telesuivi_store_write_duration_seconds_sum")
            {
                storeWriteSeconds = value;
            }
            else if (name == "telesuivi_store_write_duration_seconds_count")
            {
                storeWrites = (long)value;
            }
            else if (name == "dotnet_gc_pause_seconds_total")
            {
                gcPauseSeconds = value;
            }
            else if (name == "dotnet_gc_collections_total{generation=\"2\"}")
            {
                fullCollections = (long)value;
            }
            else if (name.StartsWith("telesuivi_store_write_duration_seconds_bucket{", StringComparison.Ordinal))
            {
                writeDurations.Add(name, value);
            }
            else if (name.StartsWith("telesuivi_ingest_durable_lag_seconds_bucket{", StringComparison.Ordinal))
            {
                durableLag.Add(name, value);
            }
            else if (name == "telesuivi_alert_queue_depth")
            {
                alertQueue = (long)value;
            }
            else if (name.IndexOf("_bucket{", StringComparison.Ordinal) is > 0 and var bucket && stages.TryGetValue(name[..bucket], out var stage))
            {
                stage.Add(name, value);
            }
            else if (name.StartsWith("telesuivi_risk_", StringComparison.Ordinal))
            {
                risk[name] = value;
            }
        }

        var sample = new PlatformSample(at, messages, observations, deadLetters, waiting, platform.HasExited ? 0 : platform.Memory().Resident, storeWriteSeconds, storeWrites, risk)
        {
            GcPauseSeconds = gcPauseSeconds,
            FullCollections = fullCollections,
            StoreWriteDurations = writeDurations,
            ReceiveToAcknowledged = durableLag,
            Stages = stages,
            AlertQueueDepth = alertQueue,
        };
        lock (samples)
        {
            samples.Add(sample);
        }

        return sample;
    }

    /// <summary>The samples taken since <paramref name="since"/> (a <see cref="Stopwatch"/> time stamp).</summary>
    public List<PlatformSample> Since(long since)
    {
        lock (samples)
        {
            return samples.Where(s => s.At >= since).ToList();
        }
    }

    /// <summary>
    /// Waits until the platform has processed <paramref name="messages"/> messages in all and holds none; gives up when
    /// its count has not moved for <paramref name="stalled"/> (or the process exited): what is missing then is missing.
    /// </summary>
    public async Task<PlatformSample> WaitForAsync(long messages, TimeSpan stalled, CancellationToken cancellationToken)
    {
        var progressed = Stopwatch.StartNew();
        var last = -1L;
        while (true)
        {
            var sample = await ReadAsync(cancellationToken);
            if (sample.Messages != last)
            {
                last = sample.Messages;
                progressed.Restart();
            }

            if ((sample.Messages >= messages && sample.Waiting == 0) || progressed.Elapsed > stalled || platform.HasExited)
            {
                return sample;
            }

            await Task.Delay(Period, cancellationToken);
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ReadAsync(cancellationToken);
                await Task.Delay(Period, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or FormatException or TaskCanceledException)
            {
                // A slow or failed poll only coarsens the resolution; the last reason is reported if the run fails.
                LastError = ex.Message;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        stop.Dispose();
    }
}
