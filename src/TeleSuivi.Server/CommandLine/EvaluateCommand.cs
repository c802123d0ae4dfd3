using System.CommandLine;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Model;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi evaluate</c>: the model against NEWS2 and the threshold rules on a held-out, shifted cohort.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var defaults = new EvaluationOptions { ModelPath = TrainCommand.DefaultModelPath };
        var model = new Option<string>("--model") { Description = $"Model file (default {TrainCommand.DefaultModelPath})", DefaultValueFactory = _ => TrainCommand.DefaultModelPath, HelpName = "FILE" };
        var patients = new Option<int>("--patients") { Description = $"Patients of the held-out cohort (default {defaults.Patients})", DefaultValueFactory = _ => defaults.Patients, HelpName = "N" };
        var days = new Option<int>("--days") { Description = $"Days of the held-out cohort (default {defaults.Days})", DefaultValueFactory = _ => defaults.Days, HelpName = "D" };
        var seed = new Option<int>("--seed") { Description = $"Seed of the held-out cohort (default {defaults.Seed}; use another than the training seed)", DefaultValueFactory = _ => defaults.Seed, HelpName = "S" };
        var output = new Option<string>("--out") { Description = "Folder for report.md, evaluation.json and the PNG plots (default ./evaluation)", DefaultValueFactory = _ => "evaluation", HelpName = "DIR" };
        var noAblation = new Option<bool>("--no-ablation") { Description = "Skip the ablation without environment features (it retrains the model)" };
        var coolDown = new Option<double>("--cool-down")
        {
            Description = $"Days of the risk alert policy's cool-down the operating points are counted with (default {EpisodePolicy.DefaultCoolDown.TotalDays}; the server takes thresholds only from a report of its own Alerts:Risk:CoolDown)",
            DefaultValueFactory = _ => EpisodePolicy.DefaultCoolDown.TotalDays,
            HelpName = "DAYS",
        };
        var gap = new Option<bool>("--gap-analysis") { Description = "Instead of the report: where the model's gap to the ground-truth oracle lies (the oracle decomposed, AUROC by kind of onset), written to DIR/gap-analysis.md" };
        var command = new Command("evaluate", "Evaluate a risk model on a held-out cohort with another seed and shifted parameters, beside NEWS2 and the threshold rules.")
        {
            model, patients, days, seed, output, noAblation, coolDown, gap,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = defaults with
            {
                ModelPath = Path.GetFullPath(parse.GetValue(model)!),
                Patients = parse.GetValue(patients),
                Days = parse.GetValue(days),
                Seed = parse.GetValue(seed),
                Ablation = !parse.GetValue(noAblation),
            };
            if (options.Patients < 10 || options.Days < 30)
            {
                await Console.Error.WriteLineAsync("error: the evaluation needs at least 10 patients and 30 days");
                return ExitCodes.Usage;
            }

            var coolDownDays = parse.GetValue(coolDown);
            if (coolDownDays is not (>= 0 and <= 365))
            {
                await Console.Error.WriteLineAsync(FormattableString.Invariant($"error: --cool-down {coolDownDays} is not a number of days between 0 and 365"));
                return ExitCodes.Usage;
            }

            options = options with { CoolDown = TimeSpan.FromDays(coolDownDays) };

            var directory = Path.GetFullPath(parse.GetValue(output)!);
            var progress = new ConsoleProgress();
            void Report(ProgressStep p) => progress.Report(p.Stage, p.Done, p.Total, p.Stage.EndsWith("features", StringComparison.Ordinal) ? "patients" : "steps");
            if (parse.GetValue(gap))
            {
                return await GapAnalysisAsync(options, directory, progress, Report, cancellationToken);
            }

            if (await RunAsync(() => ModelEvaluation.Run(options, Report, cancellationToken), progress, cancellationToken) is not { } result)
            {
                return 1;
            }

            EvaluationReport.Write(result, directory);
            progress.Finish();
            await Console.Out.WriteLineAsync(FormattableString.Invariant(
                $"Evaluation of {result.Model} on {result.Patients:N0} patients × {result.Days} days (seed {result.Seed}, shifted) written to {directory} in {progress.Elapsed.TotalSeconds:F1} s"));
            await PrintSummaryAsync(result);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The long work off the console thread; a model file missing or unreadable is an error message (null), not a crash.</summary>
    private static async Task<T?> RunAsync<T>(Func<T> work, ConsoleProgress progress, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await Task.Run(work, cancellationToken);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException)
        {
            progress.Finish();
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return null;
        }
    }

    private static async Task<int> GapAnalysisAsync(EvaluationOptions options, string directory, ConsoleProgress progress, Action<ProgressStep> report, CancellationToken cancellationToken)
    {
        if (await RunAsync(() => GapAnalysis.Run(options, report, cancellationToken), progress, cancellationToken) is not { } analysis)
        {
            return 1;
        }

        progress.Finish();
        Directory.CreateDirectory(directory);
        var markdown = analysis.ToMarkdown();
        await File.WriteAllTextAsync(Path.Combine(directory, "gap-analysis.md"), markdown, cancellationToken);
        await Console.Out.WriteLineAsync(markdown);
        await Console.Out.WriteLineAsync(FormattableString.Invariant($"Written to {Path.Combine(directory, "gap-analysis.md")} in {progress.Elapsed.TotalSeconds:F1} s"));
        return ExitCodes.Success;
    }

    /// <summary>The summary table of an evaluation: every scorer's AUROC, AUPRC, Brier and its figures at the target budget.</summary>
    internal static async Task PrintSummaryAsync(EvaluationResult result)
    {
        var o = Console.Out;
        await o.WriteLineAsync(FormattableString.Invariant($"  {result.PatientDays:N0} patient-days, {result.PositiveDays:N0} positive, {result.Exacerbations:N0} exacerbations"));
        await o.WriteLineAsync(FormattableString.Invariant($"  {"scorer",-27} {"AUROC",6} {"AUPRC",6} {"Brier",7}   at {EvaluationReport.TargetBudget} alerts/patient-day, alerted 1-7 d ahead, median lead:"));
        await o.WriteLineAsync(FormattableString.Invariant($"  {string.Empty,-27} {string.Empty,6} {string.Empty,6} {string.Empty,7}   {"as the platform alerts",-22}  every day above threshold"));
        foreach (var s in result.Scorers)
        {
            var brier = s.Brier is { } b ? b.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : "-";
            await o.WriteLineAsync(FormattableString.Invariant($"  {s.Name,-27} {s.Auroc,6:F3} {s.Auprc,6:F3} {brier,7}   {AtBudget(s.PolicyOperatingPoints),-22}  {AtBudget(s.OperatingPoints)}"));
        }

        if (result.Ceiling is { } ceiling)
        {
            await o.WriteLineAsync(FormattableString.Invariant(
                $"  oracle ceiling: {100 * ceiling.Fraction:F1} % of {ceiling.Events:N0} exacerbations carry a signal at least 24 h before onset"));
        }

        static string AtBudget(IReadOnlyList<OperatingPoint> points) => points.FirstOrDefault(x => x.Budget == EvaluationReport.TargetBudget) is { } p
            ? FormattableString.Invariant($"{100 * p.EventSensitivity,5:F1} %, {(double.IsNaN(p.MedianLeadHours) ? "-" : p.MedianLeadHours.ToString("F0", System.Globalization.CultureInfo.InvariantCulture) + " h")}")
            : string.Empty;
    }
}
