using System.Text.Json;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Risk;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Alerts;

/// <summary>How the risk alert thresholds follow the model: an alert budget picks one of its evaluated operating points.</summary>
public sealed class RiskThresholdsTests
{
    private static readonly string ShippedModel = Path.Combine(RepositoryPaths.Root, RiskOptions.ShippedModel);

    /// <summary>Operating points of a made-up report: raise-at falls as the budget grows.</summary>
    private static readonly ModelOperatingPoints Points = new("made-up/evaluation.json",
    [
        Point(0.0025, 0.09), Point(0.005, 0.055), Point(0.01, 0.033), Point(0.02, 0.02), Point(0.05, 0.0072), Point(0.1, 0.006),
    ], EpisodePolicy.PlatformDefault.Describe());

    private static OperatingPoint Point(double budget, double raiseAt) => new(budget, budget * 0.99, 100, 0.3, 30, 100, 100, 0.2, 0.05, raiseAt);

    [Fact]
    public void Resolve_DefaultBudget_RaiseAtOfTheOperatingPointAt005AndTheEvaluationsShape()
    {
        var thresholds = RiskThresholds.Resolve(new RiskPolicyOptions(), Points);

        Assert.Equal(0.05, thresholds.Budget);
        Assert.Equal(0.0072, thresholds.RaiseAt);
        Assert.Equal(EpisodePolicy.PlatformDefault.ScaledTo(0.0072) with { CriticalAt = 0.055 }, thresholds.Policy);
        Assert.Contains("0.05 alerts per patient-day of made-up/evaluation.json", thresholds.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_BudgetBetweenTwoEvaluatedOnes_TakesTheLargestNotAbove()
    {
        var thresholds = RiskThresholds.Resolve(new RiskPolicyOptions { AlertsPerPatientDay = 0.04 }, Points);

        Assert.Equal(0.02, thresholds.RaiseAt);
        Assert.Equal(0.02, thresholds.Evaluated!.Budget);
    }

    [Fact]
    public void Resolve_CriticalAt_RaiseAtOfABudgetTenTimesSmaller()
    {
        Assert.Equal(0.055, RiskThresholds.Resolve(new RiskPolicyOptions { AlertsPerPatientDay = 0.05 }, Points).CriticalAt);
        Assert.Equal(0.033, RiskThresholds.Resolve(new RiskPolicyOptions { AlertsPerPatientDay = 0.1 }, Points).CriticalAt);
    }

    [Fact]
    public void Resolve_TenTimesSmallerBudgetNotEvaluated_CriticalFromTheSmallestEvaluatedBudget()
    {
        var thresholds = RiskThresholds.Resolve(new RiskPolicyOptions { AlertsPerPatientDay = 0.01 }, Points);

        Assert.Equal((0.033, 0.09), (thresholds.RaiseAt, thresholds.CriticalAt));
    }

    [Fact]
    public void Resolve_BudgetBelowEveryEvaluatedOne_ConfigurationErrorNamingTheSmallest()
    {
        var error = Assert.Throws<ConfigurationException>(() => RiskThresholds.Resolve(new RiskPolicyOptions { AlertsPerPatientDay = 0.001 }, Points));

        Assert.Contains("below the smallest budget the model was evaluated at (0.0025", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-0.05)]
    [InlineData(1.5)]
    public void Resolve_BudgetNotARate_ConfigurationError(double budget)
    {
        var error = Assert.Throws<ConfigurationException>(() => RiskThresholds.Resolve(new RiskPolicyOptions { AlertsPerPatientDay = budget }, Points));

        Assert.Contains("Alerts:Risk:AlertsPerPatientDay", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ExplicitRaiseAt_WinsOverTheOperatingPoints()
    {
        var thresholds = RiskThresholds.Resolve(new RiskPolicyOptions { RaiseAt = 0.30 }, Points);

        Assert.Equal((0.30, 0.20, 0.60, EpisodePolicy.DefaultCoolDown), (thresholds.RaiseAt, thresholds.ClearBelow, thresholds.CriticalAt, thresholds.CoolDown));
        Assert.Null(thresholds.Budget);
        Assert.Contains("Alerts:Risk:RaiseAt", thresholds.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ExplicitClearBelowAndCriticalAt_WinOverTheDerivedOnes()
    {
        var thresholds = RiskThresholds.Resolve(new RiskPolicyOptions { ClearBelow = 0.001, CriticalAt = 0.2 }, Points);

        Assert.Equal((0.0072, 0.001, 0.2), (thresholds.RaiseAt, thresholds.ClearBelow, thresholds.CriticalAt));
    }

    /// <summary>
    /// Another cool-down changes how many alerts a raise-at spends: the thresholds follow only a report counted with
    /// the configured one, and the error says how to make one.
    /// </summary>
    [Fact]
    public void Resolve_CoolDownOtherThanTheReports_ConfigurationErrorNamingTheEvaluationToRun()
    {
        var error = Assert.Throws<ConfigurationException>(() => RiskThresholds.Resolve(new RiskPolicyOptions { CoolDown = TimeSpan.FromDays(2) }, Points));

        Assert.Contains("another risk alert policy (" + EpisodePolicy.PlatformDefault.Describe(), error.Message, StringComparison.Ordinal);
        Assert.Contains("--cool-down 2 for Alerts:Risk:CoolDown 2.00:00:00", error.Message, StringComparison.Ordinal);

        var counted = Points with { AlertPolicy = (EpisodePolicy.PlatformDefault with { CoolDown = TimeSpan.FromDays(2) }).Describe() };
        Assert.Equal(TimeSpan.FromDays(2), RiskThresholds.Resolve(new RiskPolicyOptions { CoolDown = TimeSpan.FromDays(2) }, counted).CoolDown);
    }

    [Fact]
    public void Resolve_ClearBelowAboveRaiseAt_ConfigurationError()
    {
        var error = Assert.Throws<ConfigurationException>(() => RiskThresholds.Resolve(new RiskPolicyOptions { ClearBelow = 0.01 }, Points));

        Assert.Contains("Alerts:Risk:ClearBelow 0.01 must be between 0 and raise-at 0.0072", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_NoOperatingPointsAndNoRaiseAt_ConfigurationErrorWithTheReasonAndTheFix()
    {
        var error = Assert.Throws<ConfigurationException>(() => RiskThresholds.Resolve(new RiskPolicyOptions(), null, "the model has no evaluation report at x.evaluation/evaluation.json"));

        Assert.Contains("no evaluation report at x.evaluation/evaluation.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("telesuivi evaluate", error.Message, StringComparison.Ordinal);
        Assert.Contains("set Alerts:Risk:RaiseAt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_NoOperatingPointsButAnExplicitRaiseAt_Runs()
    {
        Assert.Equal(0.1, RiskThresholds.Resolve(new RiskPolicyOptions { RaiseAt = 0.1 }, null, "no report").RaiseAt);
    }

    [Theory]
    [InlineData(0.35, "35 %")]
    [InlineData(0.0724580837, "7.2 %")]
    [InlineData(0.00724580837, "0.72 %")]
    [InlineData(0, "0 %")]
    public void Percent_SmallProbabilities_KeepTwoSignificantDigits(double p, string expected)
    {
        Assert.Equal(expected, RiskThresholds.Percent(p));
    }

    /// <summary>
    /// The shipped model's report lies beside it and names its SHA-256: whoever ships a new model must evaluate it,
    /// or the server would run it with another model's thresholds.
    /// </summary>
    [Fact]
    public void Read_ShippedModel_ReportNamesTheShippedFilesSha256()
    {
        var sha = ModelEvaluation.Sha256Of(ShippedModel);

        var points = ModelOperatingPoints.Read(ShippedModel, sha);

        using var report = JsonDocument.Parse(File.ReadAllText(points.ReportPath));
        Assert.Equal(sha, report.RootElement.GetProperty(nameof(EvaluationResult.ModelSha256)).GetString());
        Assert.Equal(Path.Combine(RepositoryPaths.Root, "models", "exacerbation-72h-v4.evaluation", "evaluation.json"), points.ReportPath);
    }

    /// <summary>The shipped model at the default budget: the raise-at its report measured at 0.05, far below the former 0.30.</summary>
    [Fact]
    public void Resolve_ShippedModelAtTheDefaultBudget_RaiseAtOfItsReportAt005()
    {
        var points = ModelOperatingPoints.Read(ShippedModel, ModelEvaluation.Sha256Of(ShippedModel));
        using var report = JsonDocument.Parse(File.ReadAllText(points.ReportPath));
        var reported = report.RootElement.GetProperty("Scorers")[0].GetProperty("PolicyOperatingPoints").EnumerateArray()
            .Single(p => p.GetProperty("Budget").GetDouble() == 0.05).GetProperty("RaiseAt").GetDouble();

        var thresholds = RiskThresholds.Resolve(new RiskPolicyOptions(), points);

        Assert.Equal(reported, thresholds.RaiseAt);
        Assert.InRange(thresholds.RaiseAt, 0.001, 0.05);
        Assert.InRange(thresholds.CriticalAt, thresholds.RaiseAt * 2, 0.30);
    }

    [Fact]
    public void Read_ReportOfAnotherFile_RefusedNamingBothChecksums()
    {
        var error = Assert.Throws<InvalidDataException>(() => ModelOperatingPoints.Read(ShippedModel, new string('0', 64)));

        Assert.Contains("not this model (" + new string('0', 64) + ")", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A report of a small programme (train --from-store): an operating point that alerted no event has no median lead ("NaN").</summary>
    [Fact]
    public void Read_OperatingPointWithoutLeadTime_Read()
    {
        var directory = Directory.CreateTempSubdirectory("telesuivi-points-").FullName;
        try
        {
            var model = Path.Combine(directory, "candidate.zip");
            Directory.CreateDirectory(ActiveModel.EvaluationFolderOf(model));
            var sha = new string('a', 64);
            File.WriteAllText(Path.Combine(ActiveModel.EvaluationFolderOf(model), EvaluationReport.JsonFile), $$"""
                { "ModelSha256": "{{sha}}", "AlertPolicy": "{{EpisodePolicy.PlatformDefault.Describe()}}", "Scorers": [ { "Name": "model", "PolicyOperatingPoints": [
                  { "Budget": 0.01, "AlertsPerPatientDay": 0.01, "Alerts": 4, "EventSensitivity": 0, "EventsAlerted": 0, "Events": 14, "MedianLeadHours": "NaN", "DaySensitivity": 0, "Precision": 0, "RaiseAt": 0.04 },
                  { "Budget": 0.05, "AlertsPerPatientDay": 0.05, "Alerts": 20, "EventSensitivity": 0.15, "EventsAlerted": 2, "Events": 14, "MedianLeadHours": 60, "DaySensitivity": 0.1, "Precision": 0.02, "RaiseAt": 0.01 } ] } ] }
                """);

            var points = ModelOperatingPoints.Read(model, sha);

            Assert.Equal([0.04, 0.01], points.Points.Select(p => p.RaiseAt!.Value));
            Assert.True(double.IsNaN(points.Points[0].MedianLeadHours));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// A report whose raise-at values were counted under an earlier policy (one alert per episode, no reminder) would
    /// spend another budget under this one: read, but no threshold follows it, and the error gives the fix.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("raise at r, end below 0.667 r; one alert per episode")]
    public void Resolve_ReportOfAnotherAlertPolicy_ConfigurationErrorAskingForANewEvaluation(string? policy)
    {
        var directory = Directory.CreateTempSubdirectory("telesuivi-points-").FullName;
        try
        {
            var model = Path.Combine(directory, "candidate.zip");
            Directory.CreateDirectory(ActiveModel.EvaluationFolderOf(model));
            var sha = new string('a', 64);
            var recorded = policy is null ? string.Empty : $"\"AlertPolicy\": \"{policy}\", ";
            File.WriteAllText(Path.Combine(ActiveModel.EvaluationFolderOf(model), EvaluationReport.JsonFile), $$"""
                { "ModelSha256": "{{sha}}", {{recorded}}"Scorers": [ { "Name": "model", "PolicyOperatingPoints": [
                  { "Budget": 0.05, "AlertsPerPatientDay": 0.05, "Alerts": 20, "EventSensitivity": 0.15, "EventsAlerted": 2, "Events": 14, "MedianLeadHours": 60, "DaySensitivity": 0.1, "Precision": 0.02, "RaiseAt": 0.01 } ] } ] }
                """);
            var points = ModelOperatingPoints.Read(model, sha);

            var error = Assert.Throws<ConfigurationException>(() => RiskThresholds.Resolve(new RiskPolicyOptions(), points));

            Assert.Contains(policy ?? "a report written before the policy was recorded", error.Message, StringComparison.Ordinal);
            Assert.Contains("than the one configured (" + EpisodePolicy.PlatformDefault.Describe() + ")", error.Message, StringComparison.Ordinal);
            Assert.Contains("telesuivi evaluate", error.Message, StringComparison.Ordinal);
            Assert.Equal(0.3, RiskThresholds.Resolve(new RiskPolicyOptions { RaiseAt = 0.3 }, points).RaiseAt);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Read_NoReportBesideTheModel_RefusedNamingWhereItLooked()
    {
        var directory = Directory.CreateTempSubdirectory("telesuivi-points-").FullName;
        try
        {
            var model = Path.Combine(directory, "candidate.zip");
            var error = Assert.Throws<InvalidDataException>(() => ModelOperatingPoints.Read(model, new string('0', 64)));

            Assert.Contains(Path.Combine(directory, "candidate.evaluation", "evaluation.json"), error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The server's model: the thresholds follow the shipped model and are shown with it in its status (<c>/health/ready</c>).</summary>
    [Fact]
    public void ResolveAlertThresholds_ShippedModel_InTheStatusBesideTheModel()
    {
        using var model = new RiskModel();

        var thresholds = model.ResolveAlertThresholds(new RiskOptions { Enabled = true, ModelPath = ShippedModel }, new RiskPolicyOptions());

        Assert.NotNull(thresholds);
        Assert.Contains("SHA-256 0092014c7ffb", model.Status, StringComparison.Ordinal);
        Assert.Contains($"risk alerts: budget 0.05 alerts per patient-day: raise at {RiskThresholds.Percent(thresholds.RaiseAt)}", model.Status, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolveAlertThresholds_ScoringOff_NoThresholdsAndNoError()
    {
        using var model = new RiskModel();

        Assert.Null(model.ResolveAlertThresholds(new RiskOptions { Enabled = false }, new RiskPolicyOptions()));
    }

    [Fact]
    public void ResolveAlertThresholds_ModelWithoutReportAndNoRaiseAt_ConfigurationError()
    {
        var directory = Directory.CreateTempSubdirectory("telesuivi-points-").FullName;
        try
        {
            var copy = Path.Combine(directory, "unevaluated.zip");
            File.Copy(ShippedModel, copy);
            using var model = new RiskModel();

            var error = Assert.Throws<ConfigurationException>(() => model.ResolveAlertThresholds(new RiskOptions { ModelPath = copy }, new RiskPolicyOptions()));

            Assert.Contains("no evaluation report", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
