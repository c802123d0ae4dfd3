using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TeleSuivi.Server.Bench;

/// <summary>Where the figures of a run go: the summary table on standard output, a JSON file, and a section of BENCHMARKS.md.</summary>
public static class BenchOutput
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task WriteJsonAsync(BenchReport report, string path, CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }

        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, Json), cancellationToken);
    }

    /// <summary>The run's table, in Markdown: for the terminal and for BENCHMARKS.md alike.</summary>
    public static string Table(BenchReport report)
    {
        var text = new StringBuilder();
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        text.AppendLine("| run | published/s | stored/s | Observations | publish -> stored p50 / p99 / max | publish -> alert on hub p50 / p99 (delivered) | CPU (cores) | GC pauses (full GCs) | peak RSS | store writes: mean, Observations each, share of time | note |");
        text.AppendLine("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | --- |");
        var r = report.Reference;
        text.AppendLine(F($"| reference: raw broker -> plain MQTTnet subscriber | {r.PublishedPerSecond:N0} | {r.ReceivedPerSecond:N0} received | | | | | | | | {r.Received:N0} of {r.Published:N0} received{(r.Note.Length > 0 ? "; " + r.Note : string.Empty)} |"));
        if (report.StoreReference is { } s)
        {
            text.AppendLine(F($"| reference: the store alone (its own writes, {s.WritesInFlight} in flight, nothing else running) | | {s.MessagesPerSecond:N0} | {s.Observations:N0} | | | | | | {s.Batches:N0} writes, {s.Observations / Math.Max(s.Batches, 1.0):N0} Observations each | {s.Store}{(s.Rejected > 0 ? F($"; {s.Rejected:N0} messages refused by the normaliser, not written") : string.Empty)} |"));
        }

        foreach (var load in report.Loads.Append(report.Saturation))
        {
            var w = load.StoreWrites;
            var stored = load.PublishToStored is { } p ? F($"{p.P50Ms:N0} / {p.P99Ms:N0} / {p.MaxMs:N0} ms") : "-";
            var alert = load.Alerts is { PublishToAlert: { } a } al ? F($"{a.P50Ms:N0} / {a.P99Ms:N0} ms ({al.Delivered}/{al.Sent})") : load.Alerts is { } none ? F($"- (0/{none.Sent})") : "-";
            text.AppendLine(F($"| end to end, {load.Name} | {load.PublishedPerSecond:N0} | {load.ProcessedPerSecond:N0} | {load.Observations:N0} | {stored} | {alert} | {load.CoresUsed:0.00} | {load.GcPauseSeconds * 1000:N0} ms ({load.FullCollections}) | {BenchTargets.Mb(load.PeakResidentBytes)} | {w.MeanMs:N0} ms, {w.ObservationsPerWrite:N0}, {w.ShareOfWallTime:P0} | {load.Note} |"));
        }

        text.AppendLine();
        text.AppendLine("| where the time went | store writes: count, p50 / p99 at most, over 100 / 250 / 500 ms | receive -> acknowledged: p50 / p99 at most, over 250 ms | publish -> stored, worst second of the load | the bench's own GC pauses |");
        text.AppendLine("| --- | --- | --- | --- | ---: |");
        foreach (var load in report.Loads.Append(report.Saturation))
        {
            text.AppendLine(F($"| {load.Name} | {Distribution(load.StoreWriteDurations, withCount: true)} | {Distribution(load.ReceiveToAcknowledged, withCount: false)} | {WorstSecond(load)} | {load.BenchGcPauseSeconds * 1000:N0} ms |"));
        }

        text.AppendLine();
        text.AppendLine("| the path to an alert | alert engine's queue wait of stored batches: count, p50 / p99 at most, over 100 / 250 / 500 ms | raises (store, then hub): count, p50 / p99 at most, over 100 / 250 / 500 ms | missing-data sweep steps: count, p50 / p99 at most, over 100 / 250 / 500 ms | risk scores in the load | slowest alert samples: ms (at second of the load) |");
        text.AppendLine("| --- | --- | --- | --- | ---: | --- |");
        foreach (var load in report.Loads.Where(l => l.AlertSamples.Count > 0))
        {
            string Stage(string name) => Distribution(load.Stages.GetValueOrDefault(name), withCount: true);
            var slowest = string.Join(", ", load.AlertSamples.OrderByDescending(a => a.Milliseconds).Take(3).Select(a => F($"{a.Milliseconds:N0} ({a.AtSecond:0.#})")));
            text.AppendLine(F($"| {load.Name} | {Stage("telesuivi_alert_reading_wait_seconds")} | {Stage("telesuivi_alert_raise_duration_seconds")} | {Stage("telesuivi_alert_sweep_step_seconds")} | {load.RiskScoresBySecond.Sum():N0} | {slowest} |"));
        }

        text.AppendLine();
        text.AppendLine("| target | measured | result |");
        text.AppendLine("| --- | --- | --- |");
        foreach (var target in report.Targets)
        {
            text.AppendLine($"| {target.Target} | {target.Measured} | **{target.Result}** |");
        }

        text.AppendLine();
        text.AppendLine(F($"{report.Date}, {report.Machine}, load average {report.LoadAverageAtStart} at start and {report.LoadAverageAtEnd} at end (the machine is shared: other builds ran), commit {report.Commit}{(report.CommitNote is { } commitNote ? $" ({commitNote})" : string.Empty)}; broker {report.Broker}, store {report.Store}; {report.Patients:N0} patients registered, {report.PublishingDevices:N0} devices publishing over {report.Connections:N0} connections in {report.Formats.Count} formats; the platform process used {report.Process.CpuSeconds:N0} s of CPU in {report.Process.WallSeconds:N0} s, peak RSS {BenchTargets.Mb(report.Process.PeakResidentBytes)}; with all {report.Process.State.PatientsWithReadings:N0} patients' state and before the loads, live managed heap after a full GC {BenchTargets.Mb(report.Process.State.LiveHeapBytes)} ({BenchTargets.Mb(report.Process.State.LiveHeapAtReadyBytes)} when ready), RSS {BenchTargets.Mb(report.Process.State.ResidentBytes)} ({BenchTargets.Mb(report.Process.State.ResidentAtReadyBytes)} when ready, {BenchTargets.Mb(report.Process.State.ResidentAfterCollectionBytes)} right after the full GC, of which {BenchTargets.Mb(report.Process.State.CommittedAfterCollectionBytes)} committed by the GC), {(report.Process.State.ServerGc ? "server" : "workstation")} GC, measured {ScorerWhenMeasured(report.Process.State)}. Scoring: {report.Scoring.Note}."));
        return text.ToString();
    }

    private static string Distribution(HistogramSummary? h, bool withCount)
    {
        if (h is null || h.Count == 0)
        {
            return "-";
        }

        static string Bound(double? ms) => ms is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "more than the highest bucket";
        var over = withCount
            ? FormattableString.Invariant($"{h.Over100Ms:N0} / {h.Over250Ms:N0} / {h.Over500Ms:N0}")
            : FormattableString.Invariant($"{h.Over250Ms:N0}");
        return withCount
            ? FormattableString.Invariant($"{h.Count:N0}, {Bound(h.P50AtMostMs)} / {Bound(h.P99AtMostMs)} ms, {over}")
            : FormattableString.Invariant($"{Bound(h.P50AtMostMs)} / {Bound(h.P99AtMostMs)} ms, {over}");
    }

    private static string WorstSecond(LoadResult load)
    {
        if (load.StoredMaxMsBySecond.Count == 0)
        {
            return "-";
        }

        var worst = load.StoredMaxMsBySecond.Max();
        var second = load.StoredMaxMsBySecond.ToList().IndexOf(worst);
        return FormattableString.Invariant($"{worst:N0} ms in second {second} (from {load.StartedAtUtc})");
    }

    /// <summary>Replaces this configuration's section of BENCHMARKS.md (between its markers; appended at the end when the file has none).</summary>
    public static void WriteBenchmarksFile(BenchReport report, string path, bool embeddedDefaults)
    {
        var key = embeddedDefaults ? "bench-embedded" : "bench-external";
        var begin = $"<!-- {key}:begin (written by telesuivi bench) -->";
        var end = $"<!-- {key}:end -->";
        var text = File.ReadAllText(path);
        var start = text.IndexOf(begin, StringComparison.Ordinal);
        var stop = start < 0 ? -1 : text.IndexOf(end, start, StringComparison.Ordinal);
        var content = Table(report);
        text = start < 0 || stop < 0
            ? text.TrimEnd() + $"\n\n### telesuivi bench, {(embeddedDefaults ? "embedded defaults" : "external broker and store")}\n\n{begin}\n{content}{end}\n"
            : string.Concat(text.AsSpan(0, start + begin.Length), "\n", content, text.AsSpan(stop));
        File.WriteAllText(path, text);
    }

    private static string ScorerWhenMeasured(StateResult state) => (state.ScorerCatchUpSeconds, state.LoadsDuringWave) switch
    {
        ({ } taken, true) => string.Create(CultureInfo.InvariantCulture, $"once the risk scorer had taken its backlog ({taken:N0} s after the last reading was stored), its first scores of every patient then running into the loads (--loads-during-wave)"),
        ({ } caughtUp, false) => string.Create(CultureInfo.InvariantCulture, $"once the risk scorer had caught up ({caughtUp:N0} s after the last reading was stored)"),
        _ => "with the risk scorer still behind after 5 minutes (its backlog included)",
    };
}
