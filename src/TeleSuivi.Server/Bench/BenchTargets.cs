using System.Globalization;

namespace TeleSuivi.Server.Bench;

/// <summary>The targets (issue 8, item 2), each judged on this run's figures, or said not to be measured by it.</summary>
public static class BenchTargets
{
    private const long StateBudgetBytes = 300L * 1024 * 1024;

    public static IReadOnlyList<TargetResult> Judge(BenchReport report)
    {
        var targets = new List<TargetResult>();
        var ratio = report.EndToEndOverReference;
        targets.Add(new(
            "end-to-end >= 0.6 x raw broker rate (same run)",
            F($"{report.Saturation.ProcessedPerSecond:N0}/s = {ratio:P0} of {report.Reference.ReceivedPerSecond:N0}/s raw"),
            Met(ratio >= 0.6 && report.Saturation.KeptUp)));
        targets.Add(new(
            "end-to-end >= 60,000 readings/s (aim)",
            F($"{report.Saturation.ProcessedPerSecond:N0} messages/s ({report.Saturation.Observations / Math.Max(report.Saturation.Processed, 1.0):0.##} Observations each)"),
            Met(report.Saturation.ProcessedPerSecond >= 60_000)));
        var at1000 = report.Loads.FirstOrDefault(l => l.TargetPerSecond == 1_000);
        targets.Add(at1000?.PublishToStored is { } stored
            ? new("p99 publish -> stored < 250 ms at 1,000/s", F($"p99 {stored.P99Ms:N0} ms (p50 {stored.P50Ms:N0}, of {stored.Count:N0})"), Met(stored.P99Ms < 250 && at1000.KeptUp))
            : new("p99 publish -> stored < 250 ms at 1,000/s", "no load of 1,000/s in this run", "not measured"));
        targets.Add(at1000?.Alerts?.PublishToAlert is { } alert
            ? new("p99 publish -> alert on the hub < 500 ms at 1,000/s", F($"p99 {alert.P99Ms:N0} ms (p50 {alert.P50Ms:N0}), {at1000.Alerts.Delivered} of {at1000.Alerts.Sent} delivered"), Met(alert.P99Ms < 500 && at1000.Alerts.Delivered == at1000.Alerts.Sent))
            : new("p99 publish -> alert on the hub < 500 ms at 1,000/s", "no alert sample at 1,000/s in this run", "not measured"));
        var state = report.Process.State;
        var stateFigure = F($"RSS {Mb(state.ResidentBytes)} (at ready {Mb(state.ResidentAtReadyBytes)}) with {state.PatientsWithReadings:N0} patients with readings");
        targets.Add(state.PatientsWithReadings >= 10_000
            ? new("online state for 10,000 patients <= 300 MB", stateFigure, Met(state.ResidentBytes <= StateBudgetBytes))
            : new("online state for 10,000 patients <= 300 MB", stateFigure, "not measured: fewer than 10,000 patients (--patients)"));
        targets.Add(new(
            "100,000 patients at nominal cadence on one node",
            F($"they publish {report.Nominal.MessagesPerSecondPer100kPatients:N0} messages/s; saturation here {report.Nominal.MeasuredSaturationPerSecond:N0}/s"),
            report.Nominal.MeasuredSaturationPerSecond >= report.Nominal.MessagesPerSecondPer100kPatients ? "met (derived, not run with 100,000 patients)" : "NOT MET (derived)"));
        return targets;
    }

    public static string Mb(long bytes) => F($"{bytes / 1024.0 / 1024.0:N0} MB");

    private static string Met(bool met) => met ? "met" : "NOT MET";

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
