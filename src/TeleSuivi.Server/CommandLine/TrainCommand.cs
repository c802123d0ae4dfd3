using System.CommandLine;
using TeleSuivi.Risk.Model;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi train</c>: trains the exacerbation model on a synthetic cohort and writes the model file.</summary>
public static class TrainCommand
{
    public const string DefaultModelPath = "models/exacerbation-72h-v1.zip";

    public static Command Create()
    {
        var defaults = new TrainingOptions();
        var patients = new Option<int>("--patients") { Description = $"Patients of the training cohort (default {defaults.Patients})", DefaultValueFactory = _ => defaults.Patients, HelpName = "N" };
        var days = new Option<int>("--days") { Description = $"Days of the training cohort (default {defaults.Days})", DefaultValueFactory = _ => defaults.Days, HelpName = "D" };
        var seed = new Option<int>("--seed") { Description = $"Seed of the cohort and of the trees (default {defaults.Seed})", DefaultValueFactory = _ => defaults.Seed, HelpName = "S" };
        var trees = new Option<int>("--trees") { Description = $"Boosted trees (default {defaults.Trees})", DefaultValueFactory = _ => defaults.Trees, HelpName = "N" };
        var output = new Option<string>("--out") { Description = $"Model file to write (default {DefaultModelPath})", DefaultValueFactory = _ => DefaultModelPath, HelpName = "FILE" };
        var command = new Command("train", "Train the exacerbation-risk model (onset within 72 h) on a synthetic cohort: FastTree, Platt calibration on held-out patients, explanations.")
        {
            patients, days, seed, trees, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new TrainingOptions { Patients = parse.GetValue(patients), Days = parse.GetValue(days), Seed = parse.GetValue(seed), Trees = parse.GetValue(trees) };
            try
            {
                options.Validate();
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return ExitCodes.Usage;
            }

            var path = Path.GetFullPath(parse.GetValue(output)!);
            var progress = new ConsoleProgress();
            var model = await Task.Run(() => RiskModelTrainer.Train(options, p => progress.Report(p.Stage, p.Done, p.Total, p.Stage == "features" ? "patients" : "steps"), cancellationToken), cancellationToken);
            model.Save(path);
            progress.Finish();
            var i = model.Info;
            var o = Console.Out;
            await o.WriteLineAsync(FormattableString.Invariant($"Model {i.Name} written to {path} in {progress.Elapsed.TotalSeconds:F1} s ({new FileInfo(path).Length / 1024.0:F0} KB)"));
            await o.WriteLineAsync(FormattableString.Invariant($"  training cohort    {options.Patients:N0} patients × {options.Days} days, seed {options.Seed}"));
            await o.WriteLineAsync(FormattableString.Invariant($"  training split     {i.TrainingRows,10:N0} patient-days, {i.TrainingPositives:N0} positive"));
            await o.WriteLineAsync(FormattableString.Invariant($"  calibration split  {i.CalibrationRows,10:N0} patient-days, {i.CalibrationPositives:N0} positive (other patients)"));
            await o.WriteLineAsync(FormattableString.Invariant($"  trees              {options.Trees,10} of {options.Leaves} leaves, learning rate {options.LearningRate}"));
            await o.WriteLineAsync(FormattableString.Invariant($"  Platt calibration  p = 1 / (1 + exp({i.CalibrationSlope:F4} × score + {i.CalibrationOffset:F4}))"));
            await o.WriteLineAsync(FormattableString.Invariant($"  calibration split  AUROC {i.CalibrationSplitAuroc:F3}, Brier {i.CalibrationSplitBrier:F4} (same generator: run 'telesuivi evaluate' for the held-out figures)"));
            return ExitCodes.Success;
        });
        return command;
    }
}
