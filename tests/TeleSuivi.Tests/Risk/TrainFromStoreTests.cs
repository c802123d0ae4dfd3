using System.Text.Json;
using Microsoft.Extensions.Options;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Alerts;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Risk;

/// <summary>
/// Learning from outcomes, end to end on real stores: a data folder that a programme's months of readings and nurses'
/// outcomes filled → <c>train --from-store</c> (the real executable) → candidate and report → <c>model activate</c> →
/// the model <c>serve</c> loads, named by its checksum.
/// </summary>
public sealed class TrainFromStoreTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TrainFromStore_ProgrammeWithOutcomes_CandidateWithReportThatOnlyActivationMakesServed()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var onsets = await PlatformDataFolder.SeedAsync(bed, patients: 120, days: 200, seed: 77);
        Assert.True(onsets >= 30, $"the seeded programme has {onsets} onsets");
        var candidate = Path.Combine(bed.DataDirectory, "candidate.zip");

        // A programme with its own cool-down: the candidate's operating points are counted with it, so its server takes them.
        var fourDays = new Dictionary<string, string> { ["TELESUIVI_ALERTS__RISK__COOLDOWN"] = "4.00:00:00" };
        var (exit, stdout, stderr) = await TeleSuiviProcess.RunToExitAsync(CommandTimeout, fourDays, "train", "--from-store", "--data", bed.DataDirectory, "--trees", "40", "--out", candidate);

        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("NOT active", stdout, StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine(stdout);
        // Alerts of one episode (a second confirmation within its recovery) make one onset.
        var labelled = int.Parse(System.Text.RegularExpressions.Regex.Match(stdout, @"(\d+) exacerbation onsets").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(labelled, 30, onsets);
        var sha = ModelEvaluation.Sha256Of(candidate);
        var report = ActiveModel.EvaluationFolderOf(candidate);
        using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(report, EvaluationReport.JsonFile), Ct)))
        {
            Assert.Equal(sha, json.RootElement.GetProperty("ModelSha256").GetString());
            var scorers = json.RootElement.GetProperty("Scorers").EnumerateArray().ToList();
            Assert.Equal(["model", "model without environment", "NEWS2", "threshold rules", "random alerts"], scorers.Select(s => s.GetProperty("Name").GetString()));
            Assert.True(json.RootElement.GetProperty("Exacerbations").GetInt32() > 0);
            Assert.Equal((EpisodePolicy.PlatformDefault with { CoolDown = TimeSpan.FromDays(4) }).Describe(), json.RootElement.GetProperty("AlertPolicy").GetString());
        }

        var markdown = await File.ReadAllTextAsync(Path.Combine(report, EvaluationReport.MarkdownFile), Ct);
        Assert.Contains("programme's own data", markdown, StringComparison.Ordinal);
        Assert.Contains(sha, markdown, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(report, EvaluationReport.CalibrationPlot)));

        // Trained is not active: the server still loads the shipped model.
        Assert.NotEqual(sha, LoadedSha(bed.DataDirectory));

        var (activated, activateOut, activateErr) = await TeleSuiviProcess.RunToExitAsync(CommandTimeout, "model", "activate", candidate, "--data", bed.DataDirectory);
        Assert.True(activated == 0, activateErr);
        Assert.Contains(sha, activateOut, StringComparison.Ordinal);
        Assert.Equal(sha, LoadedSha(bed.DataDirectory));

        var audit = new AuditLog(bed.DataDirectory, TimeProvider.System);
        var entry = Assert.Single(await audit.ListAsync(new AuditQuery(), Ct), r => r.Entry.Action == "model.activate").Entry;
        Assert.Equal(("ok", $"model/{sha}"), (entry.Outcome, entry.Resource));
        Assert.StartsWith("cli:", entry.Actor, StringComparison.Ordinal);
        Assert.Contains(candidate, entry.Detail, StringComparison.Ordinal);

        await using var server = TeleSuiviProcess.Start("serve", dataDirectory: bed.DataDirectory, environment: fourDays);
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        using var http = server.CreateClient();
        using var health = JsonDocument.Parse(await http.GetStringAsync(new Uri("/health/ready", UriKind.Relative), Ct));
        var risk = health.RootElement.GetProperty("checks").GetProperty("risk").GetProperty("description").GetString();
        Assert.Contains($"SHA-256 {sha[..12]}", risk, StringComparison.Ordinal);
        Assert.Contains("activated", risk, StringComparison.Ordinal);
        Assert.Contains("one alert per 4.00:00:00 at most", risk, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrainFromStore_TooFewOutcomes_RefusesWithTheMinimum()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var onsets = await PlatformDataFolder.SeedAsync(bed, patients: 8, days: 60, seed: 5);
        Assert.True(onsets < 30);

        var (exit, _, stderr) = await TeleSuiviProcess.RunToExitAsync(CommandTimeout, "train", "--from-store", "--data", bed.DataDirectory, "--trees", "5", "--out", Path.Combine(bed.DataDirectory, "m.zip"));

        Assert.Equal(1, exit);
        Assert.Contains($"{onsets} confirmed exacerbation onset(s)", stderr, StringComparison.Ordinal);
        Assert.Contains("at least 30 are needed", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(bed.DataDirectory, "m.zip")));
    }

    private static string LoadedSha(string dataDirectory)
    {
        using var model = new RiskModel(Options.Create(new StoreOptions { DataDirectory = dataDirectory }));
        Assert.Null(model.Load(new RiskOptions { Enabled = true }));
        return model.Sha256;
    }
}
