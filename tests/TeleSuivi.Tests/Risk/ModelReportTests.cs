using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server.Risk;

namespace TeleSuivi.Tests.Risk;

/// <summary>The one reader of a model's evaluation report, which activation, <c>model list</c> and the alert thresholds share.</summary>
public sealed class ModelReportTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-report-").FullName;

    private string Model => Path.Combine(directory, "candidate.zip");

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private void WriteReport(string json)
    {
        Directory.CreateDirectory(ActiveModel.EvaluationFolderOf(Model));
        File.WriteAllText(ModelReport.PathOf(Model), json);
    }

    [Fact]
    public void Read_Report_ChecksumAurocAndOperatingPointsOfTheFirstScorer()
    {
        WriteReport("""
            { "ModelSha256": "abc", "Scorers": [
              { "Name": "model", "Auroc": 0.75,
                "PolicyOperatingPoints": [ { "Budget": 0.05, "RaiseAt": 0.02, "MedianLeadHours": "NaN" }, { "Budget": 0.01, "RaiseAt": 0.06 } ],
                "PolicyCurve": [ { "Budget": 0.01, "RaiseAt": 0.06 }, { "Budget": 0.1, "RaiseAt": 0.01 }, { "Budget": 0.2, "RaiseAt": 0 } ] },
              { "Name": "NEWS2", "Auroc": 0.6 } ] }
            """);

        var report = ModelReport.Read(Model);

        Assert.Equal("abc", report.ModelSha256);
        Assert.Equal(0.75, report.ModelAuroc);
        Assert.Equal(Path.Combine(directory, "candidate.evaluation", EvaluationReport.JsonFile), report.Path);

        // One point per budget, ordered, only those with a raise-at the platform can use.
        Assert.Equal([0.01, 0.05, 0.1], report.PolicyPoints.Select(p => p.Budget));
        Assert.True(double.IsNaN(report.PolicyPoints[1].MedianLeadHours));
    }

    [Fact]
    public void Read_ReportWithoutFigures_NullsAndNoPoints()
    {
        WriteReport("""{ "Scorers": [] }""");

        var report = ModelReport.Read(Model);

        Assert.Null(report.ModelSha256);
        Assert.Null(report.ModelAuroc);
        Assert.Empty(report.PolicyPoints);
    }

    [Fact]
    public void Read_NotAReport_RefusedNamingTheFile()
    {
        WriteReport("{ not json");

        var error = Assert.Throws<InvalidDataException>(() => ModelReport.Read(Model));

        Assert.StartsWith(ModelReport.PathOf(Model) + " is not an evaluation report", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NoReport_RefusedNamingWhereItLooked()
    {
        var error = Assert.Throws<InvalidDataException>(() => ModelReport.Read(Model));

        Assert.Contains(ModelReport.PathOf(Model), error.Message, StringComparison.Ordinal);
    }
}
