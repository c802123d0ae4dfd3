using System.Text.Json;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// The model a programme activated (<c>telesuivi model activate</c>), recorded in <c>{data}/models/active.json</c>:
/// which file (a copy kept in <c>{data}/models/</c>, with its evaluation report beside it), its SHA-256, who activated
/// it and when, and where it came from.
/// </summary>
public sealed record ActiveModelManifest(string File, string Sha256, string Name, DateTimeOffset ActivatedAt, string ActivatedBy, string Source, double? HeldOutAuroc);

/// <summary>A model that cannot be activated, and why.</summary>
public sealed class ModelActivationException(string message) : Exception(message);

/// <summary>
/// Activation of a candidate model. A model is activated only with its evaluation report beside it
/// (<c>{model without .zip}.evaluation/</c>, written by <c>train --from-store</c> or <c>evaluate --out</c>) whose
/// <c>evaluation.json</c> names the SHA-256 of that very file: nobody activates a model whose figures nobody saw.
/// </summary>
public static class ActiveModel
{
    public const string ManifestFile = "active.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The folder of activated models and their manifest: <c>{data}/models</c>.</summary>
    public static string DirectoryOf(string dataDirectory) => Path.Combine(dataDirectory, "models");

    /// <summary>Where a model's evaluation report is looked for: <c>model.zip</c> → <c>model.evaluation/</c>.</summary>
    public static string EvaluationFolderOf(string modelPath) => Path.ChangeExtension(Path.GetFullPath(modelPath), null) + ".evaluation";

    /// <summary>The manifest of the active model, or null when none was activated in this data folder.</summary>
    public static ActiveModelManifest? Read(string dataDirectory)
    {
        var path = Path.Combine(DirectoryOf(dataDirectory), ManifestFile);
        if (!System.IO.File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ActiveModelManifest>(System.IO.File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not an active-model manifest: {ex.Message}", ex);
        }
    }

    /// <summary>The full path of the model file a manifest names (kept in <c>{data}/models</c>).</summary>
    public static string PathOf(string dataDirectory, ActiveModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return Path.Combine(DirectoryOf(dataDirectory), Path.GetFileName(manifest.File));
    }

    /// <summary>
    /// Checks <paramref name="modelPath"/> and its report, copies both into <c>{data}/models</c> and writes the manifest
    /// (atomically: a server starting meanwhile reads the old manifest or the new one, never half of one).
    /// </summary>
    public static ActiveModelManifest Activate(string modelPath, string dataDirectory, string actor, DateTimeOffset now)
    {
        var source = Path.GetFullPath(modelPath);
        ModelInfo info;
        try
        {
            using var scorer = RiskScorer.Load(source);
            info = scorer.Info;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or InvalidOperationException or FormatException)
        {
            throw new ModelActivationException($"{source} cannot be activated: {ex.Message}");
        }

        var sha = ModelEvaluation.Sha256Of(source);
        var report = EvaluationFolderOf(source);
        var json = Path.Combine(report, EvaluationReport.JsonFile);
        if (!System.IO.File.Exists(json) || !System.IO.File.Exists(Path.Combine(report, EvaluationReport.MarkdownFile)))
        {
            throw new ModelActivationException(
                $"{source} has no evaluation report beside it ({report}/{EvaluationReport.JsonFile} and {EvaluationReport.MarkdownFile}): produce one with 'telesuivi train --from-store' or 'telesuivi evaluate --model {source} --out {report}', read it, then activate");
        }

        ModelReport read;
        try
        {
            read = ModelReport.Read(source);
        }
        catch (InvalidDataException ex)
        {
            throw new ModelActivationException($"{json} cannot be read: {ex.Message}");
        }

        var reported = read.ModelSha256;
        if (reported is null || !string.Equals(reported, sha, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelActivationException(
                $"the evaluation report {json} is not the report of {source}: it evaluated a file of SHA-256 {reported ?? "(none recorded)"}, this file's is {sha}; evaluate this file before activating it");
        }

        var directory = DirectoryOf(dataDirectory);
        Directory.CreateDirectory(directory);
        var name = $"{info.Name}-{sha[..12]}.zip";
        var target = Path.Combine(directory, name);
        if (!string.Equals(Path.GetFullPath(target), source, StringComparison.Ordinal))
        {
            System.IO.File.Copy(source, target + ".tmp", overwrite: true);
            System.IO.File.Move(target + ".tmp", target, overwrite: true);
            var targetReport = EvaluationFolderOf(target);
            Directory.CreateDirectory(targetReport);
            foreach (var file in Directory.EnumerateFiles(report))
            {
                System.IO.File.Copy(file, Path.Combine(targetReport, Path.GetFileName(file)), overwrite: true);
            }
        }

        var manifest = new ActiveModelManifest(name, sha, info.Name, now, actor, source, read.ModelAuroc);
        var manifestPath = Path.Combine(directory, ManifestFile);
        System.IO.File.WriteAllText(manifestPath + ".tmp", JsonSerializer.Serialize(manifest, Json));
        System.IO.File.Move(manifestPath + ".tmp", manifestPath, overwrite: true);
        return manifest;
    }
}
