using System.CommandLine;
using System.Globalization;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Model;
using TeleSuivi.Risk.Outcomes;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Export;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// <c>telesuivi train</c>: trains the exacerbation model on a synthetic cohort and writes the model file; with
/// <c>--from-store</c>, on the programme's own readings and nurses' outcomes through the pseudonymised export, and
/// writes a candidate model with its evaluation report (never the active model: <c>telesuivi model activate</c>).
/// </summary>
public static class TrainCommand
{
    public const string DefaultModelPath = "models/exacerbation-72h-v4.zip";

    public static Command Create()
    {
        var defaults = new TrainingOptions();
        var patients = new Option<int>("--patients") { Description = $"Patients of the training cohort (default {defaults.Patients})", DefaultValueFactory = _ => defaults.Patients, HelpName = "N" };
        var days = new Option<int>("--days") { Description = $"Days of the training cohort (default {defaults.Days})", DefaultValueFactory = _ => defaults.Days, HelpName = "D" };
        var seed = new Option<int>("--seed") { Description = $"Seed of the cohort and of the trees (default {defaults.Seed})", DefaultValueFactory = _ => defaults.Seed, HelpName = "S" };
        var trees = new Option<int>("--trees") { Description = $"Boosted trees (default {defaults.Trees})", DefaultValueFactory = _ => defaults.Trees, HelpName = "N" };
        var learner = new Option<Learner>("--learner") { Description = $"Gradient-boosting learner (default {defaults.Learner})", DefaultValueFactory = _ => defaults.Learner, HelpName = "FastTree|LightGbm" };
        var leaves = new Option<int>("--leaves") { Description = $"Leaves per tree (default {defaults.Leaves})", DefaultValueFactory = _ => defaults.Leaves, HelpName = "N" };
        var learningRate = new Option<double>("--learning-rate") { Description = $"Learning rate (default {defaults.LearningRate})", DefaultValueFactory = _ => defaults.LearningRate, HelpName = "R" };
        var minLeaf = new Option<int>("--min-leaf") { Description = $"Fewest patient-days per leaf (default {defaults.MinimumExamplesPerLeaf})", DefaultValueFactory = _ => defaults.MinimumExamplesPerLeaf, HelpName = "N" };
        var sweep = new Option<bool>("--sweep") { Description = "Compare learners and hyper-parameters on the validation patients of the training cohort and print the table (writes no model)" };
        var sweepFeatures = new Option<bool>("--features") { Description = "With --sweep: compare feature groups (all; without the year before enrolment; without history; without missing data; without both) at the given learner settings, instead of learners and hyper-parameters" };
        var sweepHeldOut = new Option<int>("--held-out-patients") { Description = "With --sweep: also score each candidate on a shifted cohort of N patients (default 0: none), with the paired difference of each candidate's AUROC to the first's", HelpName = "N" };
        var sweepHeldOutSeed = new Option<int>("--held-out-seed")
        {
            Description = $"With --held-out-patients: seed of the shifted cohort (default {HeldOutCohort.DefaultSeed}, the test cohort: reported, never used to choose; another seed, e.g. 2002, is a validation cohort)",
            DefaultValueFactory = _ => HeldOutCohort.DefaultSeed,
            HelpName = "S",
        };
        var output = new Option<string?>("--out")
        {
            Description = $"Model file to write (default {DefaultModelPath}; with --from-store {{data}}/models/candidates/{RiskModelTrainer.ModelName}-UTCTIME.zip, its report in FILE.evaluation/)",
            HelpName = "FILE",
        };
        var fromStore = new Option<bool>("--from-store") { Description = "Train on this programme's stored readings and nurses' outcomes (pseudonymised export), and evaluate on held-out patients of it" };
        var store = new Option<string?>("--store") { Description = "With --from-store: observation store, as for serve [Store:Url]", HelpName = "sqlite|URL" };
        var data = new Option<string?>("--data") { Description = "With --from-store: data folder, as for serve (default ./data) [Store:DataDirectory]", HelpName = "DIR" };
        var from = new Option<DateTimeOffset?>("--from") { Description = "With --from-store: readings and outcomes from this time (default: all)", HelpName = "TIME" };
        var to = new Option<DateTimeOffset?>("--to") { Description = "With --from-store: up to this time (default: now)", HelpName = "TIME" };
        var keyFile = new Option<string?>("--key-file") { Description = "With --from-store: the pseudonym key (default {data}/pseudonym.key)", HelpName = "FILE" };
        var keepExport = new Option<string?>("--export") { Description = "With --from-store: keep the pseudonymised export in this folder (default: a temporary folder, deleted)", HelpName = "DIR" };
        var command = new Command("train", "Train the exacerbation-risk model (onset within 72 h) on a synthetic cohort, or with --from-store on this programme's outcomes: FastTree, Platt calibration on held-out patients, explanations.")
        {
            patients, days, seed, trees, learner, leaves, learningRate, minLeaf, output, sweep, sweepFeatures, sweepHeldOut, sweepHeldOutSeed, fromStore, store, data, from, to, keyFile, keepExport,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(fromStore))
            {
                return await FromStoreAsync(
                    new TrainingOptions { Seed = parse.GetValue(seed), Trees = parse.GetValue(trees) },
                    new PlatformSettings { Store = parse.GetValue(store), DataDirectory = parse.GetValue(data) },
                    parse.GetValue(from) ?? DateTimeOffset.UnixEpoch,
                    parse.GetValue(to) ?? DateTimeOffset.UtcNow,
                    parse.GetValue(keyFile),
                    parse.GetValue(keepExport),
                    parse.GetValue(output),
                    cancellationToken);
            }

            var options = new TrainingOptions
            {
                Patients = parse.GetValue(patients), Days = parse.GetValue(days), Seed = parse.GetValue(seed), Trees = parse.GetValue(trees),
                Learner = parse.GetValue(learner), Leaves = parse.GetValue(leaves), LearningRate = parse.GetValue(learningRate), MinimumExamplesPerLeaf = parse.GetValue(minLeaf),
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(sweep))
            {
                return await SweepAsync(options, parse.GetValue(sweepFeatures) ? ModelSelection.FeatureAblations(options) : ModelSelection.Grid(options), parse.GetValue(sweepHeldOut), parse.GetValue(sweepHeldOutSeed), cancellationToken);
            }

            var path = Path.GetFullPath(parse.GetValue(output) ?? DefaultModelPath);
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

    /// <summary><c>train --sweep</c>: every candidate (<see cref="ModelSelection.Grid"/> or <see cref="ModelSelection.FeatureAblations"/>) on the same features, computed once.</summary>
    private static async Task<int> SweepAsync(TrainingOptions options, IReadOnlyList<TrainingOptions> candidates, int heldOutPatients, int heldOutSeed, CancellationToken cancellationToken)
    {
        if (heldOutPatients is > 0 and < 10)
        {
            await Console.Error.WriteLineAsync("error: the held-out cohort needs at least 10 patients");
            return ExitCodes.Usage;
        }

        var progress = new ConsoleProgress();
        var results = await Task.Run(
            () =>
            {
                void Report(ProgressStep p) => progress.Report(p.Stage, p.Done, p.Total, p.Stage.EndsWith("features", StringComparison.Ordinal) ? "patients" : "candidates");
                var training = PatientDays.From(
                    SyntheticCohort.Generate(CohortParameters.Default with { Patients = options.Patients, Days = options.Days }, options.Seed),
                    done => Report(new ProgressStep("training features", done, options.Patients)), cancellationToken);
                var heldOut = heldOutPatients == 0 ? null : PatientDays.From(
                    SyntheticCohort.Generate(HeldOutCohort.Parameters(heldOutPatients, options.Days), heldOutSeed),
                    done => Report(new ProgressStep("held-out features", done, heldOutPatients)), cancellationToken);
                return ModelSelection.Sweep(training, heldOut, candidates, Report, cancellationToken);
            },
            cancellationToken);
        progress.Finish();
        var best = ModelSelection.Best(results);
        var o = Console.Out;
        var heldOutNote = heldOutPatients > 0
            ? FormattableString.Invariant($"; held-out: {heldOutPatients:N0} patients, seed {heldOutSeed}, shifted{(heldOutSeed == HeldOutCohort.DefaultSeed ? " (the test cohort: reported, not used to choose)" : string.Empty)}")
            : string.Empty;
        await o.WriteLineAsync(FormattableString.Invariant(
            $"Sweep on {options.Patients:N0} patients × {options.Days} days (seed {options.Seed}) in {progress.Elapsed.TotalSeconds:F0} s; validation = every fifth patient, never trained on{heldOutNote}"));
        await o.WriteLineAsync($"  {"learner",-9} {"trees",5} {"leaves",6} {"rate",6} {"min leaf",8}  {"hidden",-20}  {"validation AUROC",16}  {"held-out AUROC",14}  {"vs first (± SE)",16}  {"alerted at 0.05",15}");
        foreach (var r in results)
        {
            var c = r.Options;
            await o.WriteLineAsync(FormattableString.Invariant(
                $"  {c.Learner,-9} {c.Trees,5} {c.Leaves,6} {c.LearningRate,6} {c.MinimumExamplesPerLeaf,8}  {ModelSelection.Hidden(c),-20}  {r.ValidationAuroc,16:F3}  {(r.HeldOutAuroc is { } a ? a.ToString("F3", CultureInfo.InvariantCulture) : "-"),14}  {Paired(results[0], r),16}  {(r.HeldOutAlerted is { } s ? (100 * s).ToString("F1", CultureInfo.InvariantCulture) + " %" : "-"),15}{(r == best ? "  <- best on validation" : string.Empty)}"));
        }

        return ExitCodes.Success;

        static string Paired(SweepResult first, SweepResult r) => r != first && ModelSelection.PairedDifference(first, r) is var (d, se)
            ? PairedColumn(d, se)
            : "-";
    }

    /// <summary>
    /// A paired AUROC difference and its standard error as the sweep prints them: a difference that rounds to zero is
    /// "0.000" (a tiny negative one printed "-+0.000").
    /// </summary>
    internal static string PairedColumn(double difference, double standardError)
    {
        // Adding +0.0 turns a negative zero into a positive one, which the zero section then formats.
        var rounded = Math.Round(difference, 3) + 0.0;
        return FormattableString.Invariant($"{rounded:+0.000;-0.000;0.000} ± {standardError:F3}");
    }

    private static async Task<int> FromStoreAsync(
        TrainingOptions options, PlatformSettings settings, DateTimeOffset from, DateTimeOffset through, string? keyFile, string? keepExport, string? output, CancellationToken cancellationToken)
    {
        var exportFolder = keepExport ?? Directory.CreateTempSubdirectory("telesuivi-export-").FullName;
        try
        {
            var (exit, report, configuration) = await PatientsCommand.WriteExportAsync(exportFolder, from, through, keyFile, settings, cancellationToken);
            if (report is null)
            {
                return exit;
            }

            var risk = configuration.GetSection(RiskOptions.Section).Get<RiskOptions>() ?? new RiskOptions();

            // The report's operating points are counted with the programme's own cool-down, so that its server takes them.
            var coolDown = (configuration.GetSection(AlertOptions.Section).Get<AlertOptions>() ?? new AlertOptions()).Risk.CoolDown;
            var dataDirectory = (configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions()).DataDirectory;
            var path = Path.GetFullPath(output ?? Path.Combine(
                ActiveModel.DirectoryOf(dataDirectory), "candidates", $"{RiskModelTrainer.ModelName}-{DateTimeOffset.UtcNow:yyyyMMdd'-'HHmmss}.zip"));
            var evaluationFolder = ActiveModel.EvaluationFolderOf(path);
            if (TimeZones.Find(risk.TimeZone) is not { } zone)
            {
                await Console.Error.WriteLineAsync($"error: Risk:TimeZone '{risk.TimeZone}' is not a known time zone (an IANA id such as Europe/Paris)");
                return ExitCodes.StartFailed;
            }

            var utcOffset = zone.BaseUtcOffset;
            var progress = new ConsoleProgress();
            OutcomeTrainingResult result;
            try
            {
                var history = ExportReader.Read(exportFolder, through, utcOffset, risk);
                result = await Task.Run(
                    () => OutcomeTraining.Run(
                        history, options, EvaluationOptions.DefaultBudgets, EpisodePolicy.PlatformDefault with { CoolDown = coolDown },
                        p => progress.Report(p.Stage, p.Done, p.Total, p.Stage == "features" ? "patients" : "steps"), cancellationToken),
                    cancellationToken);
            }
            catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or FileNotFoundException)
            {
                progress.Finish();
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }

            result.Model.Save(path);
            var evaluation = result.Evaluation with { ModelSha256 = ModelEvaluation.Sha256Of(path) };
            EvaluationReport.Write(evaluation, evaluationFolder);
            progress.Finish();
            var o = Console.Out;
            await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Candidate model {result.Model.Info.Name} written to {path} in {progress.Elapsed.TotalSeconds:F1} s: NOT active (review {Path.Combine(evaluationFolder, EvaluationReport.MarkdownFile)}, then 'telesuivi model activate {path}')"));
            await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  export             {report.Patients:N0} patients, {report.Readings:N0} readings, {report.EnvironmentReadings:N0} environment readings, {report.Outcomes:N0} resolved alerts"));
            await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  labels             {result.Onsets:N0} exacerbation onsets; {result.TrainingPatients:N0} patients for training and calibration, {result.HeldOutPatients:N0} held out"));
            await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  SHA-256            {evaluation.ModelSha256}"));
            await o.WriteLineAsync("Evaluation on the held-out patients:");
            await EvaluateCommand.PrintSummaryAsync(evaluation);
            return ExitCodes.Success;
        }
        finally
        {
            if (keepExport is null)
            {
                Directory.Delete(exportFolder, recursive: true);
            }
        }
    }
}
