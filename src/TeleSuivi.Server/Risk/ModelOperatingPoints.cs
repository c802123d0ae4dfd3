using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// A model's operating points as the platform alerts (through its risk alert policy), read from its evaluation report
/// (<see cref="ModelReport"/>): for each alert budget the report measured, the raise-at that spends it on the held-out
/// patients. They travel with the model in <c>{model without .zip}.evaluation/evaluation.json</c> (copied by
/// <c>model activate</c>), and are taken only from the report of that very file.
/// </summary>
/// <param name="Points">Ordered by budget, each with its raise-at.</param>
/// <param name="AlertPolicy">The risk alert policy they were counted with (<see cref="EpisodePolicy.Describe"/>); null in reports written before it was recorded.</param>
public sealed record ModelOperatingPoints(string ReportPath, IReadOnlyList<OperatingPoint> Points, string? AlertPolicy)
{
    /// <summary>
    /// Reads the operating points of the model file of SHA-256 <paramref name="modelSha256"/> at <paramref name="modelPath"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">No report beside the model, a report of another file, or one without operating points.</exception>
    public static ModelOperatingPoints Read(string modelPath, string modelSha256)
    {
        var report = ModelReport.Read(modelPath);
        if (!string.Equals(report.ModelSha256, modelSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"{report.Path} evaluated a file of SHA-256 {report.ModelSha256 ?? "(none recorded)"}, not this model ({modelSha256}): its thresholds would be another model's");
        }

        return report.PolicyPoints.Count > 0
            ? new ModelOperatingPoints(report.Path, report.PolicyPoints, report.AlertPolicy)
            : throw new InvalidDataException($"{report.Path} has no operating points as the platform alerts (PolicyOperatingPoints with RaiseAt): evaluate the model again with this version");
    }
}
