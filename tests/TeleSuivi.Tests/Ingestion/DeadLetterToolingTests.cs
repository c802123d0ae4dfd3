using System.Globalization;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Ingestion;

/// <summary>The dead-letter tooling an operator uses: the CLI against a running server, and the metrics.</summary>
public sealed class DeadLetterToolingTests(ExternalServices services)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task DeadLetterCommands_ListShowReplayAndImport_WorkAgainstRunningServer()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        var device = $"d-{id}";
        await using var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')]);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var server = host.BaseUrl.ToString().TrimEnd('/');
        var topic = $"telesuivi/v1/devices/nosuchvendor/{device}";

        await MosquittoClients.PublishAsync(services.MqttUrl, topic, "{\"hr\": 71}");
        var letter = await Poll.UntilAsync(
            async () => (await StoredData.DeadLettersAsync(host.BaseUrl)).FirstOrDefault(l => l.GetProperty("topic").GetString() == topic),
            l => l.ValueKind != System.Text.Json.JsonValueKind.Undefined,
            Deadline,
            "the message to be dead-lettered");
        var letterId = letter.GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture);

        var list = await TeleSuiviProcess.RunToExitAsync(Deadline, "deadletter", "list", "--server", server, "--reason", "unknown-manufacturer", "--limit", "1000");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains(device, list.Output, StringComparison.Ordinal);
        Assert.Contains("unknown-manufacturer", list.Output, StringComparison.Ordinal);

        var show = await TeleSuiviProcess.RunToExitAsync(Deadline, "deadletter", "show", letterId, "--server", server);
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("no profile in ingest/nosuchvendor/", show.Output, StringComparison.Ordinal);
        Assert.Contains("{\\u0022hr\\u0022: 71}", show.Output, StringComparison.Ordinal);

        var replay = await TeleSuiviProcess.RunToExitAsync(Deadline, "deadletter", "replay", letterId, "--server", server);
        Assert.Equal(0, replay.ExitCode);
        Assert.Contains("Replayed 0 letter(s)", replay.Output, StringComparison.Ordinal);
        Assert.Contains("unknown-manufacturer: 1", replay.Output, StringComparison.Ordinal);

        using var http = host.CreateClient();
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Matches("telesuivi_dead_letters_pending\\{reason=\"unknown-manufacturer\"\\} [1-9]", metrics);
        Assert.Contains("telesuivi_broker_connected 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImportCommand_WithInvalidBundle_ReportsEachProblemAndExitsNonZero()
    {
        await using var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')]);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var file = Path.Combine(host.DataDirectory, "bad-bundle.json");
        await File.WriteAllTextAsync(file, """
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "resource": { "resourceType": "DeviceUseStatement", "id": "u1", "status": "active",
                              "subject": { "reference": "Patient/nobody" }, "device": { "reference": "Device/nothing" },
                              "timingPeriod": { "start": "2026-01-01T00:00:00Z" } } },
              { "resource": { "resourceType": "Observation", "id": "o1", "status": "final", "code": { "text": "x" } } } ] }
            """, TestContext.Current.CancellationToken);

        var result = await TeleSuiviProcess.RunToExitAsync(Deadline, "import", file, "--server", host.BaseUrl.ToString());

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("400", result.Error, StringComparison.Ordinal);
        Assert.Contains("Patient/nobody is neither in this Bundle nor registered", result.Error, StringComparison.Ordinal);
        Assert.Contains("Device/nothing is neither in this Bundle nor registered", result.Error, StringComparison.Ordinal);
        Assert.Contains("Observation is not accepted", result.Error, StringComparison.Ordinal);
    }
}
