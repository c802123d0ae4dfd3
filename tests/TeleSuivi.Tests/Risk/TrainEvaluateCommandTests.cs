using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server.CommandLine;

namespace TeleSuivi.Tests.Risk;

public sealed class TrainEvaluateCommandTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-train-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData(-0.0002, 0.001, "0.000 ± 0.001")]
    [InlineData(0.0, 0.001, "0.000 ± 0.001")]
    [InlineData(0.0114, 0.0021, "+0.011 ± 0.002")]
    [InlineData(-0.0094, 0.0019, "-0.009 ± 0.002")]
    public void SweepPairedColumn_DifferenceRoundingToZero_PrintedWithoutASign(double difference, double standardError, string expected)
    {
        Assert.Equal(expected, TrainCommand.PairedColumn(difference, standardError));
    }

    [Fact]
    public async Task InvokeAsync_TrainThenEvaluate_ModelFileAndReportWithPlots()
    {
        var model = Path.Combine(directory, "model.zip");
        var report = Path.Combine(directory, "report");
        Assert.Equal(0, await TeleSuiviCommandLine.InvokeAsync(["train", "--patients", "60", "--days", "60", "--seed", "4", "--trees", "10", "--out", model]));
        Assert.True(new FileInfo(model).Length > 1000);

        Assert.Equal(0, await TeleSuiviCommandLine.InvokeAsync(["evaluate", "--model", model, "--patients", "40", "--days", "60", "--seed", "9", "--out", report]));
        var markdown = await File.ReadAllTextAsync(Path.Combine(report, EvaluationReport.MarkdownFile), TestContext.Current.CancellationToken);
        Assert.Contains($"![Calibration plot]({EvaluationReport.CalibrationPlot})", markdown, StringComparison.Ordinal);
        Assert.Contains($"]({EvaluationReport.OperatingPointsPlot})", markdown, StringComparison.Ordinal);
        Assert.Contains($"]({EvaluationReport.PolicyOperatingPointsPlot})", markdown, StringComparison.Ordinal);
        Assert.Contains("## Oracle ceiling", markdown, StringComparison.Ordinal);
        Assert.Contains("| AUROC 0.80 not ruled out by the cohort: oracle AUROC (ground truth, noise-free) |", markdown, StringComparison.Ordinal);
        foreach (var name in new[] { "| model |", "| model without environment |", "| NEWS2 |", "| threshold rules |", "| random alerts |", $"| {ModelEvaluation.OracleName} |" })
        {
            Assert.Contains(name, markdown, StringComparison.Ordinal);
        }

        byte[] png = [0x89, (byte)'P', (byte)'N', (byte)'G'];
        foreach (var plot in new[] { EvaluationReport.CalibrationPlot, EvaluationReport.OperatingPointsPlot, EvaluationReport.PolicyOperatingPointsPlot })
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(report, plot), TestContext.Current.CancellationToken);
            Assert.True(bytes.Length > 10_000, $"{plot}: {bytes.Length} bytes");
            Assert.Equal(png, bytes[..4]);
        }

        using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(report, EvaluationReport.JsonFile), TestContext.Current.CancellationToken));
        Assert.Equal(6, json.RootElement.GetProperty("Scorers").GetArrayLength());
        Assert.All(json.RootElement.GetProperty("Scorers").EnumerateArray(), s => Assert.Equal(EvaluationOptions.DefaultBudgets.Count, s.GetProperty("PolicyOperatingPoints").GetArrayLength()));
        Assert.True(json.RootElement.GetProperty("Ceiling").GetProperty("Events").GetInt32() > 0);
        Assert.Equal(EpisodePolicy.PlatformDefault.Describe(), json.RootElement.GetProperty("AlertPolicy").GetString());

        // Operating points counted with another cool-down say so, for a server configured with it.
        var threeDays = Path.Combine(directory, "three-days");
        Assert.Equal(0, await TeleSuiviCommandLine.InvokeAsync(["evaluate", "--model", model, "--patients", "40", "--days", "60", "--seed", "9", "--no-ablation", "--cool-down", "3", "--out", threeDays]));
        using var threeDaysJson = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(threeDays, EvaluationReport.JsonFile), TestContext.Current.CancellationToken));
        Assert.Equal((EpisodePolicy.PlatformDefault with { CoolDown = TimeSpan.FromDays(3) }).Describe(), threeDaysJson.RootElement.GetProperty("AlertPolicy").GetString());
        Assert.Contains("at most one alert per 3 days", await File.ReadAllTextAsync(Path.Combine(threeDays, EvaluationReport.MarkdownFile), TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(2, await TeleSuiviCommandLine.InvokeAsync(["evaluate", "--model", model, "--cool-down", "-1", "--out", threeDays]));

        // The gap analysis of the same model: the model and every part of the oracle, by kind of onset.
        var gap = Path.Combine(directory, "gap");
        Assert.Equal(0, await TeleSuiviCommandLine.InvokeAsync(["evaluate", "--gap-analysis", "--model", model, "--patients", "40", "--days", "60", "--seed", "9", "--out", gap]));
        var analysis = await File.ReadAllTextAsync(Path.Combine(gap, "gap-analysis.md"), TestContext.Current.CancellationToken);
        foreach (var row in Enum.GetValues<OracleView>().Select(GapAnalysis.OracleName).Prepend("model"))
        {
            Assert.Contains($"| {row} | 0.", analysis, StringComparison.Ordinal);
        }

        Assert.All(GapAnalysis.KindNames, kind => Assert.Contains(kind, analysis, StringComparison.Ordinal));
    }

    [Fact]
    public async Task InvokeAsync_EvaluateMissingModel_ErrorExitCode()
    {
        Assert.Equal(1, await TeleSuiviCommandLine.InvokeAsync(["evaluate", "--model", Path.Combine(directory, "none.zip"), "--patients", "10", "--days", "30", "--out", directory]));
        Assert.Equal(1, await TeleSuiviCommandLine.InvokeAsync(["evaluate", "--gap-analysis", "--model", Path.Combine(directory, "none.zip"), "--patients", "10", "--days", "30", "--out", directory]));
    }

    [Fact]
    public async Task InvokeAsync_TrainTooSmallCohort_UsageError() =>
        Assert.Equal(2, await TeleSuiviCommandLine.InvokeAsync(["train", "--patients", "3", "--out", Path.Combine(directory, "m.zip")]));
}
