using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Calibrators;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Features;

namespace TeleSuivi.Risk.Model;

/// <summary>How a model is trained: the synthetic cohort it learns from and the gradient-boosted trees.</summary>
public sealed record TrainingOptions
{
    public int Patients { get; init; } = 1000;
    public int Days { get; init; } = 365;
    public int Seed { get; init; } = 1;

    /// <summary>Which implementation grows the boosted trees.</summary>
    public Learner Learner { get; init; } = Learner.FastTree;

    /// <summary>Boosted trees (gradient boosting of regression trees) and their shape.</summary>
    public int Trees { get; init; } = 300;
    public int Leaves { get; init; } = 16;
    public int MinimumExamplesPerLeaf { get; init; } = 100;
    public double LearningRate { get; init; } = 0.05;

    /// <summary>Share of the patients (whole patients, never single days) kept out of training to fit the calibration.</summary>
    public double CalibrationFraction { get; init; } = 0.2;

    /// <summary>Ablation: the environment features are hidden (always missing) in training and scoring.</summary>
    public bool WithoutEnvironment { get; init; }

    /// <summary>Ablation: the exacerbation-history features (<see cref="FeatureSchema.HistoryBlock"/>) are hidden.</summary>
    public bool WithoutHistory { get; init; }

    /// <summary>Ablation: only the exacerbations of the year before enrolment (the last of <see cref="FeatureSchema.HistoryBlock"/>) are hidden.</summary>
    public bool WithoutPriorYear { get; init; }

    /// <summary>Ablation: the missing-data features (<see cref="FeatureSchema.MissingDataBlock"/>) are hidden.</summary>
    public bool WithoutMissingData { get; init; }

    public void Validate()
    {
        if (Patients < 10 || Days < 30)
        {
            throw new ArgumentException("training needs at least 10 patients and 30 days (baselines take 10 days of readings)");
        }

        if (Trees < 1 || Leaves < 2 || MinimumExamplesPerLeaf < 1 || LearningRate <= 0 || CalibrationFraction is <= 0 or >= 1)
        {
            throw new ArgumentException("trees ≥ 1, leaves ≥ 2, examples per leaf ≥ 1, learning rate > 0 and a calibration fraction in (0, 1) are needed");
        }
    }
}

/// <summary>The gradient-boosting implementations of ML.NET the trainer can use (both explain each score per feature).</summary>
public enum Learner
{
    FastTree,
    LightGbm,
}

/// <summary>What a model file says about itself besides the ML.NET pipeline (entry <see cref="RiskModelTrainer.InfoEntry"/> of the zip).</summary>
public sealed record ModelInfo(
    string Name,
    string Label,
    IReadOnlyList<string> FeatureNames,
    IReadOnlyList<string> MaskedFeatures,
    TrainingOptions Training,
    int TrainingRows,
    int TrainingPositives,
    int CalibrationRows,
    int CalibrationPositives,
    double CalibrationSlope,
    double CalibrationOffset,
    double CalibrationSplitAuroc,
    double CalibrationSplitBrier);

/// <summary>A progress step of a long job: <paramref name="Done"/> of <paramref name="Total"/> in stage <paramref name="Stage"/>.</summary>
public readonly record struct ProgressStep(string Stage, int Done, int Total);

/// <summary>A trained pipeline (FastTree → feature contributions → Platt calibration) and its description.</summary>
public sealed class TrainedModel(MLContext ml, ITransformer pipeline, ModelInfo info)
{
    public MLContext Context { get; } = ml;

    public ITransformer Pipeline { get; } = pipeline;

    public ModelInfo Info { get; } = info;

    /// <summary>Writes the model file: the ML.NET zip with the model's description added as one more entry.</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        {
            Context.Model.Save(Pipeline, ModelSchema.Load(Context, []).Schema, stream);
        }

        using (var zip = ZipFile.Open(temporary, ZipArchiveMode.Update))
        {
            var entry = zip.CreateEntry(RiskModelTrainer.InfoEntry, CompressionLevel.Optimal);
            using var writer = entry.Open();
            JsonSerializer.Serialize(writer, Info, RiskModelTrainer.Json);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>
/// Trains the exacerbation model on a synthetic cohort: labelled patient-days (features by the same code as online
/// scoring), FastTree gradient-boosted trees on the training patients, then Platt scaling of the tree score fitted on
/// the calibration patients (never on the training split, whose scores are over-confident).
/// </summary>
public static class RiskModelTrainer
{
    public const string ModelName = "exacerbation-72h";
    public const string InfoEntry = "TeleSuivi/model-info.json";

    public const string LabelDefinition =
        "exacerbation onset within the next 72 h of the daily scoring time (local midnight); days of an ongoing exacerbation "
        + "or of the 7 days after its end are excluded (models/README.md, \"Label\")";

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static TrainedModel Train(TrainingOptions options, Action<ProgressStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = options.Patients, Days = options.Days }, options.Seed);
        var days = PatientDays.From(cohort, done => progress?.Invoke(new ProgressStep("features", done, options.Patients)), cancellationToken);
        return Train(days, options, progress, cancellationToken);
    }

    /// <summary>Trains on patient-days already computed (the evaluation reuses them for its ablation).</summary>
    public static TrainedModel Train(PatientDays days, TrainingOptions options, Action<ProgressStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(days);
        ArgumentNullException.ThrowIfNull(options);
        var mask = ModelSchema.Mask(options);

        // Whole patients go to one split: days of one patient are alike, and a patient seen in training would make
        // the calibration over-confident. Every k-th patient is deterministic and spreads conditions evenly.
        var every = (int)Math.Round(1 / options.CalibrationFraction);
        bool IsCalibration(PatientDay d) => d.PatientIndex % every == every - 1;
        var training = days.Days.Where(d => !IsCalibration(d)).ToList();
        var calibration = days.Days.Where(IsCalibration).ToList();
        if (!training.Any(d => d.Label) || !calibration.Any(d => d.Label))
        {
            throw new InvalidOperationException(
                $"the cohort has too few exacerbations to train ({training.Count(d => d.Label)} positive days for training, "
                + $"{calibration.Count(d => d.Label)} for calibration): use more patients or days");
        }

        cancellationToken.ThrowIfCancellationRequested();
        progress?.Invoke(new ProgressStep("training", 0, 3));
        var ml = new MLContext(seed: options.Seed);
        var trainingData = ModelSchema.Load(ml, training.Select(d => ModelSchema.ToInput(d.Features, d.Label, mask)));
        var (trees, contributions) = Fit(ml, trainingData, options);
        cancellationToken.ThrowIfCancellationRequested();
        progress?.Invoke(new ProgressStep("training", 1, 3));

        var calibrationData = trees.Transform(ModelSchema.Load(ml, calibration.Select(d => ModelSchema.ToInput(d.Features, d.Label, mask))));
        var platt = ml.BinaryClassification.Calibrators.Platt().Fit(calibrationData);
        var pipeline = trees.Append(contributions).Append(platt);
        progress?.Invoke(new ProgressStep("training", 2, 3));

        var scored = pipeline.Transform(calibrationData);
        var probabilities = scored.GetColumn<float>("Probability").Select(p => (double)p).ToList();
        var scores = scored.GetColumn<float>("Score").Select(s => (double)s).ToList();
        var labels = calibration.Select(d => d.Label).ToList();
        var (slope, offset) = PlattParameters(scores, probabilities);
        var info = new ModelInfo(
            Name: options.WithoutEnvironment ? ModelName + "-without-environment" : ModelName,
            Label: LabelDefinition,
            FeatureNames: FeatureSchema.Names,
            MaskedFeatures: mask is null ? [] : FeatureSchema.Names.Where((_, i) => mask[i]).ToList(),
            Training: options,
            TrainingRows: training.Count,
            TrainingPositives: training.Count(d => d.Label),
            CalibrationRows: calibration.Count,
            CalibrationPositives: labels.Count(l => l),
            CalibrationSlope: slope,
            CalibrationOffset: offset,
            CalibrationSplitAuroc: BinaryMetrics.Auroc(probabilities, labels),
            CalibrationSplitBrier: BinaryMetrics.Brier(probabilities, labels));
        progress?.Invoke(new ProgressStep("training", 3, 3));
        return new TrainedModel(ml, pipeline, info);
    }

    /// <summary>The boosted trees, and what gives each feature's contribution to their score (the explanations).</summary>
    private static (ITransformer Trees, ITransformer Contributions) Fit(MLContext ml, IDataView data, TrainingOptions options)
    {
        // One thread and a fixed seed: the same options give the same trees.
        switch (options.Learner)
        {
            case Learner.FastTree:
                var fastTree = ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
                {
                    NumberOfTrees = options.Trees,
                    NumberOfLeaves = options.Leaves,
                    MinimumExampleCountPerLeaf = options.MinimumExamplesPerLeaf,
                    LearningRate = options.LearningRate,
                    NumberOfThreads = 1,
                    Seed = options.Seed,
                }).Fit(data);
                return (fastTree, Contributions(ml, fastTree, data));
            case Learner.LightGbm:
                var lightGbm = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
                {
                    NumberOfIterations = options.Trees,
                    NumberOfLeaves = options.Leaves,
                    MinimumExampleCountPerLeaf = options.MinimumExamplesPerLeaf,
                    LearningRate = options.LearningRate,
                    NumberOfThreads = 1,
                    Seed = options.Seed,
                    Silent = true,
                }).Fit(data);
                return (lightGbm, Contributions(ml, lightGbm, data));
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Learner, "unknown learner");
        }
    }

    private static Microsoft.ML.Transforms.FeatureContributionCalculatingTransformer Contributions<TTrees>(MLContext ml, ISingleFeaturePredictionTransformer<CalibratedModelParametersBase<TTrees, PlattCalibrator>> trees, IDataView data)
        where TTrees : class, ICalculateFeatureContribution =>
        ml.Transforms.CalculateFeatureContribution(
            trees, numberOfPositiveContributions: FeatureSchema.Count, numberOfNegativeContributions: FeatureSchema.Count, normalize: false).Fit(data);

    /// <summary>
    /// ML.NET keeps the fitted Platt calibrator p = 1 / (1 + exp(A·score + B)) private: A and B are read back from two
    /// calibrated scores (the 10th and 90th percentiles, where neither probability rounds to 0 or 1), for the model card.
    /// </summary>
    private static (double Slope, double Offset) PlattParameters(List<double> scores, List<double> probabilities)
    {
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        var low = order[order.Length / 10];
        var high = order[order.Length * 9 / 10];
        static double Logit(double p) => Math.Log((1 - p) / p);
        if (scores[high] == scores[low])
        {
            return (double.NaN, double.NaN);
        }

        var slope = (Logit(probabilities[high]) - Logit(probabilities[low])) / (scores[high] - scores[low]);
        return (slope, Logit(probabilities[low]) - (slope * scores[low]));
    }
}
