using System.Net.Http.Json;
using TeleSuivi.Server.Board;
using TeleSuivi.Tests.Board;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Alerts;

/// <summary>
/// The alert engine's state across a real restart: <c>telesuivi serve</c> stopped (SIGTERM) and started again on the
/// same data folder, readings published over MQTT to the real mosquitto.
/// </summary>
public sealed class AlertRestartTests(ExternalServices services) : IAsyncLifetime
{
    private const int HeartRate = 11;
    private const int SpO2 = 54;

    private readonly string dataDirectory = Directory.CreateTempSubdirectory("telesuivi-restart-").FullName;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(dataDirectory, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Serve_RestartedInTheMiddleOfAWarningStreak_CountsTheReadingsBeforeTheRestart()
    {
        // Heart rate 120 is beyond the warning limit 110: a warning needs 3 readings in a row spanning 10 min.
        var now = DateTimeOffset.UtcNow;
        string patient, device;
        await using (var first = await StartAsync())
        {
            (patient, device) = await BoardHost.RegisterPatientAsync(first.BaseUrl, "Streak", "75011");
            await using var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);
            await BoardHost.PublishWithingsAsync(publisher, device, now.AddMinutes(-40), HeartRate, 120);
            await BoardHost.PublishWithingsAsync(publisher, device, now.AddMinutes(-30), HeartRate, 120);
            await WaitForObservationsAsync(first, patient, 2);
            Assert.Empty((await BoardAsync(first, patient)).Alerts);
            Assert.Equal(0, await first.StopAsync(BoardHost.Deadline));
        }

        await using var second = await StartAsync();
        await using (var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl))
        {
            await BoardHost.PublishWithingsAsync(publisher, device, now.AddMinutes(-20), HeartRate, 120);
        }

        var alert = await Poll.UntilAsync(
            async () => (await BoardAsync(second, patient)).Alerts.SingleOrDefault(),
            a => a is not null, BoardHost.Deadline, "the heart-rate warning after the restart");
        Assert.Equal(("heart-rate", "warning"), (alert!.Subject, alert.Severity));
        Assert.Contains("3 readings in a row", alert.Reason.En, StringComparison.Ordinal);
        Assert.Equal(3, alert.Evidence.Count);
    }

    [Fact]
    public async Task Serve_RestartedAfterAWarningEnded_ALateReadingOfItRaisesNothingAgain()
    {
        // SpO2 90 is beyond the warning limit 92: two in a row raised a warning, 96 ended it. After a restart, a reading
        // from the middle of that streak arrives late; it is the first of the vital since the start, so the stored
        // readings are replayed: they end within limits, and nothing is raised again.
        var now = DateTimeOffset.UtcNow;
        string patient, device;
        await using (var first = await StartAsync())
        {
            (patient, device) = await BoardHost.RegisterPatientAsync(first.BaseUrl, "Retard", "75011");
            await using var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);
            await BoardHost.PublishWithingsAsync(publisher, device, now.AddMinutes(-40), SpO2, 90);
            await BoardHost.PublishWithingsAsync(publisher, device, now.AddMinutes(-30), SpO2, 90);
            await Poll.UntilAsync(async () => (await BoardAsync(first, patient, closed: true)).Alerts, a => a.Count == 1, BoardHost.Deadline, "the SpO2 warning");
            await BoardHost.PublishWithingsAsync(publisher, device, now.AddMinutes(-20), SpO2, 96);
            await Poll.UntilAsync(async () => (await BoardAsync(first, patient, closed: true)).Alerts, a => a.Single().Status == "cleared", BoardHost.Deadline, "the SpO2 warning cleared");
            Assert.Equal(0, await first.StopAsync(BoardHost.Deadline));
        }

        await using var second = await StartAsync();
        await using (var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl))
        {
            // After it in the same message, a critical heart rate: once raised, the SpO2 reading has been judged.
            await BoardHost.PublishWithingsAsync(publisher, device, (now.AddMinutes(-35), SpO2, 90), (now.AddMinutes(-10), HeartRate, 150));
        }

        var alerts = await Poll.UntilAsync(
            async () => (await BoardAsync(second, patient, closed: true)).Alerts,
            a => a.Any(x => x.Subject == "heart-rate"), BoardHost.Deadline, "the critical heart rate after the restart");
        Assert.Equal("cleared", Assert.Single(alerts, a => a.Subject == "spo2").Status);
    }

    [Fact]
    public async Task Serve_RestartedBeforeTheEscalationTimer_StillEscalatesTheUnacknowledgedCriticalAlert()
    {
        await using (var first = await StartAsync())
        {
            var (patient, device) = await BoardHost.RegisterPatientAsync(first.BaseUrl, "Escalade", "75011");
            await using var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);
            await BoardHost.PublishWithingsAsync(publisher, device, DateTimeOffset.UtcNow, SpO2, 84);
            var raised = await Poll.UntilAsync(
                async () => (await BoardAsync(first, patient)).Alerts.SingleOrDefault(),
                a => a is not null, BoardHost.Deadline, "the critical SpO2 alert");
            Assert.Equal(0, await first.StopAsync(BoardHost.Deadline));
            Assert.Null(raised!.EscalatedAt);
        }

        var restartedAt = DateTimeOffset.UtcNow;
        await using var second = await StartAsync();
        var escalated = await Poll.UntilAsync(
            async () => (await BoardAsync(second, null)).Alerts.SingleOrDefault(),
            a => a?.EscalatedAt is not null, BoardHost.Deadline, "the escalation after the restart");
        Assert.Equal("escalated", escalated!.Status);
        Assert.True(escalated.EscalatedAt >= restartedAt, $"escalated at {escalated.EscalatedAt:O}, before the restart at {restartedAt:O}");
        Assert.Equal("system", await LastActorAsync(second, escalated.Id));
    }

    /// <summary>A critical alert escalates 10 s after it opened (time enough to stop before); sweeps every second.</summary>
    private async Task<TeleSuiviProcess> StartAsync()
    {
        var process = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')], dataDirectory, new Dictionary<string, string>
        {
            ["TELESUIVI_ALERTS__ESCALATECRITICALAFTER"] = "00:00:10",
            ["TELESUIVI_ALERTS__SWEEPINTERVAL"] = "00:00:01",
        });
        await process.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return process;
    }

    private static async Task<BoardSnapshot> BoardAsync(TeleSuiviProcess process, string? patient, bool closed = false)
    {
        using var http = process.CreateClient();
        var query = string.Join('&', new[] { patient is null ? null : "patient=" + patient, closed ? "closed=true" : null }.OfType<string>());
        return (await http.GetFromJsonAsync<BoardSnapshot>($"/api/alerts{(query.Length == 0 ? "" : "?" + query)}", BoardHost.Json))!;
    }

    private static async Task WaitForObservationsAsync(TeleSuiviProcess process, string patient, int count)
    {
        using var http = process.CreateClient();
        await Poll.UntilAsync(
            async () => (await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/fhir/Observation?subject=Patient/{patient}&_count=50")).TryGetProperty("entry", out var entries) ? entries.GetArrayLength() : 0,
            stored => stored >= count, BoardHost.Deadline, $"{count} stored Observations of {patient}");
    }

    private static async Task<string> LastActorAsync(TeleSuiviProcess process, long alertId)
    {
        using var http = process.CreateClient();
        var alert = await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/alerts/{alertId}");
        return alert.GetProperty("actions").EnumerateArray().Last().GetProperty("actor").GetString()!;
    }
}
