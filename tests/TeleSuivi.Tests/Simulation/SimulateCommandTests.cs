using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Simulation;

/// <summary><c>telesuivi simulate</c> against a real mosquitto (its own) and a real <c>telesuivi serve</c>.</summary>
public sealed class SimulateCommandTests
{
    [Fact]
    public async Task Simulate_RegistersCohortAndPublishesEveryFormat_EveryMessageStoredWithoutDeadLetters()
    {
        // Its own mosquitto: 20 s of a 60-patient cohort would reach every other test's server on the shared one.
        await using var broker = await PrivateMosquitto.StartAsync();
        await using var host = TeleSuiviProcess.Start("serve", ["--broker", broker.BrokerOption]);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        const string seed = "4242";

        // The history takes ~2 s to publish on an idle machine, several times that on a loaded one: the duration
        // leaves room for it (what follows is real time, a few readings). The whole test took up to 85 s in full
        // parallel runs on 2 loaded cores, against a deadline of 90 s for this run alone: hence one well above.
        var run = await TeleSuiviProcess.RunToExitAsync(
            TimeSpan.FromMinutes(3),
            "simulate", "--broker", broker.BrokerOption, "--patients", "60", "--seed", seed,
            "--register-with", host.BaseUrl.ToString(), "--history-days", "4", "--clock-speed", "400000", "--duration", "20");

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains("Simulator registered 60 patients", run.Output, StringComparison.Ordinal);
        var patients = Enumerable.Range(1, 60).Select(i => $"Patient/sim-{i:D5}").ToHashSet(StringComparer.Ordinal);
        await Poll.UntilAsync(() => StoredData.PatientsWithObservationsAsync(host.DataDirectory), count => count >= 60, TimeSpan.FromSeconds(60), "readings of all 60 simulated patients");
        await Poll.UntilAsync(() => InFlightAsync(host), inFlight => inFlight == 0, TimeSpan.FromSeconds(60), "the pipeline to drain");
        var stored = (await StoredData.ObservationsAsync(host.DataDirectory)).Where(o => patients.Contains(o.Subject?.Reference ?? string.Empty)).ToList();
        Assert.True(stored.Count >= 60 * 2 * 2, $"{stored.Count} observations for two days of 60 patients");
        Assert.Equal(patients.Count, stored.Select(o => o.Subject!.Reference).Distinct().Count());
        Assert.Contains(stored, o => o.Code.Coding[0].Code == "85354-9");

        // Every manufacturer profile of ingest/ and every simulated GATT characteristic was published and decoded.
        var sources = stored.Select(o => o.Meta?.Source?["https://telesuivi.org/fhir/ingest/".Length..] ?? string.Empty).ToHashSet(StringComparer.Ordinal);
        var manufacturers = Directory.GetDirectories(RepositoryPaths.Ingest).Where(d => File.Exists(Path.Combine(d, "profile.json"))).Select(Path.GetFileName);
        Assert.All(manufacturers, manufacturer => Assert.Contains(manufacturer!, sources));
        Assert.Superset(new HashSet<string>(StringComparer.Ordinal) { "gatt/2a35", "gatt/2a37", "gatt/2a5e", "gatt/2a1c", "gatt/2a9d", "gatt/2a18" }, sources.Where(s => s.StartsWith("gatt/", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal));
        var environment = (await StoredData.ObservationsAsync(host.DataDirectory)).Where(o => o.Subject?.Reference?.StartsWith("Location/", StringComparison.Ordinal) == true).ToList();
        Assert.Contains(environment, o => o.Code.Coding[0].Code == "ambient-pm25");
        Assert.Contains(environment, o => o.Code.Coding[0].Code == "ambient-temperature");
        var simulatedLetters = (await StoredData.DeadLettersAsync(host.BaseUrl)).Where(l => l.GetProperty("topic").GetString()!.Contains("/sim-", StringComparison.Ordinal)).ToList();
        Assert.Empty(simulatedLetters);
    }

    private static async Task<long> InFlightAsync(TeleSuiviProcess host)
    {
        using var http = host.CreateClient();
        var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/status", UriKind.Relative)));
        var ingest = status.RootElement.GetProperty("ingest");
        return ingest.GetProperty("inFlight").GetInt64() + ingest.GetProperty("queued").GetInt64();
    }

    [Fact]
    public async Task Simulate_WithMalformedBroker_ExitsWithOneLineError()
    {
        var run = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(30), "simulate", "--broker", "http://x");

        Assert.Equal(3, run.ExitCode);
        Assert.StartsWith("error: broker 'http://x' has scheme 'http'", run.Error, StringComparison.Ordinal);
    }
}
