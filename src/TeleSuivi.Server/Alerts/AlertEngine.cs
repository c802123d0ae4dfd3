using System.Diagnostics;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.ScaleOut;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Turns what the pipeline feeds it (<see cref="AlertFeed"/>) into alerts: hard limits on vitals, device faults,
/// risk; and, on a timer (<see cref="AlertOptions.SweepInterval"/>), missing data, silent devices and the escalation
/// of unacknowledged critical alerts. Every raise and every end is stored (<see cref="AlertStore"/>) and pushed to
/// the boards. One reader: the monitors' state needs no lock. A failure on one input is logged and the engine goes on.
/// </summary>
public sealed partial class AlertEngine(
    AlertFeed feed,
    AlertStore store,
    ThresholdBook thresholds,
    PatientDirectory patients,
    DeviceRegistry registry,
    IObservationStore observations,
    DeadLetterStore deadLetters,
    AlertWorkflow workflow,
    BoardNotifier board,
    ScoringPartitions partitions,
    RiskModel riskModel,
    IOptions<RiskOptions> riskOptions,
    AlertMetrics metrics,
    IOptions<AlertOptions> options,
    TimeProvider time,
    ILogger<AlertEngine> logger) : BackgroundService
{
    private readonly AlertOptions settings = options.Value;
    private readonly VitalLimitMonitor vitals = new(options.Value);
    private readonly DeviceFaultMonitor devices = new(options.Value);
    private readonly DataGapMonitor gaps = new(options.Value);
    // Set at start from the model's operating points; none while scoring is off (no score comes).
    private RiskAlertPolicy? risk;
    private readonly HashSet<AlertKey> live = [];

    // Enough for any debounce streak and for a few readings a day over the weight-gain window.
    private const int ReplayedReadings = 50;

    // Patients checked per slice of the missing-data sweep: about a millisecond each 1,000 (7 devices each) here.
    private const int SweepSlice = 1_000;

    /// <summary>How often the loop looks whether the list of assigned devices is ready, while it waits for inputs.</summary>
    private static readonly TimeSpan ListingCheck = TimeSpan.FromMilliseconds(10);

    /// <summary>The alert file and the thresholds are ready before the host serves its first request.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        await thresholds.LoadAsync(cancellationToken);
        risk = riskModel.ResolveAlertThresholds(riskOptions.Value, settings.Risk) is { } riskThresholds ? new RiskAlertPolicy(riskThresholds) : null;
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await LoadStateAsync(stoppingToken);
        var nextSweep = time.GetUtcNow() + settings.SweepInterval;
        var nextLiveRefresh = partitions.Shared ? time.GetUtcNow() + settings.LiveKeysRefreshInterval : DateTimeOffset.MaxValue;
        SweepSlices? sweep = null;
        Task<IReadOnlyDictionary<string, List<AssignedDevice>>>? listing = null;
        DateTimeOffset listedAt = default;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = sweep is not null ? TimeSpan.Zero : listing is not null ? ListingCheck : nextSweep - time.GetUtcNow();
            if (nextLiveRefresh - time.GetUtcNow() < wait)
            {
                wait = nextLiveRefresh - time.GetUtcNow();
            }

            if (!await feed.WaitToReadOrTimeoutAsync(wait, stoppingToken))
            {
                return;
            }

            while (feed.TryRead(out var input))
            {
                var started = Stopwatch.GetTimestamp();
                (input is AlertInput.Scored ? metrics.ScoreWait : metrics.ReadingWait).Observe(Stopwatch.GetElapsedTime(input.QueuedAt, started));
                await GuardAsync(() => HandleAsync(input, stoppingToken), "an input", stoppingToken);
                metrics.InputDuration.Observe(Stopwatch.GetElapsedTime(started));
            }

            if (time.GetUtcNow() >= nextLiveRefresh)
            {
                await GuardAsync(() => RefreshLiveKeysAsync(stoppingToken), "the open alerts' keys", stoppingToken);
                nextLiveRefresh = time.GetUtcNow() + settings.LiveKeysRefreshInterval;
            }

            if (sweep is null && listing is null && time.GetUtcNow() >= nextSweep)
            {
                // Off the loop, and not awaited: with 100,000 patients listing every assigned device takes a good part of
                // a second, during which the loop goes on taking inputs (awaited, it held a critical reading 700 ms).
                listedAt = time.GetUtcNow();
                var at = listedAt;
                listing = Task.Run(() => patients.AssignedDevices(at), stoppingToken);
            }

            if (listing is { IsCompleted: true } listed)
            {
                listing = null;
                await GuardAsync(async () => sweep = new SweepSlices(await listed, SweepSlice), "the list of assigned devices", stoppingToken);
                if (sweep is null)
                {
                    nextSweep = listedAt + settings.SweepInterval;
                }
            }

            if (sweep is not null)
            {
                var started = Stopwatch.GetTimestamp();
                if (sweep.Next() is { } slice)
                {
                    await GuardAsync(() => SweepAsync(slice, stoppingToken), "the missing-data check", stoppingToken);
                }
                else
                {
                    await GuardAsync(() => EscalateAsync(stoppingToken), "the escalation check", stoppingToken);
                    sweep = null;
                    nextSweep = time.GetUtcNow() + settings.SweepInterval;
                }

                metrics.SweepStep.Observe(Stopwatch.GetElapsedTime(started));
            }
        }
    }

    /// <summary>
    /// With several workers, the alerts another worker raised or ended: an end is applied only to a key this engine
    /// knows to be open (<see cref="live"/>), which otherwise holds only its own raises since its start.
    /// </summary>
    private async Task RefreshLiveKeysAsync(CancellationToken cancellationToken)
    {
        var keys = await store.LiveKeysAsync(cancellationToken);
        live.Clear();
        live.UnionWith(keys);
        metrics.CountLiveKeysRefresh();
    }

    /// <summary>
    /// Loads what survives a restart: live alert keys, each patient's risk-alert state (from their latest risk alert),
    /// and each patient's and device's latest reading. The vital-limit state is rebuilt lazily, per patient and vital,
    /// from the stored readings (<see cref="ReplayVitalAsync"/>); the escalation timer needs nothing: it is read from the
    /// stored alerts at each sweep.
    /// </summary>
    internal async Task LoadStateAsync(CancellationToken cancellationToken)
    {
        live.UnionWith(await store.LiveKeysAsync(cancellationToken));
        if (risk is not null)
        {
            foreach (var alert in await store.LatestOfKindAsync(AlertKinds.Risk, cancellationToken))
            {
                risk.Restore(alert);
            }
        }

        try
        {
            foreach (var latest in await observations.ReadLatestAsync(null, time.GetUtcNow() - TimeSpan.FromDays(90), cancellationToken))
            {
                var patientId = latest.Subject["Patient/".Length..];
                _ = gaps.OnReading(patientId, latest.Device?.Split('/')[^1], latest.Time).ToList();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Missing-data timers then start from now: late by at most one plan interval, never a false alert.
            LogSeedFailed(ex.Message);
        }
    }

    internal async Task HandleAsync(AlertInput input, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        switch (input)
        {
            case AlertInput.Stored stored:
                foreach (var observation in stored.Observations)
                {
                    await ApplyAsync(await EvaluateAsync(observation, now, cancellationToken), now, cancellationToken);
                }

                break;
            case AlertInput.Rejected rejected:
                foreach (var letter in rejected.Letters)
                {
                    await ApplyAsync(await EvaluateAsync(letter, cancellationToken), now, cancellationToken);
                }

                break;
            case AlertInput.Scored scored:
                if (risk?.Evaluate(scored.Score) is { } signal)
                {
                    await ApplyAsync([signal], now, cancellationToken);
                }

                break;
        }
    }

    /// <summary>The missing-data check of some patients: one slice of a sweep, so that inputs wait at most one slice behind it.</summary>
    internal async Task SweepAsync(IReadOnlyDictionary<string, List<AssignedDevice>> assigned, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Only this worker's patients, confirmed in the store when other workers share the readings (README "Scale-out").
        await ApplyAsync(await gaps.SweepAsync(assigned, now, partitions.Owns, partitions.Shared ? observations : null, cancellationToken), now, cancellationToken);
    }

    /// <summary>Escalates the critical alerts nobody acknowledged in time: once per sweep, after its last slice.</summary>
    internal async Task EscalateAsync(CancellationToken cancellationToken)
    {
        var escalated = await workflow.EscalateOverdueAsync(cancellationToken);
        if (escalated > 0)
        {
            LogEscalated(escalated, settings.EscalateCriticalAfter.TotalMinutes);
        }
    }

    private async Task<List<AlertSignal>> EvaluateAsync(Observation observation, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var signals = new List<AlertSignal>();
        if (observation.Subject?.Reference is not { } subject || !subject.StartsWith("Patient/", StringComparison.Ordinal))
        {
            return signals;
        }

        var patientId = subject["Patient/".Length..];
        var time = ObservationKeys.EffectiveTime(observation) ?? now;
        var deviceId = observation.Device?.Reference?.Split('/')[^1];
        signals.AddRange(gaps.OnReading(patientId, deviceId, time, arrivedAt: now));
        if (deviceId is not null)
        {
            var batteryLow = ObservationKeys.NotesOf(observation).Any(n => n.Text?.Contains(ObservationFactory.LowBatteryStatus, StringComparison.Ordinal) == true);
            foreach (var deviceSignal in devices.OnAccepted(patientId, deviceId, time, batteryLow, arrivedAt: now))
            {
                if (deviceSignal is AlertSignal.Ended { Key.Kind: AlertKinds.DeviceInvalid } end && partitions.Shared && live.Contains(end.Key)
                    && devices.ValidRunSince(deviceId) is { } since
                    && (await InvalidReadingsAsync(deviceId, since, now, cancellationToken)).Count > 0)
                {
                    // Another worker rejected one of the device's readings during this worker's run: not in a row.
                    devices.BreakValidRun(deviceId);
                    continue;
                }

                signals.Add(deviceSignal);
            }
        }

        if (ReadVital(observation) is not var (vital, number))
        {
            return signals;
        }

        var info = patients.Find(patientId);
        var limits = thresholds.Find(patientId, vital.Id)?.Limits ?? VitalSigns.DefaultsFor(vital, info?.Conditions ?? []);
        // A reading within limits ends any streak, so the stored ones before it matter only for an abnormal reading
        // (and for weight, whose gain spans days): one store search per patient and vital after a start would
        // otherwise hold up every alert behind it (seconds per alert on InfluxDB with 10,000 patients, BENCHMARKS.md).
        var weight = vital.Id == VitalSigns.WeightGainId;
        var severity = weight ? null : limits.Classify(number).Severity; // a weight's limits are on its gain
        IReadOnlyList<VitalReading> storedAfter = [];
        if (weight || severity is not null)
        {
            if (partitions.Shared)
            {
                // Several workers: the broker deals a patient's readings among them, so what this worker holds of a
                // streak or of the weights is only its share, and may miss a reading back within limits that another
                // worker received. The store holds every worker's readings: a reading that could start, extend or
                // confirm a warning rebuilds the state from it. A critical value is raised at once whatever the streak,
                // so it is not held up by a search: it starts from itself.
                // The readings stored after this one's time count too (see below): a later reading another worker
                // judged before this one was stored (two readings of a late batch dealt to two workers) missed this
                // one, and without them the streak the two make would be judged by neither.
                vitals.Forget(patientId, vital);
            }

            if (partitions.Shared ? severity != AlertSeverity.Critical : vitals.IsNew(patientId, vital))
            {
                storedAfter = await ReplayVitalAsync(subject, patientId, vital, time, limits, now, observation.Id, cancellationToken);
            }
        }

        var reading = new VitalReading(patientId, vital, number, time, observation.Id ?? string.Empty);
        if (storedAfter.Count > 0)
        {
            // A late reading (readings after it are stored): what matters is the state where they end, judged at the
            // latest. This one and the others only lead up to it, silently, so that a streak they made and ended in
            // the past is not raised again; a streak it completes with them is raised at the latest.
            vitals.Replay(patientId, vital, [reading, .. storedAfter.SkipLast(1)], limits);
            reading = storedAfter[^1];
        }

        if (vitals.Evaluate(reading, limits, now) is { } signal)
        {
            signals.Add(signal);
        }

        return signals;
    }

    /// <summary>The vital sign with hard limits an Observation carries, and its value; null for any other Observation.</summary>
    private static (VitalSign Vital, double Value)? ReadVital(Observation observation)
    {
        var coding = observation.Code?.Coding.FirstOrDefault();
        if (coding is null || VitalSigns.ForCode($"{coding.System}|{coding.Code}") is not { } vital)
        {
            return null;
        }

        var value = vital.Component is { } component
            ? ObservationKeys.ComponentsOf(observation).FirstOrDefault(c => c.Code?.Coding.FirstOrDefault()?.Code == component)?.Value as Quantity
              ?? (coding.Code == component ? observation.Value as Quantity : null)
            : observation.Value as Quantity;
        return value?.Value is { } number ? (vital, (double)number) : null;
    }

    /// <summary>
    /// The first reading of a patient's vital since start (with several workers, every reading that is judged against
    /// what came before): the readings stored before it (the last <see cref="VitalLimitMonitor.HistoryWindow"/>, at most
    /// <see cref="ReplayedReadings"/> with those after it) rebuild its debounce state first. The readings stored after
    /// its time (a late reading's successors, up to a day past now) come from the same search and are returned, oldest
    /// first, for the caller to judge with it. If the store cannot be read, the state starts empty (a warning streak
    /// then counts from this reading).
    /// </summary>
    private async Task<IReadOnlyList<VitalReading>> ReplayVitalAsync(string subject, string patientId, VitalSign vital, DateTimeOffset readingTime, VitalLimits limits, DateTimeOffset now, string? observationId, CancellationToken cancellationToken)
    {
        var history = new List<VitalReading>();
        var later = new List<VitalReading>();
        var started = Stopwatch.GetTimestamp();
        try
        {
            // Later: up to a day past now, beyond any clock tolerance the ingestion accepts (minutes).
            var through = Max(now, readingTime) + TimeSpan.FromDays(1);
            var found = await observations.SearchAsync(
                new ObservationSearch(subject, vital.Codes, readingTime - VitalLimitMonitor.HistoryWindow, through, Descending: true, After: null, ReplayedReadings),
                cancellationToken);
            foreach (var match in found.Matches.Reverse())
            {
                // Another reading at the very same time (a second device) is left out, as it always was: the monitor
                // takes one reading per instant, and it would have made this one be ignored.
                if (match.Observation.Id == observationId
                    || ReadVital(match.Observation) is not var (same, value) || same != vital
                    || ObservationKeys.EffectiveTime(match.Observation) is not { } at || at == readingTime)
                {
                    continue;
                }

                (at < readingTime ? history : later).Add(new VitalReading(patientId, vital, value, at, match.Observation.Id ?? string.Empty));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogReplayFailed(patientId, vital.Id, ex.Message);
        }

        metrics.VitalReplayDuration.Observe(Stopwatch.GetElapsedTime(started));

        vitals.Replay(patientId, vital, history, limits);
        return later;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private async Task<List<AlertSignal>> EvaluateAsync(Rejection letter, CancellationToken cancellationToken)
    {
        var deviceId = DeviceOf(letter.Topic);
        if (deviceId is null || registry.ResolvePatient(deviceId, letter.ReceivedAt) is not { } patientId)
        {
            // Unknown or unassigned devices have no patient to alert about: they stay in the dead letters.
            return [];
        }

        // Several workers share the device's readings: its invalid ones are counted from what every worker dead-lettered.
        var everyWorkers = partitions.Shared && letter.ReasonCode is RejectionCodes.Implausible or RejectionCodes.Unparseable
            ? await InvalidReadingsAsync(deviceId, letter.ReceivedAt - settings.InvalidReadingsWindow, letter.ReceivedAt, cancellationToken)
            : null;
        return devices.OnRejected(patientId, deviceId, letter.ReasonCode, letter.Reason, letter.ReasonFr, letter.ReceivedAt, everyWorkers).ToList();
    }

    /// <summary>The device's readings every worker rejected as implausible or undecodable in [from, through].</summary>
    private async Task<List<(DateTimeOffset Time, string Reason, string? ReasonFr)>> InvalidReadingsAsync(string deviceId, DateTimeOffset from, DateTimeOffset through, CancellationToken cancellationToken)
    {
        // A device may publish under an alias of its id: its topics then name the alias.
        string[] names = [deviceId, .. registry.FindDevice(deviceId)?.Aliases ?? []];
        var letters = await deadLetters.RejectionsAsync(names, InvalidReasons, from, through, cancellationToken);
        return [.. letters
            .Where(l => DeviceOf(l.Topic) == deviceId)
            .Select(l => (l.ReceivedAt, l.Reason, l.ReasonFr))];
    }

    /// <summary>The registry id of the device a rejected message's topic names (by id or alias); null for an environment topic or an unknown device.</summary>
    private string? DeviceOf(string topic) =>
        ContractTopic.TryParse(topic, out var parsed, out _) && parsed!.Kind != TopicKind.Environment ? registry.CanonicalDeviceId(parsed.DeviceId) : null;

    private static readonly string[] InvalidReasons = [RejectionCodes.Implausible, RejectionCodes.Unparseable];

    private async Task ApplyAsync(IReadOnlyList<AlertSignal> signals, DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var signal in signals)
        {
            switch (signal)
            {
                case AlertSignal.Raise raise:
                    var started = Stopwatch.GetTimestamp();
                    if (await store.RaiseAsync(raise.Draft, now, cancellationToken) is { } alert)
                    {
                        live.Add(raise.Key);
                        await board.AlertChangedAsync(alert, cancellationToken);
                    }

                    metrics.RaiseDuration.Observe(Stopwatch.GetElapsedTime(started));

                    break;
                case AlertSignal.Ended end when live.Remove(end.Key):
                    foreach (var changed in await store.EndConditionAsync(end.Key, end.Why, now, cancellationToken))
                    {
                        await board.AlertChangedAsync(changed, cancellationToken);
                    }

                    break;
            }
        }
    }

    private async Task GuardAsync(Func<Task> work, string what, CancellationToken cancellationToken)
    {
        try
        {
            await work();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(ex, what);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The alert engine failed on {What}; it goes on with the next one")]
    private partial void LogFailed(Exception exception, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the latest readings at start ({Reason}): missing-data timers start from now")]
    private partial void LogSeedFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the stored {Vital} readings of patient {PatientId} ({Reason}): its debounce state starts from the next reading")]
    private partial void LogReplayFailed(string patientId, string vital, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} critical alert(s) not acknowledged within {Minutes:0} min escalated to the patients' physicians")]
    private partial void LogEscalated(int count, double minutes);
}

/// <summary>The physicians' per-patient thresholds, in memory for the engine, written through to the <see cref="AlertStore"/>.</summary>
public sealed class ThresholdBook(AlertStore store)
{
    private volatile IReadOnlyDictionary<(string Patient, string Vital), PatientThreshold> book = new Dictionary<(string, string), PatientThreshold>();

    public async Task LoadAsync(CancellationToken cancellationToken) =>
        book = (await store.ThresholdsAsync(null, cancellationToken)).ToDictionary(t => (t.PatientId, t.Vital));

    public PatientThreshold? Find(string patientId, string vital) => book.GetValueOrDefault((patientId, vital));

    public async Task SetAsync(PatientThreshold threshold, CancellationToken cancellationToken)
    {
        await store.SetThresholdAsync(threshold, cancellationToken);
        await LoadAsync(cancellationToken);
    }

    public async Task<bool> RemoveAsync(string patientId, string vital, CancellationToken cancellationToken)
    {
        var removed = await store.RemoveThresholdAsync(patientId, vital, cancellationToken);
        await LoadAsync(cancellationToken);
        return removed;
    }
}

/// <summary>
/// A missing-data sweep cut into slices of patients, taken one at a time between the engine's inputs: with 100,000
/// patients the whole sweep held every input (a critical reading too) for most of a second.
/// </summary>
public sealed class SweepSlices(IReadOnlyDictionary<string, List<AssignedDevice>> assigned, int size)
{
    private readonly KeyValuePair<string, List<AssignedDevice>>[] patients = [.. assigned];
    private int next;

    /// <summary>The next slice, each patient in exactly one; null once every patient has been given.</summary>
    public IReadOnlyDictionary<string, List<AssignedDevice>>? Next()
    {
        if (next >= patients.Length)
        {
            return null;
        }

        var slice = new ArraySegment<KeyValuePair<string, List<AssignedDevice>>>(patients, next, Math.Min(Math.Max(1, size), patients.Length - next))
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        next += slice.Count;
        return slice;
    }
}
