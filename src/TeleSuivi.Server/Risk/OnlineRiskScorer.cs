using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Outcomes;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.ScaleOut;
using TeleSuivi.Server.Storage;
using AlertRiskScore = TeleSuivi.Server.Alerts.RiskScore;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// Scores patients as their readings arrive. Keeps one <see cref="PatientFeatureState"/> per patient and one
/// <see cref="ZoneEnvironmentState"/> per zone (the same code that computed the training features), built lazily the
/// first time a patient or zone is seen since start from the last <see cref="PatientHistoryDays"/> days of the store,
/// so a restart changes no score. A patient is re-scored after new readings (at most every
/// <see cref="RiskOptions.MinRescoreInterval"/>), after their zone's environment changes (at most every
/// <see cref="RiskOptions.ZoneRescoreInterval"/>), and every registered patient at local midnight, the time the model
/// was trained on. Each score is stored as a RiskAssessment and handed to the alert engine. One reader: no locks.
/// The patient's exacerbation history (a feature) comes from the alerts nurses resolved as confirmed exacerbation or
/// hospitalised, read when the patient is first seen and again before each daily score.
/// <para>
/// Only registered patients are scored. One who is not (erased on another node while this one held their state, or
/// never registered: a wake-up or reading that names them) has their state dropped, logged once and counted
/// (<see cref="RiskMetrics.UnregisteredDropped"/>), whenever they come up: a reading, a wake-up, a due score, a change
/// of the registry (<see cref="DeviceRegistry.Changed"/>), the daily pass. The registry in memory may lag the shared
/// one; on PostgreSQL the save itself keeps out the scores of a patient the database no longer holds
/// (<see cref="RiskAssessmentStore.SaveScoresAsync"/>), and no risk score of theirs reaches the alert engine.
/// </para>
/// </summary>
public sealed partial class OnlineRiskScorer(
    ScoringFeed feed,
    RiskModel model,
    RiskAssessmentStore store,
    IObservationStore observations,
    PatientDirectory patients,
    AlertStore alertStore,
    AlertFeed alerts,
    LatestRisks latest,
    RiskMetrics metrics,
    ScoringPartitions partitions,
    DeviceRegistry registry,
    IOptions<RiskOptions> options,
    TimeProvider time,
    ILogger<OnlineRiskScorer> logger) : BackgroundService
{
    /// <summary>The patient's days the features look at (32 daily bins), and one for the local-day boundary.</summary>
    public const int PatientHistoryDays = PatientFeatureState.DayBins + 1;

    private const int ZoneHistoryDays = ZoneEnvironmentState.DayBins + 1;
    private const int ReadPage = 5000;
    private const int ScoresPerCommit = 500;
    private const int MaxRefusedLogged = 10_000;
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(1);

    private readonly RiskOptions settings = options.Value;
    private readonly Dictionary<string, PatientTrack> tracked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ZoneTrack> zones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<PatientTrack>> patientsByZone = new(StringComparer.Ordinal);
    private readonly DueSchedule<PatientTrack> duePatients = new();
    private readonly DueSchedule<ZoneTrack> dueZones = new();
    private readonly float[] features = new float[FeatureSchema.VectorLength];

    // The unregistered patients already logged: once each, not at every reading or wake-up that names them.
    private readonly HashSet<string> refusedLogged = new(StringComparer.Ordinal);
    private TimeSpan utcOffset;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        utcOffset = Validate(settings);
        if (model.Load(settings) is { } reason)
        {
            LogOff(reason);
        }

        // Created even when scoring is off: the API then answers empty searches, and retention and erasure find the file.
        await store.InitializeAsync(cancellationToken);
        if (model.Scorer is not null)
        {
            foreach (var (patientId, (probability, at)) in await store.LatestAsync(cancellationToken))
            {
                latest.Set(patientId, probability, DateTimeOffset.FromUnixTimeMilliseconds(at));
            }

            LogOn(model.Status, settings.MinRescoreInterval, settings.TimeZone);
            partitions.Woken = feed.TryWake;
            registry.Changed += OnRegistryChanged;
        }

        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        registry.Changed -= OnRegistryChanged;
        await base.StopAsync(cancellationToken);
    }

    // Raised on the registry's thread: the scorer's own loop drops the patients no longer registered.
    private void OnRegistryChanged() => feed.TryRecheckRegistrations();

    /// <summary>Checks the options; returns the UTC offset of the local days.</summary>
    internal static TimeSpan Validate(RiskOptions settings)
    {
        if (settings.MinRescoreInterval < TimeSpan.Zero || settings.ZoneRescoreInterval < TimeSpan.Zero)
        {
            throw new ConfigurationException("Risk:MinRescoreInterval and Risk:ZoneRescoreInterval cannot be negative (0 re-scores after every batch)");
        }

        if (settings.DefaultSeverity is < 1 or > 4)
        {
            throw new ConfigurationException($"Risk:DefaultSeverity {settings.DefaultSeverity} is not a severity: 1 to 4 (GOLD grade, NYHA class)");
        }

        if (settings.DefaultAge is < 18 or > 120)
        {
            throw new ConfigurationException($"Risk:DefaultAge {settings.DefaultAge} is not an adult's age");
        }

        return (TimeZones.Find(settings.TimeZone)
            ?? throw new ConfigurationException($"Risk:TimeZone '{settings.TimeZone}' is not a known time zone (an IANA id such as Europe/Paris)")).BaseUtcOffset;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (model.Scorer is null)
        {
            return;
        }

        var reader = feed.Reader;
        var nextMidnight = NextMidnight(time.GetUtcNow());
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!await reader.WaitToReadOrTimeoutAsync(NextWake(nextMidnight) - time.GetUtcNow(), stoppingToken))
            {
                return;
            }

            while (reader.TryRead(out var batch))
            {
                await GuardAsync(() => TakeAsync(batch, stoppingToken), "a batch of readings", stoppingToken);
            }

            var now = time.GetUtcNow();
            if (now >= nextMidnight)
            {
                await GuardAsync(() => ScoreEveryoneAsync(nextMidnight, stoppingToken), "the daily scores", stoppingToken);
                nextMidnight = NextMidnight(now);
            }

            await ScoreDueAsync(stoppingToken);
        }
    }

    /// <summary>Takes a stored batch into the patients' and zones' states and marks who is to be re-scored.</summary>
    internal async Task TakeAsync(ScoringBatch batch, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (batch is RegistrationsChanged)
        {
            RefuseUnregistered();
            return;
        }

        if (batch is WokenPatients woken)
        {
            // Another worker received these owned patients' readings: the score tops their state up from the store.
            foreach (var patientId in woken.PatientIds.Where(partitions.Owns))
            {
                if (!IsRegistered(patientId))
                {
                    Refuse(patientId);
                }
                else if (await TrackAsync(patientId, now, cancellationToken) is { } patient)
                {
                    MarkPending(patient, now, batch.HandedOverAt);
                }
            }

            return;
        }

        foreach (var observation in batch)
        {
            var subject = observation.Subject?.Reference ?? string.Empty;
            if (subject.StartsWith("Patient/", StringComparison.Ordinal))
            {
                var patientId = subject["Patient/".Length..];
                if (!partitions.Owns(patientId))
                {
                    // Another ingest worker owns this patient's partition and scores them (README "Scale-out").
                    Forget(patientId);
                    partitions.WakeOwner(patientId);
                    continue;
                }

                if (!IsRegistered(patientId))
                {
                    Refuse(patientId);
                    continue;
                }

                if (await TrackAsync(patientId, now, cancellationToken) is { } patient && patient.Take(observation))
                {
                    MarkPending(patient, now, batch.HandedOverAt);
                }
            }
            else if (subject.StartsWith("Location/", StringComparison.Ordinal))
            {
                if (await ZoneAsync(subject["Location/".Length..], now, cancellationToken) is { } zone && zone.Take(observation))
                {
                    dueZones.SetIfNone(zone, Later(now, zone.LastRescore + settings.ZoneRescoreInterval));
                }
            }
        }
    }

    /// <summary>Scores the patients and zones whose time has come.</summary>
    internal async Task ScoreDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var zone in dueZones.TakeDue(now))
        {
            zone.LastRescore = now;
            var rescored = 0;
            foreach (var patient in patientsByZone.GetValueOrDefault(zone.Id) ?? [])
            {
                if (patient.HasReadings)
                {
                    duePatients.Set(patient, now);
                    rescored++;
                }
            }

            metrics.ZoneChanged(rescored);
        }

        var at = WholeSecond(now);
        var due = new List<(string PatientId, PatientTrack Patient)>();
        foreach (var patient in duePatients.TakeDue(now))
        {
            if (!partitions.Owns(patient.Id))
            {
                Forget(patient.Id);
                continue;
            }

            if (!IsRegistered(patient.Id))
            {
                Refuse(patient.Id);
                continue;
            }

            // A score that fails (the risk file cannot be written) is tried again later, not at once in a loop.
            duePatients.Set(patient, now + RetryAfterFailure);
            due.Add((patient.Id, patient));
        }

        await ScoreAllAsync(due, at, cancellationToken);
    }

    /// <summary>The daily score of every registered patient with readings, at local midnight.</summary>
    internal async Task ScoreEveryoneAsync(DateTimeOffset midnight, CancellationToken cancellationToken)
    {
        var due = new List<(string PatientId, PatientTrack Patient)>();
        RefuseUnregistered();

        // Outcomes recorded since the patients were first seen, read once for all of them (not a query per patient);
        // when the alert store cannot be read, the scores go on with the history already known (logged).
        var onsets = await ReadOnsetsAsync(null, cancellationToken);
        foreach (var info in patients.All().Where(p => partitions.Owns(p.Id)))
        {
            // A patient first seen now has just had its outcomes read by TrackAsync.
            var seenBefore = tracked.ContainsKey(info.Id);
            if (await TrackAsync(info.Id, midnight, cancellationToken) is { HasReadings: true } patient)
            {
                if (seenBefore && onsets is not null)
                {
                    AddOnsets(info.Id, patient.State, onsets[info.Id]);
                }

                due.Add((info.Id, patient));
            }
        }

        await ScoreAllAsync(due, midnight, cancellationToken);
        LogDaily(due.Count, midnight);
    }

    /// <summary>
    /// Scores the patients at <paramref name="at"/>, and stores the scores of up to <see cref="ScoresPerCommit"/> of them
    /// in one transaction before they are handed to the alert engine. A patient whose features cannot be completed is
    /// skipped (logged); a chunk that cannot be stored is scored again later (<see cref="RetryAfterFailure"/>).
    /// </summary>
    private async Task ScoreAllAsync(List<(string PatientId, PatientTrack Patient)> due, DateTimeOffset at, CancellationToken cancellationToken)
    {
        foreach (var chunk in due.Chunk(ScoresPerCommit))
        {
            var scored = new List<PendingScore>(chunk.Length);
            foreach (var (patientId, patient) in chunk)
            {
                await GuardAsync(async () => scored.Add(await ComputeAsync(patientId, patient, at, cancellationToken)), $"patient {patientId}", cancellationToken);
            }

            var saved = false;
            IReadOnlySet<string> unregistered = new HashSet<string>();
            var saving = Stopwatch.GetTimestamp();
            await GuardAsync(
                async () =>
                {
                    unregistered = await store.SaveScoresAsync(scored.ConvertAll(s => s.Stored), cancellationToken);
                    metrics.SaveDuration.Observe(Stopwatch.GetElapsedTime(saving));
                    saved = true;
                },
                $"the scores of {scored.Count} patient(s)",
                cancellationToken);
            if (!saved)
            {
                continue;
            }

            var now = time.GetUtcNow();
            foreach (var (patientId, patient, score, stored, latency, beforeBaseline) in scored)
            {
                if (unregistered.Contains(patientId))
                {
                    // The shared registry no longer holds them (erased since this node's copy was read): not saved.
                    Refuse(patientId);
                    continue;
                }

                metrics.Scored(latency, now - patient.PendingSince, now);
                latest.Set(patientId, stored.Probability, at);
                LogScored(patientId, at, stored.Probability);
                patient.LastScored = now;
                duePatients.Set(patient, null);
                patient.PendingSince = null;
                await alerts.SubmitRiskAsync(new AlertRiskScore(patientId, stored.Probability, score.Reasons.Select(r => r.Sentence).ToList(), at, score.Reasons.Select(r => r.Phrase).ToList(), BeforeBaseline: beforeBaseline), cancellationToken);
            }
        }
    }

    private async Task<PendingScore> ComputeAsync(string patientId, PatientTrack patient, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var scorer = model.Scorer!;
        var zoneTrack = patient.Zone is { } zoneId ? await ZoneAsync(zoneId, at, cancellationToken) : null;
        if (partitions.Shared)
        {
            // Several workers share the readings (MQTT shared subscription): this one, the owner, received only its part
            // of them. The store has them all; what is in the state already is skipped, and the state does not depend on
            // the order readings arrive in, so topping it up gives exactly the single-node state.
            if (!await LoadAsync($"Patient/{patientId}", at - TimeSpan.FromDays(PatientHistoryDays), at, patient.Take, cancellationToken)
                || (zoneTrack is not null && zoneTrack.ToppedUpAt != at
                    && !await LoadAsync($"Location/{patient.Zone}", at - TimeSpan.FromDays(ZoneHistoryDays), at, zoneTrack.Take, cancellationToken)))
            {
                throw new InvalidOperationException($"the store could not be read to complete patient {patientId}'s readings");
            }

            if (zoneTrack is not null)
            {
                zoneTrack.ToppedUpAt = at;
            }
        }

        var zone = zoneTrack?.State;
        var started = Stopwatch.GetTimestamp();
        patient.State.Compute(at, zone, features);
        var score = scorer.Score(features, settings.Reasons);
        var latency = Stopwatch.GetElapsedTime(started);
        var beforeBaseline = !FeatureSchema.HasBaseline(features);

        var assessment = RiskAssessments.Build(patientId, at, score, model.Version);
        var probability = RiskAssessments.Probability(assessment);
        return new PendingScore(patientId, patient, score, new StoredRiskAssessment(assessment.Id!, patientId, at.ToUnixTimeMilliseconds(), probability, RiskAssessments.ToJson(assessment)), latency, beforeBaseline);
    }

    /// <summary>The patient's state, built from the store the first time they are seen; null when the store cannot be read (tried again later).</summary>
    private async Task<PatientTrack?> TrackAsync(string patientId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (tracked.TryGetValue(patientId, out var known))
        {
            return known;
        }

        var info = patients.Find(patientId);
        var patient = new PatientTrack(patientId, new PatientFeatureState(FactsOf(info, now), utcOffset), info?.Zone);
        var started = Stopwatch.GetTimestamp();
        var loaded = await LoadAsync($"Patient/{patientId}", now - TimeSpan.FromDays(PatientHistoryDays), now, patient.Take, cancellationToken)
            && await LoadHistoryAsync(patientId, patient.State, cancellationToken);
        metrics.FirstSightLoad.Observe(Stopwatch.GetElapsedTime(started));
        if (!loaded)
        {
            return null;
        }

        tracked[patientId] = patient;
        refusedLogged.Remove(patientId);
        if (patient.Zone is { } zoneId)
        {
            if (!patientsByZone.TryGetValue(zoneId, out var inZone))
            {
                patientsByZone[zoneId] = inZone = [];
            }

            inZone.Add(patient);
        }

        return patient;
    }

    private async Task<ZoneTrack?> ZoneAsync(string zoneId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (zones.TryGetValue(zoneId, out var known))
        {
            return known;
        }

        var zone = new ZoneTrack(zoneId, new ZoneEnvironmentState(utcOffset));
        if (!await LoadAsync($"Location/{zoneId}", now - TimeSpan.FromDays(ZoneHistoryDays), now, zone.Take, cancellationToken))
        {
            return null;
        }

        zones[zoneId] = zone;
        return zone;
    }

    /// <summary>
    /// Adds the exacerbation onsets the nurses' outcomes show (the same episodes as <c>train --from-store</c> labels:
    /// <see cref="OutcomeLabels.Episodes"/>) to the state; false when the alert store cannot be read.
    /// </summary>
    private async Task<bool> LoadHistoryAsync(string patientId, PatientFeatureState state, CancellationToken cancellationToken)
    {
        if (await ReadOnsetsAsync(patientId, cancellationToken) is not { } onsets)
        {
            return false;
        }

        AddOnsets(patientId, state, onsets[patientId]);
        return true;
    }

    private static readonly string[] OnsetOutcomes = [OutcomeLabels.ConfirmedExacerbation, OutcomeLabels.Hospitalised];

    /// <summary>The alerts resolved as an onset, of one patient or (null) of all, by patient; null when the alert store cannot be read (logged).</summary>
    private async Task<ILookup<string, Alert>?> ReadOnsetsAsync(string? patientId, CancellationToken cancellationToken)
    {
        try
        {
            var resolved = await alertStore.ListAsync(new AlertQuery { IncludeClosed = true, PatientId = patientId, Outcomes = OnsetOutcomes, Limit = int.MaxValue }, cancellationToken);
            return resolved.ToLookup(a => a.PatientId, StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogWarmStartFailed(patientId is null ? "every patient (alert outcomes)" : $"Patient/{patientId} (alert outcomes)", ex.Message);
            return null;
        }
    }

    private static void AddOnsets(string patientId, PatientFeatureState state, IEnumerable<Alert> onsets)
    {
        var outcomes = onsets.Select(a => new NurseOutcome(patientId, a.Kind, a.OpenedAt, a.ClosedAt, a.Outcome!));
        foreach (var episode in OutcomeLabels.Episodes(patientId, TeleSuivi.Risk.Cohort.Condition.Copd, outcomes))
        {
            state.AddExacerbation(episode.Onset);
        }
    }

    /// <summary>Replays a subject's stored Observations (a page at a time) into <paramref name="take"/>; false when the store cannot be read.</summary>
    private async Task<bool> LoadAsync(string subject, DateTimeOffset from, DateTimeOffset now, Func<Observation, bool> take, CancellationToken cancellationToken)
    {
        try
        {
            ObservationCursor? after = null;
            while (true)
            {
                // Readings stamped a little in the future (device clocks) are stored too: read a day beyond now.
                var page = await observations.SearchAsync(new ObservationSearch(subject, [], from, now + TimeSpan.FromDays(1), false, after, ReadPage), cancellationToken);
                foreach (var match in page.Matches)
                {
                    take(match.Observation);
                }

                if (page.Matches.Count < ReadPage)
                {
                    return true;
                }

                after = page.Matches[^1].Cursor;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogWarmStartFailed(subject, ex.Message);
            return false;
        }
    }

    /// <summary>What the model knows of the patient besides readings; documented defaults for what the registry lacks.</summary>
    private PatientFacts FactsOf(PatientInfo? info, DateTimeOffset now)
    {
        var age = settings.DefaultAge;
        if (info?.BirthDate is { Length: >= 4 } birth && int.TryParse(birth[..4], NumberStyles.None, CultureInfo.InvariantCulture, out var year))
        {
            var month = birth.Length >= 7 && int.TryParse(birth[5..7], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : 1;
            var day = birth.Length >= 10 && int.TryParse(birth[8..10], NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : 1;
            var local = (now + utcOffset).UtcDateTime;
            age = local.Year - year - ((local.Month, local.Day).CompareTo((month, day)) < 0 ? 1 : 0);
        }

        var sex = string.Equals(info?.Gender, "male", StringComparison.Ordinal) ? Sex.Male : Sex.Female;
        return new PatientFacts(age, sex, info?.Conditions ?? [], info?.Severity ?? settings.DefaultSeverity, info?.PriorYearExacerbations);
    }

    /// <summary>New readings (or another worker's): the patient is to be scored, at once or after <see cref="RiskOptions.MinRescoreInterval"/> since the last score.</summary>
    private void MarkPending(PatientTrack patient, DateTimeOffset now, DateTimeOffset handedOverAt)
    {
        // The lag runs from the earliest hand-over among what the score will include: the wait in the queue counts.
        if (patient.PendingSince is not { } since || handedOverAt < since)
        {
            patient.PendingSince = handedOverAt;
        }

        duePatients.SetIfNone(patient, Later(now, patient.LastScored + settings.MinRescoreInterval));
    }

    private bool IsRegistered(string patientId) => registry.FindPatient(patientId) is not null;

    /// <summary>Drops the state of every patient held who is no longer registered (an erasure, seen by the registry's refresh).</summary>
    private void RefuseUnregistered()
    {
        foreach (var patientId in tracked.Keys.Where(id => !IsRegistered(id)).ToList())
        {
            Refuse(patientId);
        }
    }

    /// <summary>
    /// A patient who is not registered (erased, or never registered): their state is dropped and nothing of theirs is
    /// scored; counted each time, logged once.
    /// </summary>
    private void Refuse(string patientId)
    {
        var held = tracked.ContainsKey(patientId);
        Forget(patientId);
        metrics.UnregisteredRefused();
        if (refusedLogged.Count >= MaxRefusedLogged)
        {
            refusedLogged.Clear();
        }

        if (refusedLogged.Add(patientId))
        {
            LogUnregistered(patientId, held);
        }
    }

    /// <summary>Stops tracking a patient (their partition is another worker's): state, due time and zone membership.</summary>
    private void Forget(string patientId)
    {
        if (!tracked.Remove(patientId, out var patient))
        {
            return;
        }

        duePatients.Set(patient, null);
        if (patient.Zone is { } zoneId && patientsByZone.TryGetValue(zoneId, out var inZone))
        {
            inZone.Remove(patient);
        }
    }

    private DateTimeOffset NextWake(DateTimeOffset nextMidnight)
    {
        var wake = nextMidnight;
        if (duePatients.Earliest() is { } patient && patient < wake)
        {
            wake = patient;
        }

        return dueZones.Earliest() is { } zone && zone < wake ? zone : wake;
    }

    /// <summary>The next local midnight (of the standard time of <see cref="RiskOptions.TimeZone"/>) after <paramref name="now"/>, as UTC.</summary>
    internal DateTimeOffset NextMidnight(DateTimeOffset now)
    {
        var localTicks = now.UtcTicks + utcOffset.Ticks;
        var nextLocalDay = ((localTicks / TimeSpan.TicksPerDay) + 1) * TimeSpan.TicksPerDay;
        return new DateTimeOffset(nextLocalDay - utcOffset.Ticks, TimeSpan.Zero);
    }

    private static DateTimeOffset Later(DateTimeOffset now, DateTimeOffset? notBefore) => notBefore > now ? notBefore.Value : now;

    /// <summary>Scores are stamped to the second: the time in the RiskAssessment is exactly the time the features were computed at.</summary>
    private static DateTimeOffset WholeSecond(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Risk scoring on: {Status}; re-scores at most every {Interval} after new readings, and daily at midnight ({TimeZone} standard time)")]
    private partial void LogOn(string status, TimeSpan interval, string timeZone);

    // Debug: which node scored which patient, for tracing scale-out partitions (one line per score is too many by default).
    [LoggerMessage(Level = LogLevel.Debug, Message = "Scored patient {PatientId} at {At:u}: probability {Probability:F4}")]
    private partial void LogScored(string patientId, DateTimeOffset at, double probability);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Risk scoring is OFF: {Reason}. No RiskAssessment nor risk alert will be produced (see /health/ready)")]
    private partial void LogOff(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Risk scoring: patient {PatientId} is not registered (erased, or never registered): nothing of theirs is scored or stored (state held until now: {Held}); logged once")]
    private partial void LogUnregistered(string patientId, bool held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Daily risk scores: {Count} patient(s) scored at {Midnight:u}")]
    private partial void LogDaily(int count, DateTimeOffset midnight);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the history of {Subject} to build its risk features ({Reason}); tried again with its next reading")]
    private partial void LogWarmStartFailed(string subject, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Risk scoring failed on {What}; it goes on with the next one")]
    private partial void LogFailed(Exception exception, string what);

    /// <summary>Ids of the Observations a state holds, so that a redelivered or re-read reading is counted once.</summary>
    private sealed class SeenReadings
    {
        private readonly Dictionary<long, long> ticksById = [];
        private int pruneAt = 1024;

        /// <summary>False when the Observation is already in (an Observation without id is always taken).</summary>
        public bool Add(Observation observation, DateTimeOffset time)
        {
            if (observation.Id is not { } id)
            {
                return true;
            }

            var key = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(id)), 0);
            if (!ticksById.TryAdd(key, time.UtcTicks))
            {
                return false;
            }

            if (ticksById.Count >= pruneAt)
            {
                // Readings older than the longest window no longer change any feature: their ids need not be kept.
                var cutoff = time.UtcTicks - TimeSpan.FromDays(PatientHistoryDays + 1).Ticks;
                foreach (var old in ticksById.Where(p => p.Value < cutoff).Select(p => p.Key).ToList())
                {
                    ticksById.Remove(old);
                }

                pruneAt = Math.Max(1024, ticksById.Count * 2);
            }

            return true;
        }
    }

    /// <summary>A score computed and not yet stored.</summary>
    /// <param name="BeforeBaseline">Whether the features the score was computed from gave no measure a personal baseline (no risk alert then).</param>
    private sealed record PendingScore(string PatientId, PatientTrack Patient, TeleSuivi.Risk.Model.RiskScore Score, StoredRiskAssessment Stored, TimeSpan Latency, bool BeforeBaseline);

    private sealed class PatientTrack(string id, PatientFeatureState state, string? zone)
    {
        private readonly SeenReadings seen = new();

        public string Id { get; } = id;

        public PatientFeatureState State { get; } = state;

        public string? Zone { get; } = zone;

        public bool HasReadings { get; private set; }

        public DateTimeOffset? LastScored { get; set; }

        /// <summary>The earliest hand-over to the <see cref="ScoringFeed"/> of the readings (or wake-ups) the next score answers: the start of its lag.</summary>
        public DateTimeOffset? PendingSince { get; set; }

        /// <summary>
        /// Adds the Observation's feature readings unless they are in already (the warm start read them from the store,
        /// or a redelivery); false when it has none, true otherwise: either way the state now holds them.
        /// </summary>
        public bool Take(Observation observation)
        {
            var readings = RiskReadings.Of(observation).Where(r => RiskReadings.EnvironmentVariableOf(r.Measure) is null).ToList();
            if (readings.Count == 0)
            {
                return false;
            }

            if (!seen.Add(observation, readings[0].Time))
            {
                return true;
            }

            foreach (var reading in readings)
            {
                HasReadings |= State.Add(reading.Measure, reading.Time, reading.Value);
            }

            return true;
        }
    }

    private sealed class ZoneTrack(string id, ZoneEnvironmentState state)
    {
        private readonly SeenReadings seen = new();

        public string Id { get; } = id;

        public ZoneEnvironmentState State { get; } = state;

        /// <summary>With several workers: the scoring time the zone was last completed from the store for.</summary>
        public DateTimeOffset? ToppedUpAt { get; set; }

        public DateTimeOffset? LastRescore { get; set; }

        /// <summary>Like <see cref="PatientTrack.Take"/>: false only when the Observation is no environment reading.</summary>
        public bool Take(Observation observation)
        {
            var readings = RiskReadings.Of(observation).Select(r => (Variable: RiskReadings.EnvironmentVariableOf(r.Measure), r.Time, r.Value)).Where(r => r.Variable is not null).ToList();
            if (readings.Count == 0)
            {
                return false;
            }

            if (!seen.Add(observation, readings[0].Time))
            {
                return true;
            }

            foreach (var (variable, at, value) in readings)
            {
                State.Add(variable!.Value, at, value);
            }

            return true;
        }
    }
}
