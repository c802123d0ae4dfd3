using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// <c>telesuivi bench</c> from start to end: registers a cohort with device accounts in a temporary data folder,
/// measures the raw broker reference, starts <c>telesuivi serve</c> on that folder, then publishes each fixed load
/// and the saturation run while it watches <c>/metrics</c>, the triage hub and the process.
/// </summary>
public sealed class BenchRunner(BenchSettings settings, SimulatedFormats formats, Action<string, long, long> progress, TextWriter status)
{
    public const string LatencyMethod =
        "publish -> stored: telesuivi_ingest_messages_total (counted once a message is durable, before its PUBACK to the ingest client) is polled in /metrics every 10 ms; the k-th earliest PUBLISH of the load (its own messages and the critical readings sent beside it, acknowledged by the broker) is stored at the earliest poll answer that counted k since the load began; bench clock only, never negative, resolution about 10-20 ms (poll period + one request). publish -> alert: the first AlertChanged for the patient of a critical reading on /hubs/triage (.NET SignalR client, admin API key), minus the time its PUBLISH started; exact to the bench's clock.";

    private const string RiskLagMetric = "telesuivi_risk_scoring_lag_seconds";

    /// <summary>How long the platform's count may stand still, with messages outstanding, before they are reported missing.</summary>
    private static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(20);

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var loadAtStart = LoadAverage();
        var data = Directory.CreateTempSubdirectory("telesuivi-bench-").FullName;
        try
        {
            return await RunInAsync(data, loadAtStart, cancellationToken);
        }
        finally
        {
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException ex)
            {
                await status.WriteLineAsync($"warning: could not remove the bench's data folder {data}: {ex.Message}");
            }
        }
    }

    private async Task<BenchReport> RunInAsync(string data, string loadAtStart, CancellationToken cancellationToken)
    {
        var workload = new BenchWorkload(formats, settings, DateTimeOffset.UtcNow);
        var embedded = string.Equals(settings.Broker, BrokerAddress.Embedded, StringComparison.OrdinalIgnoreCase);
        var brokerOptions = new BrokerOptions
        {
            Url = settings.Broker,
            EmbeddedPort = LoopbackPort.Free(),
            ClientId = $"telesuivi-bench-ingest-{Guid.NewGuid():N}",
        };
        var address = brokerOptions.ResolveAddress();
        using var registry = new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = data }));
        await registry.InitializeAsync(cancellationToken);
        await new RegistryBundleImporter(registry, TimeProvider.System).ImportAsync(CohortBundle.Build(workload.Cohort, DateTimeOffset.UtcNow.AddDays(-30)), cancellationToken);
        progress("registered", workload.Cohort.Count, workload.Cohort.Count);
        IReadOnlyDictionary<string, string>? secrets = null;
        if (embedded)
        {
            var devices = workload.DevicesThatPublish;
            var issued = await new BrokerCredentialIssuer(registry, TimeProvider.System)
                .IssueDevicesAsync(devices, rotate: true, cancellationToken, new Progress<int>(done => progress("device accounts", done, devices.Count)));
            secrets = issued.ToDictionary(c => c.UserName, c => c.Secret, StringComparer.Ordinal);
        }

        var referenceMessages = workload.NextMessages(settings.SaturationMessages, new Progress<int>(done => progress("encoding (reference)", done, settings.SaturationMessages)));
        var reference = await RawBrokerReference.MeasureAsync(address, brokerOptions, registry, secrets, workload.PublishingAccounts, referenceMessages, settings.MaxInFlight, progress, cancellationToken);
        var storeReference = await StoreAloneReference.MeasureAsync(settings.Store, data, registry, referenceMessages, progress, cancellationToken);
        referenceMessages = null;

        var apiKey = "bench-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var baseUrl = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var environment = new Dictionary<string, string>
        {
            ["TELESUIVI_SECURITY__BOOTSTRAPAPIKEY"] = apiKey,
            ["TELESUIVI_BROKER__CLIENTID"] = brokerOptions.ClientId,

            // Each run's ingest session has a client id of its own: left for the default 2 days on an external broker, it
            // would stay in the shared subscription's group and take its share of the next runs' messages, never read.
            ["TELESUIVI_BROKER__SESSIONEXPIRY"] = "00:00:30",
            ["TELESUIVI_LOGGING__LOGLEVEL__DEFAULT"] = "Warning",
        };
        var arguments = new List<string>
        {
            "--urls", baseUrl.ToString().TrimEnd('/'), "--data", data, "--broker", settings.Broker,
            "--mqtt-port", brokerOptions.EmbeddedPort.ToString(CultureInfo.InvariantCulture),
            "--store", settings.Store,
        };
        var wall = Stopwatch.StartNew();
        await using var platform = PlatformProcess.Start(arguments, environment, baseUrl, apiKey, Path.Combine(data, "serve.log"));
        await platform.WaitUntilReadyAsync(TimeSpan.FromSeconds(120), cancellationToken);
        await status.WriteLineAsync($"telesuivi serve (pid {platform.Id}) ready at {baseUrl}; its log: {platform.LogPath} (removed at the end)");

        var alerts = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(baseUrl, "/hubs/triage"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(apiKey))
            .Build();
        hub.On<JsonElement>("AlertChanged", view =>
        {
            if (view.TryGetProperty("patientId", out var patient) && patient.GetString() is { } id)
            {
                alerts.TryAdd(id, Stopwatch.GetTimestamp());
            }
        });
        await hub.StartAsync(cancellationToken);

        await using var probe = new PlatformProbe(platform);
        await using var publishers = new DevicePublishers(address, secrets);
        var accounts = workload.PublishingAccounts.Concat(workload.AlertAccounts).ToList();
        await publishers.ConnectAsync(accounts, new Progress<int>(done => progress("device connections", done, accounts.Count)), cancellationToken);
        probe.Start();

        // Before the loads, whose bursts grow the heap: the memory of the registry and of every patient's online state.
        var baseline = platform.Memory().Resident;
        var heapAtReady = await PlatformMemory.CollectAsync(platform, cancellationToken);
        var others = workload.OneReadingOfEveryOtherPatient(DateTimeOffset.UtcNow);
        var stateStart = await probe.ReadAsync(cancellationToken);
        var stateSent = await publishers.PublishEachOnceAsync(others, new Progress<int>(done => progress("one reading per patient", done, others.Count)), cancellationToken);
        await probe.WaitForAsync(stateStart.Messages + stateSent, StallLimit, cancellationToken);
        var firstLoad = settings.Loads.FirstOrDefault(1_000);
        var warm = workload.NextMessages((int)Math.Max(1, firstLoad * settings.LoadDuration.TotalSeconds));
        var warmRun = await publishers.PublishAsync(warm, firstLoad, settings.MaxInFlight, done => progress("every patient's state", done, warm.Count), cancellationToken);
        await probe.WaitForAsync(stateStart.Messages + stateSent + warmRun.Acknowledged, StallLimit, cancellationToken);
        var scorerWait = Stopwatch.StartNew();
        var scorerDrained = await PlatformMemory.WaitForScorerAsync(
            probe, TimeSpan.FromMinutes(5), !settings.LoadsDuringWave, waiting => progress(settings.LoadsDuringWave ? "risk scorer's backlog (batches)" : "risk scorer's backlog (batches), then its scores", waiting, waiting), cancellationToken);
        var residentWithState = platform.Memory().Resident;
        var heapWithState = await PlatformMemory.CollectAsync(platform, cancellationToken);
        var state = new StateResult(workload.Publishing.Count + stateSent, stateSent, baseline, residentWithState)
        {
            LiveHeapAtReadyBytes = heapAtReady.HeapSizeBytes,
            LiveHeapBytes = heapWithState.HeapSizeBytes,
            ResidentAfterCollectionBytes = platform.Memory().Resident,
            CommittedAfterCollectionBytes = heapWithState.CommittedBytes,
            ServerGc = heapWithState.ServerGc,
            ScorerCatchUpSeconds = scorerDrained ? scorerWait.Elapsed.TotalSeconds : null,
            LoadsDuringWave = settings.LoadsDuringWave,
        };

        var loads = new List<LoadResult>();
        foreach (var load in settings.Loads)
        {
            var count = (int)Math.Max(1, load * settings.LoadDuration.TotalSeconds);
            var messages = workload.NextMessages(count, new Progress<int>(done => progress($"encoding ({load:N0}/s)", done, count)));
            loads.Add(await MeasureLoadAsync($"{load:N0} messages/s", load, messages, workload, publishers, probe, platform, alerts, cancellationToken));
        }

        var saturationMessages = workload.NextMessages(settings.SaturationMessages, new Progress<int>(done => progress("encoding (saturation)", done, settings.SaturationMessages)));
        var saturation = await MeasureLoadAsync("saturation", null, saturationMessages, workload, publishers, probe, platform, alerts, cancellationToken);

        var memory = platform.Memory();
        var last = await probe.ReadAsync(cancellationToken);
        var process = new ProcessResult(platform.CpuTime().TotalSeconds, wall.Elapsed.TotalSeconds, memory.Peak, memory.Resident, state);
        var scoring = last.Risk.Count > 0
            ? new ScoringResult(true, "telesuivi_risk_* metrics of the platform at the end of the run", last.Risk)
            : new ScoringResult(false, "not measured: no online scorer in this build (no telesuivi_risk_* metric in /metrics)", last.Risk);
        var perPatientPerSecond = workload.Cohort.Sum(p => p.Devices.Sum(d => d.ReadingsPerDay)) / 86_400.0 / workload.Cohort.Count;
        var nominal = new NominalCadence(
            perPatientPerSecond * 100_000,
            saturation.ProcessedPerSecond,
            "derived, not run: the simulator's mean readings per day of this cohort's devices, scaled to 100,000 patients, beside the saturation measured here");
        var ratio = saturation.ProcessedPerSecond / Math.Max(reference.ReceivedPerSecond, 1e-9);
        var report = new BenchReport(
            DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            Machine(),
            SourceRevision.OfBinary(),
            loadAtStart,
            LoadAverage(),
            address.Display,
            settings.Store,
            workload.Cohort.Count,
            workload.PublishingAccounts.Count(),
            publishers.Connections,
            workload.Formats,
            LatencyMethod,
            reference,
            loads,
            saturation,
            ratio,
            process,
            scoring,
            nominal,
            [])
        {
            StoreReference = storeReference,
        };
        return report with { Targets = BenchTargets.Judge(report), FolderCommit = SourceRevision.Describe(Environment.CurrentDirectory) };
    }

    private async Task<LoadResult> MeasureLoadAsync(
        string name,
        int? perSecond,
        IReadOnlyList<BenchMessage> messages,
        BenchWorkload workload,
        DevicePublishers publishers,
        PlatformProbe probe,
        PlatformProcess platform,
        ConcurrentDictionary<string, long> alerts,
        CancellationToken cancellationToken)
    {
        var before = await probe.ReadAsync(cancellationToken);
        var cpuBefore = platform.CpuTime();
        var benchPausesBefore = GC.GetTotalPauseDuration();
        var sentAlerts = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        using var publishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var alertSender = perSecond is null || settings.AlertsPerSecond == 0
            ? Task.CompletedTask
            : SendCriticalReadingsAsync(workload, publishers, sentAlerts, publishing.Token);
        var run = await publishers.PublishAsync(messages, perSecond, settings.MaxInFlight, done => progress($"publishing ({name})", done, messages.Count), cancellationToken);
        await publishing.CancelAsync();
        await alertSender;

        var expected = before.Messages + run.Acknowledged + sentAlerts.Count;
        var after = await probe.WaitForAsync(expected, StallLimit, cancellationToken);
        var cpu = (platform.CpuTime() - cpuBefore).TotalSeconds;
        var benchPauses = GC.GetTotalPauseDuration() - benchPausesBefore;
        var samples = probe.Since(run.FirstStart);
        samples.Add(after);

        // Up to the poll that first saw the final count: a run that fell behind is not charged the wait for the rest.
        var lastCounted = samples.FirstOrDefault(x => x.Messages >= after.Messages, after).At;
        var wall = Stopwatch.GetElapsedTime(run.FirstStart, lastCounted).TotalSeconds;

        // The critical readings are counted by the platform like the load's own messages, so they are sends of this load.
        var timed = StoredLatency.OfEach(
            run.AcknowledgedSends.Concat(sentAlerts.Values),
            probe.Since(before.At).Append(after).Select(x => (x.At, x.Messages - before.Messages)));
        var latencies = timed.ConvertAll(each => each.Milliseconds);

        AlertLatency? alertLatency = null;
        List<AlertSample> alertSamples = [];
        if (perSecond is not null && settings.AlertsPerSecond > 0)
        {
            var alertDeadline = Stopwatch.StartNew();
            while (sentAlerts.Keys.Any(p => !alerts.ContainsKey(p)) && alertDeadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50, cancellationToken);
            }

            var delays = sentAlerts.Where(a => alerts.ContainsKey(a.Key)).Select(a => Stopwatch.GetElapsedTime(a.Value, alerts[a.Key]).TotalMilliseconds).ToList();
            alertLatency = new AlertLatency(sentAlerts.Count, delays.Count, Percentiles.Of(delays));
            alertSamples = sentAlerts.Where(a => alerts.ContainsKey(a.Key)).OrderBy(a => a.Value)
                .Select(a => new AlertSample(
                    Math.Round(Stopwatch.GetElapsedTime(run.FirstStart, a.Value).TotalSeconds, 2),
                    Math.Round(Stopwatch.GetElapsedTime(a.Value, alerts[a.Key]).TotalMilliseconds, 1)))
                .ToList();
        }

        var timeline = probe.Since(before.At);
        timeline.Add(after);

        var processed = after.Messages - before.Messages;
        var keptUp = processed >= run.Acknowledged + sentAlerts.Count;
        var notes = new List<string>();
        if (run.Refused > 0)
        {
            notes.Add($"{run.Refused} not acknowledged by the broker: {run.FirstError}");
        }

        if (!keptUp)
        {
            notes.Add($"{run.Acknowledged + sentAlerts.Count - processed:N0} of {run.Acknowledged + sentAlerts.Count:N0} acknowledged by the broker never processed (no progress for {StallLimit.TotalSeconds:F0} s)");
        }

        if (after.DeadLetters > before.DeadLetters)
        {
            notes.Add($"{after.DeadLetters - before.DeadLetters} dead-lettered (see telesuivi deadletter list)");
        }

        return new LoadResult(
            name,
            perSecond,
            run.Acknowledged,
            run.Refused,
            run.AcknowledgedPerSecond,
            processed,
            after.Observations - before.Observations,
            after.DeadLetters - before.DeadLetters,
            processed / Math.Max(wall, 1e-9),
            keptUp,
            Percentiles.Of(latencies),
            alertLatency,
            cpu,
            cpu / Math.Max(wall, 1e-9),
            samples.Count == 0 ? 0 : samples.Max(x => x.Resident),
            StoreWritesBetween(before, after, wall),
            RiskDuring(before.Risk, after.Risk),
            string.Join("; ", notes))
        {
            GcPauseSeconds = after.GcPauseSeconds - before.GcPauseSeconds,
            FullCollections = after.FullCollections - before.FullCollections,
            BenchGcPauseSeconds = benchPauses.TotalSeconds,
            StartedAtUtc = (DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(run.FirstStart)).ToString("yyyy-MM-ddTHH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            StoredMaxMsBySecond = StoredLatency.MaxBySecond(timed, run.FirstStart),
            StoreWriteDurations = after.StoreWriteDurations.Since(before.StoreWriteDurations),
            ReceiveToAcknowledged = after.ReceiveToAcknowledged.Since(before.ReceiveToAcknowledged),
            AlertSamples = alertSamples,
            Stages = after.Stages.ToDictionary(s => s.Key, s => s.Value.Since(before.Stages.GetValueOrDefault(s.Key, HistogramCounts.Empty)), StringComparer.Ordinal),
            RiskScoresBySecond = LoadTimeline.GrowthBySecond(timeline, run.FirstStart, s => s.Risk.GetValueOrDefault("telesuivi_risk_scores_total")),
            GcPauseMsBySecond = LoadTimeline.GrowthBySecond(timeline, run.FirstStart, s => s.GcPauseSeconds * 1000),
            AlertQueueMaxBySecond = LoadTimeline.MaxBySecond(timeline, run.FirstStart, s => s.AlertQueueDepth),
            RiskLagMaxSecondsBySecond = LoadTimeline.MaxBySecond(timeline, run.FirstStart, s => s.Risk.GetValueOrDefault(RiskLagMetric)),
        };
    }

    /// <summary>
    /// The scorer's figures of one load: how much each counter (<c>_total</c>, and a histogram's <c>_bucket</c>,
    /// <c>_sum</c>, <c>_count</c>) grew during it, and each gauge (scores per second, lag, queue, on) as it stood at its
    /// end. A gauge's difference means nothing: the lag of the latest score, lower at the end of a load than at its start
    /// (the first scores of the wave waited longer), read negative.
    /// </summary>
    internal static Dictionary<string, double> RiskDuring(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after) =>
        after.ToDictionary(r => r.Key, r => IsCumulative(r.Key) ? r.Value - before.GetValueOrDefault(r.Key) : r.Value, StringComparer.Ordinal);

    private static bool IsCumulative(string metric) =>
        metric.EndsWith("_total", StringComparison.Ordinal) || metric.EndsWith("_sum", StringComparison.Ordinal)
        || metric.EndsWith("_count", StringComparison.Ordinal) || metric.Contains("_bucket{", StringComparison.Ordinal);

    private static StoreWrites StoreWritesBetween(PlatformSample before, PlatformSample after, double wall)
    {
        var writes = after.StoreWrites - before.StoreWrites;
        var seconds = after.StoreWriteSeconds - before.StoreWriteSeconds;
        return new StoreWrites(
            writes,
            writes == 0 ? 0 : 1000 * seconds / writes,
            writes == 0 ? 0 : (after.Observations - before.Observations) / (double)writes,
            seconds / Math.Max(wall, 1e-9));
    }

    private async Task SendCriticalReadingsAsync(BenchWorkload workload, DevicePublishers publishers, ConcurrentDictionary<string, long> sent, CancellationToken cancellationToken)
    {
        var every = TimeSpan.FromSeconds(1.0 / settings.AlertsPerSecond);
        try
        {
            while (!cancellationToken.IsCancellationRequested && workload.NextCriticalReading(DateTimeOffset.UtcNow) is var (patient, message))
            {
                var started = Stopwatch.GetTimestamp();
                if (await publishers.PublishOneAsync(message) is null)
                {
                    sent[patient] = started;
                }

                await Task.Delay(every, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            && File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } model
            ? model[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
            : "unknown CPU";
        return string.Create(CultureInfo.InvariantCulture, $"{cpu}, {Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
    }
}
