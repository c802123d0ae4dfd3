using System.Net.Http.Json;
using TeleSuivi.Server.Board;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>Alerts whose rule spans several readings, when the broker deals those readings to different workers.</summary>
public sealed partial class ScaleOutTests
{
    [Fact]
    public async Task VitalWarning_StreakDealtToBothWorkers_RaisedFromTheReadingsOfBothAndEndedByEither()
    {
        // SpO2 of a patient without conditions: 90 % is beyond the warning limit (92), and a warning needs 2 such
        // readings in a row. Two readings within limits, then two at 90 %, one at a time, each processed before the next.
        // The case that matters: the two low readings on different workers, the second on a worker that already held
        // this patient's SpO2 (a reading within limits), so that its own share of the streak is one reading. Dealt
        // round robin, that is the first patient's order; another patient is tried if the broker dealt them otherwise.
        for (var attempt = 1; attempt <= 4; attempt++)
        {
            var (patient, device) = await cluster.RegisterPatientAsync();
            var start = DateTimeOffset.UtcNow.AddMinutes(-10);
            var takenBy = new List<int>();
            foreach (var (minute, value) in new[] { (0, 96.0), (1, 96.0), (2, 90.0), (3, 90.0) })
            {
                takenBy.Add(await PublishSpO2Async(device, start.AddMinutes(minute), value));
            }

            if (takenBy[3] == takenBy[2] || !takenBy.Take(2).Contains(takenBy[3]))
            {
                continue;
            }

            var raised = await Poll.UntilAsync(
                () => VitalLimitAlertsAsync(patient),
                alerts => alerts.Count > 0,
                ScaleOutCluster.Deadline,
                $"a SpO2 warning for {patient} (readings taken by workers {string.Join(", ", takenBy)})");
            var warning = Assert.Single(raised);
            Assert.Equal("warning", warning.Severity);
            Assert.Contains("2 readings in a row", warning.Reason.En, StringComparison.Ordinal);

            // Back within limits, through the worker that did not raise it, once that worker has read the open alerts
            // (twice, so that one read began after the raise): the condition ends (nobody took it up: cleared).
            var other = cluster.Workers[1 - takenBy[3]];
            var reads = await ScaleOutCluster.MetricAsync(other, LiveKeysRefreshes);
            await Poll.UntilAsync(() => ScaleOutCluster.MetricAsync(other, LiveKeysRefreshes), now => now >= reads + 2, ScaleOutCluster.Deadline, "two reads of the open alerts by the other worker");
            takenBy.Add(await PublishSpO2Async(device, start.AddMinutes(4), 96));
            if (takenBy[4] == takenBy[3])
            {
                // Dealt to the worker that raised it, which proves nothing here: another patient.
                continue;
            }

            await Poll.UntilAsync(
                () => VitalLimitAlertsAsync(patient),
                alerts => alerts.Count == 1 && alerts[0].Status == "cleared",
                ScaleOutCluster.Deadline,
                $"the SpO2 warning of {patient} cleared by a reading within limits (readings taken by workers {string.Join(", ", takenBy)})");
            return;
        }

        Assert.Fail("in 4 patients, the broker never dealt the two low readings, then the reading within limits, to alternate workers");
    }

    [Fact]
    public async Task VitalWarning_LateReadingReachesTheOtherWorkerAfterALaterOneWasJudged_RaisedFromBoth()
    {
        // A late batch: the SpO2 of minute 3 (90 %) is judged by one worker before the one of minute 2 (90 %), uploaded
        // with it, reaches the other. The first judged its reading without the earlier one, not stored yet: one reading
        // beyond the limit. The streak of two is then only visible to the second, from the reading stored after its own.
        for (var attempt = 1; attempt <= 4; attempt++)
        {
            var (patient, device) = await cluster.RegisterPatientAsync();
            var start = DateTimeOffset.UtcNow.AddMinutes(-10);
            var judged = await Task.WhenAll(cluster.Workers.Select(w => ScaleOutCluster.MetricAsync(w, VitalReplays)));
            var first = await PublishSpO2Async(device, start.AddMinutes(3), 90);
            await Poll.UntilAsync(() => ScaleOutCluster.MetricAsync(cluster.Workers[first], VitalReplays), n => n > judged[first], ScaleOutCluster.Deadline, "the reading of minute 3 judged");
            var second = await PublishSpO2Async(device, start.AddMinutes(2), 90);
            if (second == first)
            {
                continue;
            }

            var raised = await Poll.UntilAsync(
                () => VitalLimitAlertsAsync(patient),
                alerts => alerts.Count > 0,
                ScaleOutCluster.Deadline,
                $"a SpO2 warning for {patient} (minute 3 taken by worker {first}, minute 2 by worker {second})");
            var warning = Assert.Single(raised);
            Assert.Equal("warning", warning.Severity);
            Assert.Contains("2 readings in a row", warning.Reason.En, StringComparison.Ordinal);
            return;
        }

        Assert.Fail("in 4 patients, the broker never dealt the two readings to different workers");
    }

    [Fact]
    public async Task VitalWarning_LateReadingOfAStreakThatHasEnded_RaisesItNoMore()
    {
        // Two low SpO2 readings raised a warning and a third, within limits, ended it. A reading from the middle of that
        // past streak then arrives late: the stored readings now end within limits, so nothing is raised again.
        var (patient, device) = await cluster.RegisterPatientAsync();
        var start = DateTimeOffset.UtcNow.AddMinutes(-10);
        await PublishSpO2Async(device, start, 90);
        await PublishSpO2Async(device, start.AddMinutes(1), 90);
        await Poll.UntilAsync(() => VitalLimitAlertsAsync(patient), alerts => alerts.Count == 1, ScaleOutCluster.Deadline, $"the SpO2 warning of {patient}");
        await Task.WhenAll(cluster.Workers.Select(async worker =>
        {
            // Whichever worker takes the reading within limits must know the alert is open (a read begun after the raise).
            var reads = await ScaleOutCluster.MetricAsync(worker, LiveKeysRefreshes);
            await Poll.UntilAsync(() => ScaleOutCluster.MetricAsync(worker, LiveKeysRefreshes), now => now >= reads + 2, ScaleOutCluster.Deadline, "two reads of the open alerts");
        }));
        await PublishSpO2Async(device, start.AddMinutes(2), 96);
        await Poll.UntilAsync(() => VitalLimitAlertsAsync(patient), alerts => alerts.Single().Status == "cleared", ScaleOutCluster.Deadline, $"the SpO2 warning of {patient} cleared");

        // The late reading, and in the same message after it a critical heart rate: once that alert is raised, the
        // worker that took the message has judged the SpO2 reading.
        await cluster.PublishWithingsAsync(device, (start.AddSeconds(30), SpO2, 90), (start.AddMinutes(3), HeartRate, 150));
        var alerts = await Poll.UntilAsync(() => VitalLimitAlertsAsync(patient), a => a.Any(x => x.Subject == "heart-rate"), ScaleOutCluster.Deadline, $"the heart rate alert of {patient}");

        var spo2 = Assert.Single(alerts, a => a.Subject == "spo2");
        Assert.Equal("cleared", spo2.Status);
    }

    [Fact]
    public async Task DeviceInvalid_RejectionsDealtToBothWorkers_CountedTogether()
    {
        // 3 implausible readings (SpO2 150 %) within 24 h raise a device alert. Published one at a time, each processed
        // before the next, round robin deals them to both workers: neither rejected 3 by itself.
        var (patient, device) = await cluster.RegisterPatientAsync();
        var start = DateTimeOffset.UtcNow.AddMinutes(-10);
        var takenBy = new List<int>();
        for (var minute = 0; minute < 3; minute++)
        {
            takenBy.Add(await PublishSpO2Async(device, start.AddMinutes(minute), 150));
        }

        Assert.True(takenBy.Distinct().Count() == 2, $"one worker took every rejected reading ({string.Join(", ", takenBy)}): the test proves nothing");
        var raised = await Poll.UntilAsync(
            () => AlertsAsync(patient, "device-invalid"),
            alerts => alerts.Count > 0,
            ScaleOutCluster.Deadline,
            $"a device-invalid alert for {device} (readings taken by workers {string.Join(", ", takenBy)})");
        var alert = Assert.Single(raised);
        Assert.Contains("3 invalid readings", alert.Reason.En, StringComparison.Ordinal);
        // Each worker's letters, read back from the shared dead letters, keep their reason in French for the board.
        Assert.Equal(3, alert.Evidence.Count(e => e.DetailFr == "saturation en oxygène (SpO2) 150 % impossible (admis : plus de 0 et jusqu'à 100 %)"));
    }

    /// <summary>Publishes one SpO2 reading and waits until a worker has processed it: the index of that worker.</summary>
    private async Task<int> PublishSpO2Async(string device, DateTimeOffset time, double value)
    {
        var before = await CountAsync(Messages);
        await cluster.PublishWithingsAsync(device, time, SpO2, value);
        var deltas = await Poll.UntilAsync(
            async () => (await CountAsync(Messages)).Zip(before, (after, was) => after - was).ToArray(),
            d => d.Sum() >= 1,
            ScaleOutCluster.Deadline,
            $"the SpO2 reading of {time:HH:mm} processed");
        return Array.FindIndex(deltas, d => d > 0);
    }

    private const string LiveKeysRefreshes = "telesuivi_alert_live_keys_refreshes_total";

    // Counted each time a worker judges a reading beyond a warning limit against the stored ones.
    private const string VitalReplays = "telesuivi_alert_vital_replay_duration_seconds_count";

    private Task<IReadOnlyList<AlertView>> VitalLimitAlertsAsync(string patient) => AlertsAsync(patient, "vital-limit");

    private async Task<IReadOnlyList<AlertView>> AlertsAsync(string patient, string kind)
    {
        using var http = cluster.WebNodes[0].CreateClient();
        var snapshot = await http.GetFromJsonAsync<BoardSnapshot>(new Uri($"/api/alerts?closed=true&patient={patient}", UriKind.Relative), Ct);
        return [.. snapshot!.Alerts.Where(a => a.Kind == kind)];
    }
}
