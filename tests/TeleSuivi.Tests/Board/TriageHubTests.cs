using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Server.Board;

namespace TeleSuivi.Tests.Board;

/// <summary>
/// The triage hub and the alert API on a real running host: readings published over MQTT to the real mosquitto,
/// boards connected with the .NET SignalR client.
/// </summary>
public sealed class TriageHubTests(BoardHost host) : IClassFixture<BoardHost>
{
    private const int SpO2 = 54;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hub_ReadingCrossingHardLimitOverMqtt_PushesAlertToConnectedBoard()
    {
        var (patient, device) = await host.RegisterPatientAsync();
        await using var board = host.Hub();
        var pushed = Channel.CreateUnbounded<AlertView>();
        board.On<AlertView>(nameof(ITriageClient.AlertChanged), alert => pushed.Writer.TryWrite(alert));
        await board.StartAsync(Ct);
        var snapshot = await board.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false, Ct);

        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 84);

        var alert = await NextAsync(pushed, a => a.PatientId == patient);
        Assert.Equal("vital-limit", alert.Kind);
        Assert.Equal("spo2", alert.Subject);
        Assert.Equal("critical", alert.Severity);
        Assert.Equal("new", alert.State);
        Assert.Contains("88 %", alert.Reason.En, StringComparison.Ordinal);
        Assert.Contains("88 %", alert.Reason.Fr, StringComparison.Ordinal);
        Assert.Equal(84, Assert.Single(alert.Evidence).Value);
        Assert.False(string.IsNullOrEmpty(alert.Evidence[0].ObservationId));
        Assert.True(alert.Version > snapshot.Version);
        Assert.Equal("Jeanne Martin", alert.PatientName);
    }

    [Fact]
    public async Task Alerts_OfAnotherTeamsPatient_AreNeitherPushedListedNorActionable()
    {
        var (patient, device) = await host.RegisterPatientAsync();
        await using var ownTeam = host.Hub("nina");
        await using var otherTeam = host.Hub("oscar", team: "south");
        var pushedToOwn = Channel.CreateUnbounded<AlertView>();
        var pushedToOther = Channel.CreateUnbounded<AlertView>();
        ownTeam.On<AlertView>(nameof(ITriageClient.AlertChanged), alert => pushedToOwn.Writer.TryWrite(alert));
        otherTeam.On<AlertView>(nameof(ITriageClient.AlertChanged), alert => pushedToOther.Writer.TryWrite(alert));
        await ownTeam.StartAsync(Ct);
        await otherTeam.StartAsync(Ct);

        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 84);

        // The patient's team is pushed the alert; by then the other board had its chance to receive it too.
        var alert = await NextAsync(pushedToOwn, a => a.PatientId == patient);
        Assert.DoesNotContain(ReadAll(pushedToOther), a => a.PatientId == patient);
        var otherSnapshot = await otherTeam.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false, Ct);
        Assert.DoesNotContain(otherSnapshot.Alerts, a => a.PatientId == patient);

        var south = await host.ClientOfAsync("oscar", "south");
        Assert.DoesNotContain((await south.GetFromJsonAsync<BoardSnapshot>($"/api/alerts?patient={patient}", BoardHost.Json, Ct))!.Alerts, a => a.Id == alert.Id);
        Assert.Equal(HttpStatusCode.Forbidden, (await south.GetAsync($"/api/alerts/{alert.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.PostAsync($"/api/alerts/{alert.Id}/claim", "oscar", team: "south")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await south.GetAsync($"/api/patients/{patient}/timeline", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await south.GetAsync($"/patients/{patient}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await (await host.ClientOfAsync("nina")).GetAsync($"/patients/{patient}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync($"/api/alerts/{alert.Id}/claim", "nina")).StatusCode);
    }

    private static List<AlertView> ReadAll(Channel<AlertView> channel)
    {
        var all = new List<AlertView>();
        while (channel.Reader.TryRead(out var alert))
        {
            all.Add(alert);
        }

        return all;
    }

    [Fact]
    public async Task Hub_BoardReconnectingAfterMissedChanges_ResynchronisesFromSnapshot()
    {
        var (patient, device) = await host.RegisterPatientAsync();
        await using var board = host.Hub();
        await board.StartAsync(Ct);
        var before = await board.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false, Ct);
        await board.StopAsync(Ct);

        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 83);
        var raised = await host.WaitForAlertAsync(patient, a => a.Subject == "spo2");
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync($"/api/alerts/{raised.Id}/claim", "alice")).StatusCode);

        await board.StartAsync(Ct);
        var after = await board.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false, Ct);
        var seen = Assert.Single(after.Alerts, a => a.Id == raised.Id);
        Assert.Equal(await host.ActorOfAsync("alice"), seen.ClaimedBy);
        Assert.Equal("claimed", seen.State);
        Assert.True(after.Version >= seen.Version && seen.Version > before.Version);
    }

    [Fact]
    public async Task Api_TwoNursesClaimAtOnce_ExactlyOneWinsAndTheOtherLearnsWho()
    {
        var (patient, device) = await host.RegisterPatientAsync();
        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 82);
        var alert = await host.WaitForAlertAsync(patient, a => a.Subject == "spo2");

        var responses = await Task.WhenAll(
            host.PostAsync($"/api/alerts/{alert.Id}/claim", "alice"),
            host.PostAsync($"/api/alerts/{alert.Id}/claim", "bob"));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        var winner = (await responses.Single(r => r.IsSuccessStatusCode).Content.ReadFromJsonAsync<AlertView>(BoardHost.Json, Ct))!.ClaimedBy;
        var problem = JsonDocument.Parse(await responses.Single(r => !r.IsSuccessStatusCode).Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Contains($"claimed by {winner}", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(winner, problem.GetProperty("claimedBy").GetString());
    }

    [Fact]
    public async Task Api_WorkflowToResolution_IsOnThePatientTimeline()
    {
        var (patient, device) = await host.RegisterPatientAsync();
        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-2), SpO2, 81);
        var alert = await host.WaitForAlertAsync(patient, a => a.Subject == "spo2");

        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync($"/api/alerts/{alert.Id}/claim", "alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync($"/api/alerts/{alert.Id}/acknowledge", "alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync($"/api/alerts/{alert.Id}/calls", "alice", new { summary = "breathless, oximeter on a cold finger", reached = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.PostAsync($"/api/alerts/{alert.Id}/resolve", "bob", new { outcome = "false-alarm" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.PostAsync($"/api/alerts/{alert.Id}/resolve", "alice", new { outcome = "maybe" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.PostAsync($"/api/alerts/{alert.Id}/resolve", "alice", new { outcome = "false-alarm", note = "cold finger" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.PostAsync("/api/alerts/999999999/claim", "alice")).StatusCode);

        var timeline = JsonDocument.Parse(await host.Http.GetStringAsync($"/api/patients/{patient}/timeline", Ct)).RootElement.GetProperty("entries");
        var entries = timeline.EnumerateArray().Select(e => (Type: e.GetProperty("type").GetString(), What: e.GetProperty("what").GetString(), Actor: e.GetProperty("actor").GetString())).ToList();
        Assert.Contains(entries, e => e.Type == "reading" && e.What == "59408-5");
        Assert.Contains(entries, e => e.Type == "alert" && e.What == "critical");
        var alice = await host.ActorOfAsync("alice");
        Assert.Contains(entries, e => e.Type == "action" && e.What == "resolved" && e.Actor == alice);
        Assert.Contains(entries, e => e.Type == "action" && e.What == "call" && e.Actor == alice);
        Assert.Empty((await host.GetBoardAsync(patient)).Alerts);
        var closed = Assert.Single((await host.GetBoardAsync(patient, closed: true)).Alerts);
        Assert.Equal("false-alarm", closed.Outcome);
    }

    [Fact]
    public async Task Api_PhysicianThresholdForCopdPatient_ReplacesDefaultsForNextReadings()
    {
        var (patient, device) = await host.RegisterPatientAsync("Bernard", "13645005");
        var info = JsonDocument.Parse(await host.Http.GetStringAsync($"/api/patients/{patient}", Ct)).RootElement;
        var spo2 = info.GetProperty("thresholds").EnumerateArray().Single(t => t.GetProperty("vital").GetString() == "spo2");
        Assert.Equal(85, spo2.GetProperty("criticalLow").GetDouble());
        Assert.Equal("13645005", info.GetProperty("conditions")[0].GetProperty("code").GetString());

        using var invalid = await host.Http.PutAsJsonAsync($"/api/patients/{patient}/thresholds/spo2", new { criticalLow = 88, low = 85 }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        using var set = await host.Http.PutAsJsonAsync($"/api/patients/{patient}/thresholds/spo2", new { criticalLow = 80, low = 83, reason = "usual SpO2 86-88 %" }, Ct);
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal("patient", JsonDocument.Parse(await set.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("source").GetString());

        // 84 % would be critical on the COPD defaults (< 85): with the physician's limits, only 79 % alerts.
        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-3), SpO2, 84);
        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-2), SpO2, 79);

        var alert = await host.WaitForAlertAsync(patient, a => a.Subject == "spo2");
        Assert.Equal("critical", alert.Severity);
        Assert.Equal([79.0], alert.Evidence.Select(e => e.Value!.Value));
        Assert.Contains("80 %", alert.Reason.En, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_UnknownPatientOrBadRange_AnswersClearErrors()
    {
        using var unknown = await host.Http.GetAsync("/api/patients/nobody/trends", Ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var (patient, _) = await host.RegisterPatientAsync();
        using var badRange = await host.Http.GetAsync($"/api/patients/{patient}/trends?range=1y", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, badRange.StatusCode);
        Assert.Contains("24h, 7d, 30d, 90d", await badRange.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    private static async Task<AlertView> NextAsync(Channel<AlertView> pushed, Func<AlertView, bool> match)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(BoardHost.Deadline);
        while (true)
        {
            var alert = await pushed.Reader.ReadAsync(deadline.Token);
            if (match(alert))
            {
                return alert;
            }
        }
    }
}
