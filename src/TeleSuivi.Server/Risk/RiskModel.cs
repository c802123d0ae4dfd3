using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Model;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// The model the server scores with, loaded once at start by <see cref="OnlineRiskScorer"/>: until then, and when
/// scoring is on, stored readings queue for it; when scoring is off they are not kept. With <c>Risk:ModelPath</c> at
/// its default, a model activated in the data folder (<see cref="ActiveModel"/>) is preferred to the shipped one; a
/// new activation takes effect at the next start. The model's operating points (its evaluation report) set the risk
/// alert thresholds (<see cref="ResolveAlertThresholds"/>).
/// </summary>
public sealed class RiskModel(IOptions<StoreOptions>? store) : IDisposable
{
    /// <summary>A model without a data folder: only <c>Risk:ModelPath</c> counts (tests, tools).</summary>
    public RiskModel()
        : this(null)
    {
    }

    private volatile RiskScorer? scorer;
    private volatile string status = "starting: the model is not loaded yet";
    private volatile bool off;
    private readonly Lock gate = new();
    private bool attempted;
    private string? offReason;
    private ModelOperatingPoints? operatingPoints;
    private string? whyNoOperatingPoints;

    /// <summary>The loaded scorer, or null while starting or when scoring is off.</summary>
    public RiskScorer? Scorer => scorer;

    /// <summary>The version written in each RiskAssessment's <c>method</c>: the model file's name without extension.</summary>
    public string Version { get; private set; } = string.Empty;

    /// <summary>True once scoring is known to be off (disabled, or the model could not be loaded).</summary>
    public bool IsOff => off;

    public string Status => status;

    /// <summary>SHA-256 of the loaded model file (empty until loaded): which model scored is never in doubt.</summary>
    public string Sha256 { get; private set; } = string.Empty;

    /// <summary>The risk alert thresholds for this model, once <see cref="ResolveAlertThresholds"/> resolved them.</summary>
    public RiskThresholds? AlertThresholds { get; private set; }

    /// <summary>
    /// Loads the model of <paramref name="options"/>, once: the alert engine and the scorer both need it at start, and
    /// later calls return the first call's outcome. A missing or incompatible model is a <see cref="ConfigurationException"/>
    /// when <c>Risk:Enabled</c> is true, and turns scoring off with the reason (returned) when it is unset.
    /// </summary>
    public string? Load(RiskOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (gate)
        {
            if (!attempted)
            {
                offReason = LoadOnce(options);
                attempted = true;
            }

            return offReason;
        }
    }

    /// <summary>
    /// The risk alert thresholds of <paramref name="policy"/> for the loaded model (see <see cref="RiskThresholds"/>),
    /// added to <see cref="Status"/>; null when scoring is off (no score will be alerted on).
    /// </summary>
    /// <exception cref="ConfigurationException">The thresholds cannot be resolved (<see cref="RiskThresholds.Resolve"/>).</exception>
    public RiskThresholds? ResolveAlertThresholds(RiskOptions options, RiskPolicyOptions policy)
    {
        Load(options);
        lock (gate)
        {
            if (AlertThresholds is null && scorer is not null)
            {
                AlertThresholds = RiskThresholds.Resolve(policy, operatingPoints, whyNoOperatingPoints);
                status = $"{status}; risk alerts: {AlertThresholds.Describe()}";
            }

            return AlertThresholds;
        }
    }

    private string? LoadOnce(RiskOptions options)
    {
        if (options.Enabled == false)
        {
            TurnOff("off: Risk:Enabled is false");
            return null;
        }

        string? path = null;
        try
        {
            (path, var origin) = Choose(options);
            var loaded = RiskScorer.Load(path);
            Sha256 = ModelEvaluation.Sha256Of(path);
            Version = Path.GetFileNameWithoutExtension(path);
            try
            {
                operatingPoints = ModelOperatingPoints.Read(path, Sha256);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                whyNoOperatingPoints = ex.Message;
            }

            scorer = loaded;
            status = $"scoring with {path} ({loaded.Info.Name}, {loaded.Info.FeatureNames.Count} features, SHA-256 {Sha256[..12]}; {origin})";
            return null;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            var reason = path is null ? $"the risk model cannot be used: {ex.Message}" : $"the risk model {path} cannot be used: {ex.Message}";
            if (options.Enabled == true)
            {
                throw new ConfigurationException($"{reason} (Risk:Enabled is true: fix Risk:ModelPath, train one with 'telesuivi train', or set Risk:Enabled to false)", ex);
            }

            TurnOff($"off: {reason} (set Risk:ModelPath, or Risk:Enabled=false to silence this)");
            return reason;
        }
    }

    /// <summary>
    /// The configured model, or the activated one when <c>Risk:ModelPath</c> is left at the shipped model; an active model
    /// whose file no longer matches the checksum of its manifest is refused, never silently replaced by another.
    /// </summary>
    private (string Path, string Origin) Choose(RiskOptions options)
    {
        var dataDirectory = store?.Value.DataDirectory;
        if (dataDirectory is null || !string.Equals(options.ModelPath, RiskOptions.ShippedModel, StringComparison.Ordinal)
            || ActiveModel.Read(dataDirectory) is not { } manifest)
        {
            return (ResolvePath(options.ModelPath), options.ModelPath == RiskOptions.ShippedModel ? "the shipped model" : "Risk:ModelPath");
        }

        var path = ActiveModel.PathOf(dataDirectory, manifest);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the active model {path} (telesuivi model activate) is missing", path);
        }

        var sha = ModelEvaluation.Sha256Of(path);
        if (!string.Equals(sha, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"the active model {path} has SHA-256 {sha}, not the {manifest.Sha256} it was activated with: the file changed; activate a model again with 'telesuivi model activate'");
        }

        return (path, $"activated {manifest.ActivatedAt:u} by {manifest.ActivatedBy}");
    }

    /// <summary>A relative path is looked for beside the executable (where the shipped model is copied), then in the current folder.</summary>
    public static string ResolvePath(string modelPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        if (Path.IsPathRooted(modelPath))
        {
            return modelPath;
        }

        var besideExecutable = Path.Combine(AppContext.BaseDirectory, modelPath);
        return File.Exists(besideExecutable) ? besideExecutable : Path.GetFullPath(modelPath);
    }

    public HealthCheckResult Health() =>
        scorer is not null ? HealthCheckResult.Healthy(status)
        : off ? HealthCheckResult.Degraded(status)
        : HealthCheckResult.Healthy(status);

    public void Dispose() => scorer?.Dispose();

    private void TurnOff(string why)
    {
        status = why;
        off = true;
    }
}

/// <summary>Reports whether risk scoring runs, and why not; degraded (still ready) when it is off.</summary>
public sealed class RiskHealthCheck(RiskModel model) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(model.Health());
}
