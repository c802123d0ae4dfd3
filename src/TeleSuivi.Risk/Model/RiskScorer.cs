using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using TeleSuivi.Risk.Features;

namespace TeleSuivi.Risk.Model;

/// <summary>A calibrated probability of exacerbation onset within 72 h, the raw tree score, and the reasons a nurse reads.</summary>
public sealed record RiskScore(double Probability, double RawScore, IReadOnlyList<RiskReason> Reasons);

/// <summary>
/// Scores feature vectors with a trained model: loaded once, then called from any number of threads (each call
/// borrows one of a pool of ML.NET prediction engines, which are not thread-safe themselves). The platform keeps a
/// <see cref="PatientFeatureState"/> per patient, computes its features when a reading arrives and calls
/// <see cref="Score"/>; nothing here depends on where the features come from.
/// </summary>
public sealed class RiskScorer : IDisposable
{
    private readonly MLContext ml;
    private readonly ITransformer pipeline;
    private readonly bool[]? mask;
    private readonly ConcurrentBag<PredictionEngine<ModelInput, ModelOutput>> engines = [];

    public RiskScorer(TrainedModel model)
        : this((model ?? throw new ArgumentNullException(nameof(model))).Context, model.Pipeline, model.Info)
    {
    }

    private RiskScorer(MLContext ml, ITransformer pipeline, ModelInfo info)
    {
        this.ml = ml;
        this.pipeline = pipeline;
        Info = info;
        if (!info.FeatureNames.SequenceEqual(FeatureSchema.Names, StringComparer.Ordinal))
        {
            throw new InvalidDataException(
                $"model '{info.Name}' was trained on {info.FeatureNames.Count} features that differ from the {FeatureSchema.Count} this version computes: retrain it with 'telesuivi train'");
        }

        if (info.MaskedFeatures.Count > 0)
        {
            mask = FeatureSchema.Names.Select(n => info.MaskedFeatures.Contains(n, StringComparer.Ordinal)).ToArray();
        }
    }

    public ModelInfo Info { get; }

    /// <summary>Loads a model file written by <see cref="TrainedModel.Save"/>; a clear error when it is not one.</summary>
    public static RiskScorer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no model file at {path}", path);
        }

        ModelInfo info;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.GetEntry(RiskModelTrainer.InfoEntry)
                ?? throw new InvalidDataException($"{path} is not a TeleSuivi risk model (no {RiskModelTrainer.InfoEntry})");
            using var stream = entry.Open();
            info = JsonSerializer.Deserialize<ModelInfo>(stream, RiskModelTrainer.Json)
                ?? throw new InvalidDataException($"{path}: empty model description");
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException)
        {
            throw new InvalidDataException($"{path} is not a TeleSuivi risk model: {ex.Message}", ex);
        }

        var ml = new MLContext(seed: info.Training.Seed);
        using var model = File.OpenRead(path);
        return new RiskScorer(ml, ml.Model.Load(model, out _), info);
    }

    /// <summary>Scores one feature vector (<see cref="FeatureSchema"/> layout, NaN for missing) and explains it.</summary>
    public RiskScore Score(ReadOnlySpan<float> features, int reasons = 3)
    {
        var input = ModelSchema.ToInput(features, masked: mask);
        if (!engines.TryTake(out var engine))
        {
            engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(pipeline, inputSchemaDefinition: ModelSchema.Input());
        }

        try
        {
            var output = engine.Predict(input);
            return new RiskScore(output.Probability, output.Score, RiskExplainer.Explain(features, output.FeatureContributions, reasons));
        }
        finally
        {
            engines.Add(engine);
        }
    }

    /// <summary>Calibrated probabilities of many feature vectors at once (evaluation): no explanations, in input order.</summary>
    public IReadOnlyList<double> Probabilities(IEnumerable<float[]> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var data = ModelSchema.Load(ml, features.Select(f => ModelSchema.ToInput(f, masked: mask)));
        return pipeline.Transform(data).GetColumn<float>("Probability").Select(p => (double)p).ToList();
    }

    public void Dispose()
    {
        while (engines.TryTake(out var engine))
        {
            engine.Dispose();
        }
    }
}
