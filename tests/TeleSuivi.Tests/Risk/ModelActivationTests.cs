using Microsoft.Extensions.Options;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.CommandLine;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Risk;

/// <summary><c>telesuivi model activate</c>'s refusals, and a server's refusal of an active model that changed after activation.</summary>
public sealed class ModelActivationTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-activate-").FullName;
    private readonly string model;

    public ModelActivationTests()
    {
        model = Path.Combine(directory, "candidate.zip");
        File.Copy(Path.Combine(RepositoryPaths.Root, "models", "exacerbation-72h-v4.zip"), model);
    }

    private string Data => Path.Combine(directory, "data");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task InvokeAsync_ActivateWithoutReport_RefusedAuditedAndNothingActive()
    {
        Assert.Equal(1, await TeleSuiviCommandLine.InvokeAsync(["model", "activate", model, "--data", Data]));

        Assert.Null(ActiveModel.Read(Data));
        var entry = Assert.Single(await new AuditLog(Data, TimeProvider.System).ListAsync(new AuditQuery(), TestContext.Current.CancellationToken)).Entry;
        Assert.Equal(("model.activate", "refused"), (entry.Action, entry.Outcome));
        Assert.Contains("no evaluation report", entry.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Activate_ReportOfAnotherFile_Refused()
    {
        WriteReport(new string('0', 64));

        var error = Assert.Throws<ModelActivationException>(() => ActiveModel.Activate(model, Data, "cli:test", DateTimeOffset.UtcNow));

        Assert.Contains("is not the report of", error.Message, StringComparison.Ordinal);
        Assert.Null(ActiveModel.Read(Data));
    }

    [Fact]
    public void RiskModel_ActiveModelChangedAfterActivation_ConfigurationErrorWhenRequired()
    {
        WriteReport(ModelEvaluation.Sha256Of(model));
        var manifest = ActiveModel.Activate(model, Data, "cli:test", DateTimeOffset.UtcNow);
        using (var loaded = new RiskModel(Options.Create(new StoreOptions { DataDirectory = Data })))
        {
            Assert.Null(loaded.Load(new RiskOptions { Enabled = true }));
            Assert.Equal(manifest.Sha256, loaded.Sha256);
        }

        File.AppendAllText(ActiveModel.PathOf(Data, manifest), "tampered");
        using var changed = new RiskModel(Options.Create(new StoreOptions { DataDirectory = Data }));

        var error = Assert.Throws<TeleSuivi.Server.ConfigurationException>(() => changed.Load(new RiskOptions { Enabled = true }));
        Assert.Contains("the file changed", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The two files activation reads beside a model; the figures in them are not what these tests check.</summary>
    private void WriteReport(string sha)
    {
        var report = ActiveModel.EvaluationFolderOf(model);
        Directory.CreateDirectory(report);
        File.WriteAllText(Path.Combine(report, EvaluationReport.JsonFile), $$"""{ "ModelSha256": "{{sha}}", "Scorers": [ { "Name": "model", "Auroc": 0.7 } ] }""");
        File.WriteAllText(Path.Combine(report, EvaluationReport.MarkdownFile), "# Evaluation");
    }
}
