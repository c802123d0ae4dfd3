using System.CommandLine;
using System.Globalization;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Risk;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// <c>telesuivi model activate FILE</c> and <c>telesuivi model list</c>: which risk model <c>serve</c> scores with.
/// Activation is the only way a retrained model reaches patients: it needs the model's evaluation report beside it,
/// and is audited (who, when, which file and checksum). A running server takes the new model at its next start.
/// </summary>
public static class ModelCommand
{
    public static Command Create()
    {
        var data = LocalDataCommands.DataOption();
        var file = new Argument<string>("file") { Description = "The model file (a candidate of 'train --from-store', or any evaluated model)" };
        var activate = new Command("activate", "Make FILE the model serve loads at its next start: refused without FILE's evaluation report (FILE.evaluation/, matching its SHA-256); audited.") { file };
        activate.SetAction(async (parse, cancellationToken) =>
        {
            var dataDirectory = parse.GetValue(data)!;
            using var audit = await LocalDataCommands.OpenAuditAsync(parse, data, cancellationToken);
            var source = Path.GetFullPath(parse.GetValue(file)!);
            ActiveModelManifest manifest;
            try
            {
                manifest = ActiveModel.Activate(source, dataDirectory, $"cli:{Environment.UserName}", DateTimeOffset.UtcNow);
            }
            catch (ModelActivationException ex)
            {
                await audit.AppendAsync(LocalDataCommands.Entry("model.activate", $"model/{Path.GetFileName(source)}", "refused", ex.Message), cancellationToken);
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }

            await audit.AppendAsync(LocalDataCommands.Entry("model.activate", $"model/{manifest.Sha256}", "ok",
                $"{manifest.Name} from {manifest.Source} as {manifest.File}; held-out AUROC {Auroc(manifest.HeldOutAuroc)}"), cancellationToken);
            Console.WriteLine($"Activated {manifest.File} (SHA-256 {manifest.Sha256}) from {manifest.Source}.");
            Console.WriteLine("A running server keeps its model until it restarts: restart it to score with this one (its /health/ready then names it).");
            return ExitCodes.Success;
        });

        var list = new Command("list", "The active model, and every model kept in {data}/models with its held-out AUROC.");
        list.SetAction((parse, _) =>
        {
            var dataDirectory = parse.GetValue(data)!;
            var active = ActiveModel.Read(dataDirectory);
            Console.WriteLine(active is null
                ? $"Active: the shipped model ({RiskOptions.ShippedModel}); nothing activated in {ActiveModel.DirectoryOf(dataDirectory)}"
                : string.Create(CultureInfo.InvariantCulture, $"Active: {active.File} (SHA-256 {active.Sha256[..12]}), activated {active.ActivatedAt:u} by {active.ActivatedBy}, from {active.Source}"));
            var directory = ActiveModel.DirectoryOf(dataDirectory);
            if (!Directory.Exists(directory))
            {
                return Task.FromResult(ExitCodes.Success);
            }

            Console.WriteLine($"  {"file",-48} {"SHA-256",-12} {"AUROC",6}  report");
            foreach (var model in Directory.EnumerateFiles(directory, "*.zip", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var sha = ModelEvaluation.Sha256Of(model);
                var report = Path.Combine(ActiveModel.EvaluationFolderOf(model), EvaluationReport.MarkdownFile);
                var marker = active is not null && string.Equals(sha, active.Sha256, StringComparison.OrdinalIgnoreCase) && Path.GetDirectoryName(model) == directory ? "* " : "  ";
                Console.WriteLine($"{marker}{Path.GetRelativePath(directory, model),-48} {sha[..12],-12} {Auroc(ReportedAuroc(model)),6}  {(File.Exists(report) ? report : "(no report: cannot be activated)")}");
            }

            return Task.FromResult(ExitCodes.Success);
        });
        return new Command("model", "The risk model serve scores with: activate an evaluated model, list models.") { activate, list, data };
    }

    private static string Auroc(double? auroc) => auroc is { } a ? a.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static double? ReportedAuroc(string model)
    {
        try
        {
            return ModelReport.Read(model).ModelAuroc;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            return null;
        }
    }
}
