using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Risk.Model;

/// <summary>One candidate of a sweep: chosen by <see cref="ValidationAuroc"/>; the held-out figures are reported, never used to choose.</summary>
/// <param name="ValidationAuroc">AUROC on the validation patients of the training cohort (the calibration split: never trained on).</param>
/// <param name="HeldOutAuroc">AUROC on the held-out cohort, when one is given.</param>
/// <param name="HeldOutAlerted">Share of the held-out exacerbations alerted 1–7 days ahead by the platform's policy at 0.05 alerts per patient-day.</param>
/// <param name="HeldOutFoldAurocs">The held-out AUROC of each of <see cref="ModelSelection.Folds"/> groups of patients: the spread of a difference between candidates.</param>
public sealed record SweepResult(TrainingOptions Options, double ValidationAuroc, double? HeldOutAuroc, double? HeldOutAlerted, IReadOnlyList<double>? HeldOutFoldAurocs = null);

/// <summary>
/// Learner and hyper-parameter selection on a validation split of the training cohort: every candidate is trained on
/// the same training patients and judged on the same other patients of that cohort. The held-out cohort, when given,
/// is only scored for the record (models/README.md keeps every attempt, negative results too).
/// </summary>
public static class ModelSelection
{
    /// <summary>The candidates around <paramref name="baseline"/>: both learners, more and bigger trees, slower and faster learning.</summary>
    public static IReadOnlyList<TrainingOptions> Grid(TrainingOptions baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        var fastTree = baseline with { Learner = Learner.FastTree, Trees = 300, Leaves = 16, LearningRate = 0.05, MinimumExamplesPerLeaf = 100 };
        var lightGbm = fastTree with { Learner = Learner.LightGbm };
        return
        [
            fastTree,
            fastTree with { Trees = 600 },
            fastTree with { Leaves = 32 },
            fastTree with { Leaves = 8, LearningRate = 0.1 },
            fastTree with { MinimumExamplesPerLeaf = 400 },
            fastTree with { Trees = 600, LearningRate = 0.025 },
            lightGbm,
            lightGbm with { Leaves = 32, MinimumExamplesPerLeaf = 400 },
            lightGbm with { Trees = 600, LearningRate = 0.025 },
        ];
    }

    /// <summary>
    /// The candidates for the feature groups added since v3: all features, then without the exacerbations of the year
    /// before enrolment (v4), without any history, without missing data, without both.
    /// </summary>
    public static IReadOnlyList<TrainingOptions> FeatureAblations(TrainingOptions baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        return
        [
            baseline,
            baseline with { WithoutPriorYear = true },
            baseline with { WithoutHistory = true },
            baseline with { WithoutMissingData = true },
            baseline with { WithoutHistory = true, WithoutMissingData = true },
        ];
    }

    /// <summary>The feature groups a candidate hides, for the sweep's table ("-" when none).</summary>
    public static string Hidden(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var hidden = new List<string>();
        if (options.WithoutEnvironment)
        {
            hidden.Add("environment");
        }

        if (options.WithoutHistory)
        {
            hidden.Add("history");
        }
        else if (options.WithoutPriorYear)
        {
            hidden.Add("year-before-enrolment");
        }

        if (options.WithoutMissingData)
        {
            hidden.Add("missing-data");
        }

        return hidden.Count == 0 ? "-" : string.Join('+', hidden);
    }

    public static IReadOnlyList<SweepResult> Sweep(
        PatientDays training, PatientDays? heldOut, IReadOnlyList<TrainingOptions> candidates, Action<ProgressStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(candidates);
        var results = new List<SweepResult>();
        var labels = heldOut?.Days.Select(d => d.Label).ToList();
        var episodes = heldOut is null ? null : new EpisodeOperatingPoints(heldOut.Days);
        foreach (var options in candidates)
        {
            progress?.Invoke(new ProgressStep("candidates", results.Count, candidates.Count));
            options.Validate();
            var model = RiskModelTrainer.Train(training, options, cancellationToken: cancellationToken);
            double? auroc = null, alerted = null;
            List<double>? folds = null;
            if (heldOut is not null)
            {
                using var scorer = new RiskScorer(model);
                var scores = scorer.Probabilities(heldOut.Days.Select(d => d.Features));
                auroc = BinaryMetrics.Auroc(scores, labels!);
                // With the smaller budget whose raise-at is the critical level, as the server derives it and
                // `evaluate` counts it: alone, the target budget would be its own critical level and never escalate.
                alerted = episodes!.At([EvaluationReport.TargetBudget / EpisodeOperatingPoints.CriticalBudgetDivisor, EvaluationReport.TargetBudget], scores, heldOut.Exacerbations)[1].EventSensitivity;
                folds = [.. Enumerable.Range(0, Folds).Select(f =>
                {
                    var fold = Enumerable.Range(0, scores.Count).Where(i => heldOut.Days[i].PatientIndex % Folds == f).ToList();
                    return BinaryMetrics.Auroc(fold.Select(i => scores[i]).ToList(), fold.Select(i => labels![i]).ToList());
                })];
            }

            results.Add(new SweepResult(options, model.Info.CalibrationSplitAuroc, auroc, alerted, folds));
        }

        progress?.Invoke(new ProgressStep("candidates", results.Count, candidates.Count));
        return results;
    }

    /// <summary>Groups of held-out patients (by index) over which a difference of AUROC between candidates is spread.</summary>
    public const int Folds = 10;

    /// <summary>
    /// The held-out AUROC of <paramref name="candidate"/> minus that of <paramref name="reference"/>, averaged over the
    /// same groups of patients, and the standard error of that mean (paired: both scored the same patients); null
    /// without a held-out cohort. A difference within two standard errors is noise.
    /// </summary>
    public static (double Difference, double StandardError)? PairedDifference(SweepResult reference, SweepResult candidate)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidate);
        if (reference.HeldOutFoldAurocs is not { } a || candidate.HeldOutFoldAurocs is not { } b)
        {
            return null;
        }

        var differences = a.Zip(b, (x, y) => y - x).Where(double.IsFinite).ToList();
        if (differences.Count < 2)
        {
            return null;
        }

        var mean = differences.Average();
        var variance = differences.Sum(d => (d - mean) * (d - mean)) / (differences.Count - 1);
        return (mean, Math.Sqrt(variance / differences.Count));
    }

    /// <summary>The candidate to ship: the best validation AUROC (the first of equals).</summary>
    public static SweepResult Best(IReadOnlyList<SweepResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        return results.MaxBy(r => r.ValidationAuroc) ?? throw new ArgumentException("no candidate", nameof(results));
    }
}
