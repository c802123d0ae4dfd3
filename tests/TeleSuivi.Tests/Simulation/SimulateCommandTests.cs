using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Simulation;

/// <summary><c>telesuivi simulate</c> against a real mosquitto and a real <c>telesuivi serve</c>.</summary>
public sealed class SimulateCommandTests(ExternalServices services)
{
    [Fact]
    public async Task Simulate_RegistersCohortAndPublishes_EveryMessageStoredWithoutDeadLetters()
    {
        await using var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')]);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var seed = Random.Shared.Next(1, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);

        var run = await TeleSuiviProcess.RunToExitAsync(
            TimeSpan.FromSeconds(90),
            "simulate", "--broker", services.MqttUrl.ToString().TrimEnd('/'), "--patients", "8", "--seed", seed,
            "--register-with", host.BaseUrl.ToString(), "--history-days", "2", "--clock-speed", "200000", "--duration", "5");

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains("Simulator registered 8 patients", run.Output, StringComparison.Ordinal);
        var patients = Enumerable.Range(1, 8).Select(i => $"Patient/sim-{i:D5}").ToHashSet(StringComparer.Ordinal);
        var stored = await Poll.UntilAsync(
            async () => (await StoredData.ObservationsAsync(host.DataDirectory)).Where(o => patients.Contains(o.Subject?.Reference ?? string.Empty)).ToList(),
            list => list.Count >= 8 * 2 * 2,
            TimeSpan.FromSeconds(30),
            "two days of readings of 8 simulated patients");
        Assert.Equal(patients.Count, stored.Select(o => o.Subject!.Reference).Distinct().Count());
        Assert.Contains(stored, o => o.Code.Coding[0].Code == "85354-9");
        var environment = (await StoredData.ObservationsAsync(host.DataDirectory)).Where(o => o.Subject?.Reference?.StartsWith("Location/", StringComparison.Ordinal) == true).ToList();
        Assert.Contains(environment, o => o.Code.Coding[0].Code == "ambient-pm25");
        Assert.Contains(environment, o => o.Code.Coding[0].Code == "ambient-temperature");
        var simulatedLetters = (await StoredData.DeadLettersAsync(host.BaseUrl)).Where(l => l.GetProperty("topic").GetString()!.Contains("/sim-", StringComparison.Ordinal)).ToList();
        Assert.Empty(simulatedLetters);
    }

    [Fact]
    public async Task Simulate_WithMalformedBroker_ExitsWithOneLineError()
    {
        var run = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(30), "simulate", "--broker", "http://x");

        Assert.Equal(3, run.ExitCode);
        Assert.StartsWith("error: broker 'http://x' has scheme 'http'", run.Error, StringComparison.Ordinal);
    }
}
