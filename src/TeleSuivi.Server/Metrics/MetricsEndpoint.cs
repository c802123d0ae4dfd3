using System.Globalization;
using System.Text;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;

namespace TeleSuivi.Server.Metrics;

/// <summary><c>GET /metrics</c> in the Prometheus text exposition format (version 0.0.4).</summary>
public static class MetricsEndpoint
{
    public static IEndpointRouteBuilder MapTeleSuiviMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/metrics", async (IngestCounters counters, IngestChannel channel, BrokerConnectionState broker, BrokerRefusals refusals, DeadLetterStore deadLetters, ObservationSpool spool, WritePathMetrics writes, IObservationStore store, HubConnections hub, Risk.RiskMetrics risk, Risk.ScoringFeed scoring, Risk.RiskModel model, Alerts.AlertMetrics alerts, Alerts.AlertFeed alertFeed, TimeProvider time, CancellationToken cancellationToken) =>
        {
            var text = new StringBuilder();
            Metric(text, "telesuivi_ingest_messages_total", "counter", "MQTT messages processed since start.", counters.Messages);
            Metric(text, "telesuivi_ingest_observations_total", "counter", "Observations stored since start.", counters.Observations);
            Header(text, "telesuivi_ingest_dead_letters_total", "counter", "Messages dead-lettered since start, by reason code.");
            foreach (var (reason, count) in counters.DeadLetteredByReason.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                Sample(text, "telesuivi_ingest_dead_letters_total", count, ("reason", reason));
            }

            Metric(text, "telesuivi_ingest_queue_depth", "gauge", "Messages received and waiting to be processed.", channel.Count);
            Metric(text, "telesuivi_ingest_in_flight", "gauge", "Messages being normalised or written, not yet acknowledged.", counters.InFlight);
            WriteLag(text, counters, channel, time.GetUtcNow());
            Metric(text, "telesuivi_broker_connected", "gauge", "1 when the ingest client is connected to the broker.", broker.IsConnected ? 1 : 0);
            Header(text, "telesuivi_broker_refusals_total", "counter", "CONNECT, PUBLISH and SUBSCRIBE refused by the embedded broker since start, by action and reason.");
            foreach (var (action, reason, count) in refusals.Snapshot())
            {
                Sample(text, "telesuivi_broker_refusals_total", count, ("action", action), ("reason", reason));
            }

            Header(text, "telesuivi_dead_letters_pending", "gauge", "Dead letters not yet replayed, by reason code.");
            foreach (var (reason, count) in await deadLetters.CountByReasonAsync(cancellationToken))
            {
                Sample(text, "telesuivi_dead_letters_pending", count, ("reason", reason));
            }

            WriteSpool(text, spool.Status, writes);
            WriteStore(text, writes, store);
            WriteRisk(text, risk, scoring, model, time.GetUtcNow());
            WriteAlerts(text, alerts, alertFeed);
            Metric(text, "telesuivi_hub_connections", "gauge", "Triage boards connected to /hubs/triage.", hub.Open);
            Metric(text, "telesuivi_hub_connections_opened_total", "counter", "Connections to /hubs/triage accepted since start.", hub.Opened);
            WriteRuntime(text, RuntimeMemorySnapshot.Read());
            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        }).RequireAuthorization(Policies.Metrics); // no patient data, but operational detail: an admin or a 'metrics' API key

        // What the platform's state takes, without a heap dump (README "Memory"). A full collection pauses the process
        // (tens to hundreds of ms with 10,000 patients): admin only, and a POST.
        endpoints.MapPost("/api/diagnostics/gc", () => Results.Ok(RuntimeMemorySnapshot.AfterFullCollection())).RequireAuthorization(Policies.Admin);
        return endpoints;
    }

    private static void WriteRuntime(StringBuilder text, RuntimeMemorySnapshot memory)
    {
        Metric(text, "dotnet_gc_heap_size_bytes", "gauge", "Managed heap after the last collection (live objects and fragmentation).", memory.HeapSizeBytes);
        Metric(text, "dotnet_gc_fragmented_bytes", "gauge", "Free space inside the managed heap after the last collection.", memory.FragmentedBytes);
        Metric(text, "dotnet_gc_committed_bytes", "gauge", "Memory the garbage collector has committed from the OS.", memory.CommittedBytes);
        Metric(text, "dotnet_gc_live_bytes_after_full_collection", "gauge", "Bytes that survived the last full blocking collection (0 until one ran): the live state then.", memory.LiveBytesAfterLastFullGc);
        Metric(text, "dotnet_gc_allocated_bytes_total", "counter", "Bytes allocated on the managed heap since start.", memory.AllocatedBytesTotal);
        Metric(text, "dotnet_gc_pause_seconds_total", "counter", "Time the garbage collector paused the process since start.", memory.PauseSecondsTotal);
        Header(text, "dotnet_gc_collections_total", "counter", "Collections since start, by generation.");
        Sample(text, "dotnet_gc_collections_total", memory.Gen0Collections, ("generation", "0"));
        Sample(text, "dotnet_gc_collections_total", memory.Gen1Collections, ("generation", "1"));
        Sample(text, "dotnet_gc_collections_total", memory.Gen2Collections, ("generation", "2"));
        Metric(text, "dotnet_gc_server", "gauge", "1 with server GC, 0 with workstation GC (README \"Memory\").", memory.ServerGc ? 1 : 0);
        Metric(text, "process_resident_memory_bytes", "gauge", "Resident set size of the process.", memory.ResidentBytes);
    }

    private static void WriteSpool(StringBuilder text, SpoolStatus spool, WritePathMetrics writes)
    {
        Metric(text, "telesuivi_spool_bytes", "gauge", "Bytes of the spool's segment files on disk.", spool.Bytes);
        Metric(text, "telesuivi_spool_max_bytes", "gauge", "The most the spool may hold (Store:SpoolMaxBytes).", spool.MaxBytes);
        Metric(text, "telesuivi_spool_observations", "gauge", "Observations in the spool waiting to be replayed to the store.", spool.Observations);
        Metric(text, "telesuivi_spool_messages", "gauge", "Messages whose Observations wait in the spool.", spool.Messages);
        Metric(text, "telesuivi_spool_segments", "gauge", "Segment files in the spool.", spool.Segments);
        Metric(text, "telesuivi_spool_full", "gauge", "1 while the spool is full and ingestion is paused.", spool.Full ? 1 : 0);
        Metric(text, "telesuivi_spool_disk_error", "gauge", "1 while the spool's disk refuses writes and ingestion is paused.", spool.DiskError is null ? 0 : 1);
        Metric(text, "telesuivi_spool_spooled_observations_total", "counter", "Observations written to the spool since start.", writes.SpooledObservations);
        Metric(text, "telesuivi_spool_replayed_observations_total", "counter", "Observations replayed from the spool to the store since start.", writes.ReplayedObservations);
    }

    private static void WriteRisk(StringBuilder text, Risk.RiskMetrics risk, Risk.ScoringFeed scoring, Risk.RiskModel model, DateTimeOffset now)
    {
        Metric(text, "telesuivi_risk_scoring_on", "gauge", "1 while risk scoring runs (model loaded), 0 while starting or off.", model.Scorer is null ? 0 : 1);
        Metric(text, "telesuivi_risk_scores_total", "counter", "Risk scores stored as RiskAssessments since start.", risk.Scores);
        Metric(text, "telesuivi_risk_scored_patients_per_second", "gauge", "Risk scores per second over the last minute.", risk.ScoresPerSecond(now));
        Metric(text, "telesuivi_risk_scoring_lag_seconds", "gauge", "Of the latest score after new readings: time from the hand-over of the earliest of those readings to the scorer's queue to the stored score (wait in the queue and debounce included).", risk.LastLagSeconds);
        Metric(text, "telesuivi_risk_queue_depth", "gauge", "Stored batches waiting to be taken into the risk features.", scoring.Count);
        WriteHistogram(text, "telesuivi_risk_score_duration_seconds", "Duration of one score: features, model and explanation.", risk.Latency);
        WriteHistogram(text, "telesuivi_risk_first_sight_seconds", "The first sight of a patient since start: stored readings and recorded outcomes read into the state.", risk.FirstSightLoad);
        WriteHistogram(text, "telesuivi_risk_save_duration_seconds", "One commit of a pass's scores to the risk store.", risk.SaveDuration);
        Metric(text, "telesuivi_risk_zone_rescores_total", "counter", "Patients made due for a score by a change of their zone's environment.", risk.ZoneRescores);
        Metric(text, "telesuivi_risk_unregistered_dropped_total", "counter", "Readings, wake-ups or scores of a patient who is not registered (erased, or never) dropped by the scorer with their state.", risk.UnregisteredDropped);
    }

    private static void WriteAlerts(StringBuilder text, Alerts.AlertMetrics alerts, Alerts.AlertFeed feed)
    {
        Metric(text, "telesuivi_alert_queue_depth", "gauge", "Inputs (stored batches, rejections, risk scores) waiting for the alert engine.", feed.Count);
        WriteHistogram(text, "telesuivi_alert_reading_wait_seconds", "From the hand-over of a stored batch or rejection to the alert engine until the engine takes it.", alerts.ReadingWait);
        WriteHistogram(text, "telesuivi_alert_score_wait_seconds", "The same for a risk score (readings are taken first).", alerts.ScoreWait);
        WriteHistogram(text, "telesuivi_alert_input_duration_seconds", "The alert engine's work on one input, raises and board pushes included.", alerts.InputDuration);
        WriteHistogram(text, "telesuivi_alert_raise_duration_seconds", "One raise: the alert stored, then pushed to the boards.", alerts.RaiseDuration);
        WriteHistogram(text, "telesuivi_alert_sweep_step_seconds", "One step of the missing-data sweep: a slice of patients, or the escalation check after the last (inputs wait meanwhile).", alerts.SweepStep);
        WriteHistogram(text, "telesuivi_alert_vital_replay_duration_seconds", "The store search that rebuilds a vital's debounce state (the first time it is abnormal since start; with several workers, each time).", alerts.VitalReplayDuration);
        Metric(text, "telesuivi_alert_live_keys_refreshes_total", "counter", "With several workers: reads of which alerts are open, whoever raised them.", alerts.LiveKeysRefreshes);
    }

    private static void WriteLag(StringBuilder text, IngestCounters counters, IngestChannel channel, DateTimeOffset now)
    {
        Metric(text, "telesuivi_ingest_acknowledgements_lost_total", "counter", "Durable messages whose acknowledgement could not be sent (connection dropped): redelivered by the broker, stored once.", counters.AcknowledgementsLost);
        WriteHistogram(text, "telesuivi_ingest_durable_lag_seconds", "From reception from the broker to acknowledgement, once stored, spooled or dead-lettered.", counters.DurableLag);
        var oldest = counters.OldestInFlightReceivedAt ?? channel.OldestReceivedAt;
        Metric(text, "telesuivi_ingest_oldest_unacknowledged_age_seconds", "gauge", "Age of the oldest message received and not yet acknowledged (0 when none).", oldest is { } at ? Math.Max(0, (now - at).TotalSeconds) : 0);
    }

    private static void WriteStore(StringBuilder text, WritePathMetrics writes, IObservationStore store)
    {
        if (store is Storage.Influx.InfluxObservationStore influx)
        {
            Metric(text, "telesuivi_store_reads_of_points_being_written_total", "counter", "Reads of Observations made again because influxd was still storing a point they met (some of its fields visible, not all).", influx.ReadsOfPointsBeingWritten);
            Metric(text, "telesuivi_store_incomplete_points_total", "counter", "Points of Observations still incomplete after the wait (damaged, or not written whole by TeleSuivi): each failed a read.", influx.IncompletePoints);
        }

        WriteHistogram(text, "telesuivi_store_write_duration_seconds", "Duration of writes of Observation batches to the store (failed ones included).", writes.WriteLatency);
        Header(text, "telesuivi_store_write_failures_total", "counter", "Failed writes to the store since start, by kind: unavailable, timeout (spooled), rejected (dead-lettered), access (held).");
        foreach (var (kind, failures) in writes.FailuresByKind())
        {
            Sample(text, "telesuivi_store_write_failures_total", failures, ("kind", kind.ToString().ToLowerInvariant()));
        }
    }

    private static void WriteHistogram(StringBuilder text, string name, string help, Histogram histogram)
    {
        Header(text, name, "histogram", help);
        var (cumulative, sum, count) = histogram.Snapshot();
        for (var i = 0; i < histogram.UpperBounds.Count; i++)
        {
            Sample(text, name + "_bucket", cumulative[i], ("le", histogram.UpperBounds[i].ToString("R", CultureInfo.InvariantCulture)));
        }

        Sample(text, name + "_bucket", cumulative[^1], ("le", "+Inf"));
        Sample(text, name + "_sum", sum);
        Sample(text, name + "_count", count);
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value)
    {
        Header(text, name, type, help);
        Sample(text, name, value);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, double value, params (string Name, string Value)[] labels)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').AppendJoin(',', labels.Select(l => $"{l.Name}=\"{Escape(l.Value)}\"")).Append('}');
        }

        text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
