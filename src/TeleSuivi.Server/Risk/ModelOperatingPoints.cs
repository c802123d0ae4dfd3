using System.Text.Json;
using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// A model's operating points as the platform alerts (one alert per episode), read from its evaluation report: for each
/// alert budget the report measured, the raise-at that spends it on the held-out patients. They travel with the model
/// in <c>{model without .zip}.evaluation/evaluation.json</c> (written by <c>telesuivi evaluate --out</c> and
/// <c>train --from-store</c>, copied by <c>model activate</c>), and are taken only from the report of that very file.
/// </summary>
/// <param name="Points">Ordered by budget, each with its raise-at.</param>
public sealed record ModelOperatingPoints(string ReportPath, IReadOnlyList<OperatingPoint> Points)
{
    /// <summary>
    /// Reads the operating points of the model file of SHA-256 <paramref name="modelSha256"/> at <paramref name="modelPath"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">No report beside the model, a report of another file, or one without operating points.</exception>
    public static ModelOperatingPoints Read(string modelPath, string modelSha256)
    {
        var path = Path.Combine(ActiveModel.EvaluationFolderOf(modelPath), EvaluationReport.JsonFile);
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

        if (!string.Equals(report.ModelSha256, modelSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"{path} evaluated a file of SHA-256 {report.ModelSha256 ?? "(none recorded)"}, not this model ({modelSha256}): its thresholds would be another model's");
        }

        // The model is the report's first scorer (the baselines follow it).
        var model = report.Scorers is { Count: > 0 } scorers ? scorers[0] : null;
        var points = (model?.PolicyOperatingPoints ?? []).Concat(model?.PolicyCurve ?? [])
            .Where(p => p.RaiseAt is > 0 and < 1 && p.Budget > 0)
            .DistinctBy(p => p.Budget)
            .OrderBy(p => p.Budget)
            .ToList();
        return points.Count > 0
            ? new ModelOperatingPoints(path, points)
            : throw new InvalidDataException($"{path} has no operating points as the platform alerts (PolicyOperatingPoints with RaiseAt): evaluate the model again with this version");
    }

    // As the report is written: a figure with nothing to measure (the median lead of no alerted event) is "NaN".
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private sealed record Report(string? ModelSha256, IReadOnlyList<ReportScorer>? Scorers);

    private sealed record ReportScorer(IReadOnlyList<OperatingPoint>? PolicyOperatingPoints, IReadOnlyList<OperatingPoint>? PolicyCurve);
}
