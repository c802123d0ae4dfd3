using System.Text.Json;
using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// What the server reads of a model's evaluation report (<c>{model without .zip}.evaluation/evaluation.json</c>,
/// written by <c>telesuivi evaluate --out</c> and <c>train --from-store</c>): the SHA-256 of the file it evaluated, the
/// model's AUROC, and its operating points as the platform alerts. The one reader of that file, for activation
/// (<see cref="ActiveModel"/>), <c>model list</c> and the alert thresholds (<see cref="ModelOperatingPoints"/>).
/// </summary>
/// <param name="ModelSha256">The SHA-256 of the model file the report evaluated; null when the report records none.</param>
/// <param name="ModelAuroc">The model's AUROC on its held-out patients (the report's first scorer); null when absent.</param>
/// <param name="PolicyPoints">The model's operating points with a raise-at, one per budget, ordered by budget (table and curve).</param>
/// <param name="AlertPolicy">The risk alert policy the points were counted with; null in reports written before it was recorded.</param>
public sealed record ModelReport(string Path, string? ModelSha256, double? ModelAuroc, IReadOnlyList<OperatingPoint> PolicyPoints, string? AlertPolicy = null)
{
    /// <summary>Where the report of <paramref name="modelPath"/> lies.</summary>
    public static string PathOf(string modelPath) => System.IO.Path.Combine(ActiveModel.EvaluationFolderOf(modelPath), EvaluationReport.JsonFile);

    /// <exception cref="InvalidDataException">No report beside the model, or a file that is not an evaluation report.</exception>
    public static ModelReport Read(string modelPath)
    {
        var path = PathOf(modelPath);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"the model has no evaluation report at {path}");
        }

        Report report;
        try
        {
            report = JsonSerializer.Deserialize<Report>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not an evaluation report: {ex.Message}", ex);
        }

        // The model is the report's first scorer (the baselines follow it).
        var model = report.Scorers is { Count: > 0 } scorers ? scorers[0] : null;
        var points = (model?.PolicyOperatingPoints ?? []).Concat(model?.PolicyCurve ?? [])
            .Where(p => p.RaiseAt is > 0 and < 1 && p.Budget > 0)
            .DistinctBy(p => p.Budget)
            .OrderBy(p => p.Budget)
            .ToList();
        return new ModelReport(path, report.ModelSha256, model?.Auroc, points, report.AlertPolicy);
    }

    // As the report is written: a figure with nothing to measure (the median lead of no alerted event) is "NaN".
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private sealed record Report(string? ModelSha256, IReadOnlyList<ReportScorer>? Scorers, string? AlertPolicy);

    private sealed record ReportScorer(double? Auroc, IReadOnlyList<OperatingPoint>? PolicyOperatingPoints, IReadOnlyList<OperatingPoint>? PolicyCurve);
}
