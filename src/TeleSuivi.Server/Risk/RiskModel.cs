using Microsoft.Extensions.Diagnostics.HealthChecks;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// The model the server scores with, loaded once at start by <see cref="OnlineRiskScorer"/>: until then, and when
/// scoring is on, stored readings queue for it; when scoring is off they are not kept.
/// </summary>
public sealed class RiskModel : IDisposable
{
    private volatile RiskScorer? scorer;
    private volatile string status = "starting: the model is not loaded yet";
    private volatile bool off;

    /// <summary>The loaded scorer, or null while starting or when scoring is off.</summary>
    public RiskScorer? Scorer => scorer;

    /// <summary>The version written in each RiskAssessment's <c>method</c>: the model file's name without extension.</summary>
    public string Version { get; private set; } = string.Empty;

    /// <summary>True once scoring is known to be off (disabled, or the model could not be loaded).</summary>
    public bool IsOff => off;

    public string Status => status;

    /// <summary>
    /// Loads the model of <paramref name="options"/>. A missing or incompatible model is a <see cref="ConfigurationException"/>
    /// when <c>Risk:Enabled</c> is true, and turns scoring off with the reason (returned) when it is unset.
    /// </summary>
    public string? Load(RiskOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Enabled == false)
        {
            TurnOff("off: Risk:Enabled is false");
            return null;
        }

        var path = ResolvePath(options.ModelPath);
        try
        {
            var loaded = RiskScorer.Load(path);
            Version = Path.GetFileNameWithoutExtension(path);
            scorer = loaded;
            status = $"scoring with {path} ({loaded.Info.Name}, {loaded.Info.FeatureNames.Count} features)";
            return null;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            var reason = $"the risk model {path} cannot be used: {ex.Message}";
            if (options.Enabled == true)
            {
                throw new ConfigurationException($"{reason} (Risk:Enabled is true: fix Risk:ModelPath, train one with 'telesuivi train', or set Risk:Enabled to false)", ex);
            }

            TurnOff($"off: {reason} (set Risk:ModelPath, or Risk:Enabled=false to silence this)");
            return reason;
        }
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
