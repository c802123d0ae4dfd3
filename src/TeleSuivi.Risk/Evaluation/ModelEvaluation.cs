using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>How the evaluation is run.</summary>
public sealed record EvaluationOptions
{
    public required string ModelPath { get; init; }
    public int Patients { get; init; } = 1000;
    public int Days { get; init; } = 365;
    public int Seed { get; init; } = HeldOutCohort.DefaultSeed;

    /// <summary>Retrain the model without the environment features (same training cohort and settings) and evaluate it too.</summary>
    public bool Ablation { get; init; } = true;

    /// <summary>
    /// The risk alert policy's cool-down the operating points are counted with: the server's <c>Alerts:Risk:CoolDown</c>
    /// must be the same to take its thresholds from the report.
    /// </summary>
    public TimeSpan CoolDown { get; init; } = EpisodePolicy.DefaultCoolDown;

    /// <summary>Alert budgets of the operating-point table (alerts per patient-day).</summary>
    public IReadOnlyList<double> Budgets { get; init; } = DefaultBudgets;

    public static readonly IReadOnlyList<double> DefaultBudgets = [0.01, 0.02, 0.05, 0.10, 0.24];
}

/// <summary>One scorer's results on the held-out cohort.</summary>
/// <param name="OperatingPoints">Per-day threshold: every patient-day above the threshold is an alert.</param>
/// <param name="PolicyOperatingPoints">As the platform alerts, through its risk alert policy (<see cref="EpisodeOperatingPoints"/>).</param>
public sealed record ScorerResult(
    string Name,
    string Description,
    double Auroc,
    double Auprc,
    double? Brier,
    IReadOnlyList<OperatingPoint> OperatingPoints,
    IReadOnlyList<OperatingPoint> Curve,
    IReadOnlyList<CalibrationBin>? Calibration,
    IReadOnlyList<OperatingPoint> PolicyOperatingPoints,
    IReadOnlyList<OperatingPoint> PolicyCurve);

/// <summary>Everything the report shows; also written as JSON.</summary>
/// <param name="DataDescription">Where the training and held-out data came from, when not the synthetic cohorts (<c>train --from-store</c>).</param>
/// <param name="ModelSha256">SHA-256 of the model file evaluated: <c>telesuivi model activate</c> refuses a model whose report does not match it.</param>
/// <param name="Ceiling">The oracle ceiling of the synthetic held-out cohort (none for a programme's export: no ground truth).</param>
/// <param name="AlertPolicy">The risk alert policy the policy operating points were counted with (<see cref="EpisodePolicy.Describe"/>): the server takes thresholds only from a report of its own policy.</param>
public sealed record EvaluationResult(
    string Model,
    TrainingOptions Training,
    int Patients,
    int Days,
    int Seed,
    IReadOnlyList<string> Shifts,
    int PatientDays,
    int PositiveDays,
    int Exacerbations,
    double Prevalence,
    IReadOnlyList<ScorerResult> Scorers,
    IReadOnlyList<string>? DataDescription = null,
    string? ModelSha256 = null,
    SignalCeiling? Ceiling = null,
    string? AlertPolicy = null);

/// <summary>
/// Evaluates a model file on a held-out cohort (another seed and shifted parameters: <see cref="HeldOutCohort"/>)
/// beside partial NEWS2, the classic threshold rules and, optionally, the same model retrained without environment.
/// </summary>
public static class ModelEvaluation
{
    public const int CalibrationBins = 10;

    /// <summary>The scorer name of the <see cref="GroundTruthOracle"/> in the results.</summary>
    public const string OracleName = "oracle (ground truth)";

    /// <summary>The budgets of the operating-point plot.</summary>
    public static readonly IReadOnlyList<double> CurveBudgets = [0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.24, 0.3];

    public static EvaluationResult Run(EvaluationOptions options, Action<ProgressStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Patients < 10 || options.Days < 30)
        {
            throw new ArgumentException("the evaluation needs at least 10 patients and 30 days");
        }

        using var scorer = RiskScorer.Load(options.ModelPath);
        var cohort = SyntheticCohort.Generate(HeldOutCohort.Parameters(options.Patients, options.Days), options.Seed);
        var heldOut = PatientDays.From(cohort, done => progress?.Invoke(new ProgressStep("held-out features", done, options.Patients)), cancellationToken);
        if (!heldOut.Days.Any(d => d.Label))
        {
            throw new InvalidOperationException("the held-out cohort has no exacerbation: use more patients or days");
        }

        TrainedModel? Ablation()
        {
            var training = scorer.Info.Training with { WithoutEnvironment = true };
            var trainingCohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = training.Patients, Days = training.Days }, training.Seed);
            var trainingDays = PatientDays.From(trainingCohort, done => progress?.Invoke(new ProgressStep("ablation: training features", done, training.Patients)), cancellationToken);
            return RiskModelTrainer.Train(trainingDays, training, p => progress?.Invoke(p with { Stage = "ablation: " + p.Stage }), cancellationToken);
        }

        progress?.Invoke(new ProgressStep("oracle (ground truth)", 0, 1));
        var trainedOn = scorer.Info.Training;
        var oracle = GroundTruthOracle.Train(
            SyntheticCohort.Generate(CohortParameters.Default with { Patients = trainedOn.Patients, Days = trainedOn.Days }, trainedOn.Seed), trainedOn.Seed);
        var oracleScores = oracle.Score(cohort, heldOut);
        progress?.Invoke(new ProgressStep("oracle (ground truth)", 1, 1));

        var result = Compare(scorer, heldOut, options.Budgets, options.Ablation ? Ablation : null, progress, oracleScores, EpisodePolicy.PlatformDefault with { CoolDown = options.CoolDown });
        return result with
        {
            Patients = options.Patients, Days = options.Days, Seed = options.Seed, Shifts = HeldOutCohort.Shifts, ModelSha256 = Sha256Of(options.ModelPath),
            Ceiling = SignalCeiling.Of(heldOut),
        };
    }

    /// <summary>
    /// The model against the ablation (when <paramref name="ablation"/> is given), partial NEWS2, the threshold rules and
    /// random alerts on the held-out patient-days: the one comparison of <c>evaluate</c> and <c>train --from-store</c>.
    /// </summary>
    /// <param name="oracle">The <see cref="GroundTruthOracle"/>'s scores of the held-out days, when there is a ground truth (synthetic cohorts).</param>
    /// <param name="alertPolicy">The shape of the risk alert policy the operating points are counted with (default: the platform's).</param>
    public static EvaluationResult Compare(
        RiskScorer scorer, PatientDays heldOut, IReadOnlyList<double> budgets, Func<TrainedModel?>? ablation, Action<ProgressStep>? progress = null,
        IReadOnlyList<double>? oracle = null, EpisodePolicy? alertPolicy = null)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(heldOut);
        var days = heldOut.Days;
        var labels = days.Select(d => d.Label).ToList();
        alertPolicy ??= EpisodePolicy.PlatformDefault;
        var episodes = new EpisodeOperatingPoints(days, alertPolicy);
        progress?.Invoke(new ProgressStep("scoring", 0, 1));
        var scorers = new List<ScorerResult>
        {
            Result("model", $"{scorer.Info.Name} ({scorer.Info.Training.Learner}, Platt-calibrated)", scorer.Probabilities(days.Select(d => d.Features)), probabilities: true),
        };
        progress?.Invoke(new ProgressStep("scoring", 1, 1));

        if (ablation?.Invoke() is { } withoutEnvironment)
        {
            using var ablationScorer = new RiskScorer(withoutEnvironment);
            scorers.Add(Result("model without environment", "the same training without the 28 environment features (ablation)", ablationScorer.Probabilities(days.Select(d => d.Features)), probabilities: true));
        }

        scorers.Add(Result("NEWS2", "partial NEWS2 (latest values of the last 24 h; missing parameters score 0)", days.Select(d => (double)BaselineScores.News2Total(d.Features)).ToList(), probabilities: false));
        scorers.Add(Result("threshold rules", "number of classic threshold rules fired (SpO2 < 90 %, weight +2 kg in 3 days, ...)", days.Select(d => (double)BaselineScores.RulesFired(d.Features)).ToList(), probabilities: false));

        // The floor of every figure: alerts on patient-days drawn at random (all scores equal, ties broken at random).
        scorers.Add(Result("random alerts", "reference: the same number of alerts on patient-days drawn at random", new double[days.Count], probabilities: false));

        // The ceiling of every figure: not a baseline a model must beat but the bound it cannot pass.
        if (oracle is not null)
        {
            if (oracle.Count != days.Count)
            {
                throw new ArgumentException($"the oracle scored {oracle.Count} patient-days, the held-out cohort has {days.Count}", nameof(oracle));
            }

            scorers.Add(Result(OracleName, GroundTruthOracle.Description, oracle, probabilities: true));
        }

        var positives = labels.Count(l => l);
        return new EvaluationResult(
            scorer.Info.Name, scorer.Info.Training, heldOut.Parameters.Patients, heldOut.Parameters.Days, 0, [],
            days.Count, positives, heldOut.Exacerbations.Count, days.Count == 0 ? 0 : (double)positives / days.Count, scorers,
            AlertPolicy: alertPolicy.Describe());

        ScorerResult Result(string name, string description, IReadOnlyList<double> scores, bool probabilities)
        {
            // One pass over the policy's raise-at grid for the table's budgets and the plot's.
            var policy = episodes.At([.. budgets, .. CurveBudgets], scores, heldOut.Exacerbations);
            return new(
                name,
                description,
                BinaryMetrics.Auroc(scores, labels),
                BinaryMetrics.Auprc(scores, labels),
                probabilities ? BinaryMetrics.Brier(scores, labels) : null,
                budgets.Select(b => OperatingPoints.At(b, days, scores, heldOut.Exacerbations)).ToList(),
                CurveBudgets.Select(b => OperatingPoints.At(b, days, scores, heldOut.Exacerbations)).ToList(),
                probabilities ? BinaryMetrics.Calibration(scores, labels, CalibrationBins) : null,
                [.. policy.Take(budgets.Count)],
                [.. policy.Skip(budgets.Count)]);
        }
    }

    /// <summary>The SHA-256 of a file, lower-case hex: what ties a report to the model file it evaluated.</summary>
    public static string Sha256Of(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file));
    }
}
