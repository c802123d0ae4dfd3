using Microsoft.ML;
using Microsoft.ML.Data;
using TeleSuivi.Risk.Features;

namespace TeleSuivi.Risk.Model;

/// <summary>What the ML.NET pipeline reads: the feature vector (missing values already replaced) and, in training, the label.</summary>
public sealed class ModelInput
{
    public float[] Features { get; set; } = [];

    public bool Label { get; set; }
}

/// <summary>What the pipeline writes: the raw tree score, the calibrated probability and each feature's contribution to the score.</summary>
public sealed class ModelOutput
{
    public float Score { get; set; }

    public float Probability { get; set; }

    public float[] FeatureContributions { get; set; } = [];
}

/// <summary>The column layout shared by training and scoring, and the one treatment of missing values.</summary>
public static class ModelSchema
{
    /// <summary>
    /// What a missing feature (NaN: no reading, no baseline yet, no environment) becomes before the trees see it.
    /// ML.NET's FastTree skips every row with a NaN feature, and nearly every row has one (a patient without a scale
    /// has no weight features), so missing is a value of its own, far below any real feature: each split can then
    /// send "missing" its own way, and the explanations recognise it.
    /// </summary>
    public const float Missing = -1e6f;

    public static SchemaDefinition Input()
    {
        var definition = SchemaDefinition.Create(typeof(ModelInput));
        definition[nameof(ModelInput.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, FeatureSchema.Count);
        return definition;
    }

    /// <summary>
    /// The model's input from a feature vector (<see cref="FeatureSchema"/> layout, NaN for missing): its first
    /// <see cref="FeatureSchema.Count"/> values; the explanation values after them are not model inputs.
    /// </summary>
    public static ModelInput ToInput(ReadOnlySpan<float> features, bool label = false, ReadOnlySpan<bool> masked = default)
    {
        if (features.Length != FeatureSchema.Count && features.Length != FeatureSchema.VectorLength)
        {
            throw new ArgumentException($"a feature vector has {FeatureSchema.Count} values (or {FeatureSchema.VectorLength} with the explanations'), not {features.Length}", nameof(features));
        }

        var values = new float[FeatureSchema.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = float.IsFinite(features[i]) && (masked.IsEmpty || !masked[i]) ? features[i] : Missing;
        }

        return new ModelInput { Features = values, Label = label };
    }

    public static IDataView Load(MLContext ml, IEnumerable<ModelInput> rows)
    {
        ArgumentNullException.ThrowIfNull(ml);
        return ml.Data.LoadFromEnumerable(rows, Input());
    }

    /// <summary>The features hidden by <paramref name="options"/>' ablations (environment, history or only its year before enrolment, missing data); null when none is.</summary>
    public static bool[]? Mask(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.WithoutEnvironment && !options.WithoutHistory && !options.WithoutPriorYear && !options.WithoutMissingData)
        {
            return null;
        }

        var mask = new bool[FeatureSchema.Count];
        void Hide(int from, int count, bool hidden) => mask.AsSpan(from, count).Fill(hidden);
        Hide(FeatureSchema.EnvironmentOffset(0), FeatureSchema.SeasonOffset - FeatureSchema.EnvironmentOffset(0), options.WithoutEnvironment);
        Hide(FeatureSchema.HistoryOffset, FeatureSchema.HistoryBlock.Count, options.WithoutHistory);
        mask[FeatureSchema.Index(FeatureSchema.PriorYearExacerbations)] |= options.WithoutPriorYear;
        Hide(FeatureSchema.MissingDataOffset, FeatureSchema.MissingDataBlock.Count, options.WithoutMissingData);
        return mask;
    }
}
