using System.Net;
using System.Net.Http.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Server.Board;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// Two ingest workers and two web nodes as separate processes against one mosquitto, InfluxDB, Redis and PostgreSQL:
/// the broker shares the readings out, nothing is lost or stored twice, and the boards of any web node see what
/// any node did.
/// </summary>
[Collection(ScaleOutGroup.Name)]
public sealed partial class ScaleOutTests(ScaleOutCluster cluster) : IClassFixture<ScaleOutCluster>
{
    private const string Messages = "telesuivi_ingest_messages_total";
    private const int Weight = 1;
    private const int SpO2 = 54;
    private const int HeartRate = 11;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readings_SharedByTwoIngestWorkers_AreEachStoredExactlyOnce()
    {
        const int PerPatient = 50;
        var patients = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => cluster.RegisterPatientAsync()));
        var before = await Task.WhenAll(cluster.Workers.Select(w => ScaleOutCluster.MetricAsync(w, Messages)));
        var start = DateTimeOffset.UtcNow.AddHours(-2);

        for (var i = 0; i < PerPatient; i++)
        {
            foreach (var (_, device) in patients)
            {
                await cluster.PublishWithingsAsync(device, start.AddMinutes(i), Weight, 70 + (i / 10.0));
            }
        }

        // Every reading is in the store once, read back through the other web node than the one boards use below.
        var total = patients.Length * PerPatient;
        var stored = await Poll.UntilAsync(
            async () => await Task.WhenAll(patients.Select(p => ScaleOutCluster.ObservationIdsAsync(cluster.WebNodes[0], p.Patient))),
            ids => ids.Sum(i => i.Count) >= total,
            ScaleOutCluster.Deadline,
            $"{total} observations stored");
        Assert.All(stored, ids => Assert.Equal(PerPatient, ids.Distinct().Count()));
        Assert.Equal(total, stored.Sum(ids => ids.Count));

        // Each message was processed by exactly one worker, and both took a share.
        var processed = await Poll.UntilAsync(
            async () => (await Task.WhenAll(cluster.Workers.Select(w => ScaleOutCluster.MetricAsync(w, Messages)))).Zip(before, (after, b) => after - b).ToArray(),
            deltas => deltas.Sum() >= total,
            ScaleOutCluster.Deadline,
            $"{total} messages processed");
        Assert.Equal(total, processed.Sum());
        Assert.All(processed, share => Assert.True(share > 0, $"a worker processed no message: {string.Join(", ", processed)}"));
    }

    [Fact]
    public async Task Alert_RaisedOnAnIngestWorker_ReachesBoardConnectedToAnotherWebNode()
    {
        var patients = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => cluster.RegisterPatientAsync()));
        var ids = patients.Select(p => p.Patient).ToHashSet(StringComparer.Ordinal);
        await using var board = ScaleOutCluster.Board(cluster.WebNodes[1]);
        var pushed = Channel.CreateUnbounded<AlertView>();
        board.On<AlertView>(nameof(ITriageClient.AlertChanged), alert => pushed.Writer.TryWrite(alert));
        await board.StartAsync(Ct);
        // The handshake ends before the hub's OnConnectedAsync has put the connection in its groups (through Redis here),
        // and a push to a group it has not joined yet is not for it. An invocation is dispatched only once that is done,
        // so the snapshot the board takes first (as the real board does) marks the point from which pushes reach it.
        await board.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false, Ct);
        var before = await Task.WhenAll(cluster.Workers.Select(w => ScaleOutCluster.MetricAsync(w, Messages)));

        foreach (var (_, device) in patients)
        {
            await cluster.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 84);
        }

        // Neither web node runs an alert engine: every alert was raised by a worker, with no board connected to it.
        var alerts = new Dictionary<string, AlertView>(StringComparer.Ordinal);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(ScaleOutCluster.Deadline);
        while (alerts.Count < ids.Count)
        {
            AlertView alert;
            try
            {
                alert = await NextAsync(pushed, $"alerts of {ids.Count} patients on web node 2 (got {alerts.Count})", deadline.Token);
            }
            catch (TimeoutException timeout)
            {
                throw new TimeoutException($"{await StoredAlertsAsync(ids.Except(alerts.Keys))}\n{timeout.Message}", timeout);
            }

            if (ids.Contains(alert.PatientId))
            {
                alerts[alert.PatientId] = alert;
            }
        }

        Assert.All(alerts.Values, a => Assert.Equal(("vital-limit", "spo2", "critical"), (a.Kind, a.Subject, a.Severity)));
        // Counted once each (and counted before the test ends, so the other test's baseline is not disturbed).
        var shares = await Poll.UntilAsync(
            async () => (await Task.WhenAll(cluster.Workers.Select(w => ScaleOutCluster.MetricAsync(w, Messages)))).Zip(before, (after, b) => after - b).ToArray(),
            deltas => deltas.Sum() >= ids.Count,
            ScaleOutCluster.Deadline,
            $"{ids.Count} messages counted");
        Assert.Equal(ids.Count, shares.Sum());
        Assert.All(shares, share => Assert.True(share > 0, $"one worker raised every alert: {string.Join(", ", shares)}"));

        // A claim made on web node 1 is stored in PostgreSQL and pushed, through Redis, to the board on web node 2.
        var claimed = alerts.Values.First();
        using var http = cluster.WebNodes[0].CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync(new Uri($"/api/alerts/{claimed.Id}/claim", UriKind.Relative), JsonContent.Create(new { }), Ct)).StatusCode);
        while (true)
        {
            var change = await NextAsync(pushed, $"the claim of alert {claimed.Id} on web node 2", deadline.Token);
            if (change.Id == claimed.Id && change.State == "claimed")
            {
                Assert.True(change.Version > claimed.Version);
                break;
            }
        }

        var snapshot = await board.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false, Ct);
        Assert.Equal("claimed", Assert.Single(snapshot.Alerts, a => a.Id == claimed.Id).State);
    }

    [Fact]
    public async Task BoardAndAlertApi_OnIngestWorker_AreNotServed()
    {
        using var worker = cluster.Workers[0].CreateClient();
        using var web = cluster.WebNodes[0].CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await worker.GetAsync(new Uri("/api/alerts", UriKind.Relative), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await worker.PostAsync(new Uri("/hubs/triage/negotiate?negotiateVersion=1", UriKind.Relative), null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await worker.GetAsync(new Uri("/metrics", UriKind.Relative), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await web.GetAsync(new Uri("/api/alerts", UriKind.Relative), Ct)).StatusCode);
    }

    /// <summary>Whether the patients' alerts were raised and stored (then the push was lost) or never raised, as web node 1 serves them.</summary>
    private async Task<string> StoredAlertsAsync(IEnumerable<string> patients)
    {
        using var http = cluster.WebNodes[0].CreateClient();
        var all = await http.GetStringAsync(new Uri("/api/alerts", UriKind.Relative), Ct);
        return string.Join("; ", patients.Select(p => all.Contains(p, StringComparison.Ordinal) ? $"{p} has an alert in /api/alerts (raised, push lost)" : $"{p} has no alert in /api/alerts (never raised)"));
    }

    private async Task<AlertView> NextAsync(Channel<AlertView> pushed, string what, CancellationToken deadline)
    {
        try
        {
            return await pushed.Reader.ReadAsync(deadline);
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            // What the nodes said beyond "info" is what explains a missing alert (a dead letter, a store error, a lost registry change).
            var logs = cluster.All.Select((node, i) => $"node {i}:\n" + string.Join('\n',
                node.Output.Split('\n').Where(line => !line.Contains(" info: ", StringComparison.Ordinal) && !line.Contains(" dbug: ", StringComparison.Ordinal) && !line.StartsWith("      ", StringComparison.Ordinal)).TakeLast(25)));
            throw new TimeoutException($"{what}: not pushed within {ScaleOutCluster.Deadline.TotalSeconds:F0} s\n{string.Join('\n', logs)}");
        }
    }
}
