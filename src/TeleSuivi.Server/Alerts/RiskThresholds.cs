using System.Globalization;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Server.Risk;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// The risk alert thresholds the platform runs with, and where they came from. A calibrated model's probabilities are
/// small (the base rate of an onset within 72 h is about 1 %), so no fixed probability means the same with every
/// model: by default raise-at is that of the model's evaluated operating point for the nurses' alert budget
/// (<see cref="RiskPolicyOptions.AlertsPerPatientDay"/>), clear-below scales with it and critical-at is that of the
/// budget a tenth as large, exactly as the evaluation counted alerts (<see cref="EpisodeOperatingPoints"/>), so the
/// platform alerts as evaluated.
/// </summary>
/// <param name="Budget">The budget the thresholds were chosen for (none when raise-at was set explicitly).</param>
/// <param name="Evaluated">The evaluated operating point raise-at comes from (none when set explicitly).</param>
/// <param name="Source">Where raise-at came from, for the log and <c>/health/ready</c>.</param>
public sealed record RiskThresholds(
    double RaiseAt, double ClearBelow, double CriticalAt, TimeSpan CoolDown, double? Budget, OperatingPoint? Evaluated, string Source)
{
    /// <summary>≈ 17 risk alerts a nurse-day for 3 nurses and 1,000 patients: the issue's budget, and the evaluation's target.</summary>
    public const double DefaultAlertsPerPatientDay = 0.05;

    /// <summary>
    /// Critical alerts are those the model would still raise with a budget this many times smaller: the top tenth of
    /// the alerts, where the evaluation's precision is several times higher. A multiple of the base rate was the other
    /// candidate; this one follows the model's own ranking and the nurses' budget, not the cohort's prevalence.
    /// </summary>
    public const double CriticalBudgetDivisor = EpisodeOperatingPoints.CriticalBudgetDivisor;

    /// <summary>With an explicit raise-at and no critical-at, critical starts at twice raise-at (the former 0.60 for 0.30).</summary>
    public const double ExplicitCriticalFactor = 2;

    /// <summary>The same thresholds as the evaluation's rule (<see cref="EpisodeAlertRule"/>) takes them.</summary>
    public EpisodePolicy Policy => new(RaiseAt, ClearBelow, CriticalAt, CoolDown);

    /// <summary>
    /// The thresholds of <paramref name="options"/> for a model with <paramref name="points"/> (null: none could be
    /// read, for the reason <paramref name="whyNoPoints"/>). A threshold set in the options wins over the derived one.
    /// </summary>
    /// <exception cref="ConfigurationException">A threshold out of range, a budget below every evaluated one, or no raise-at at all.</exception>
    public static RiskThresholds Resolve(RiskPolicyOptions options, ModelOperatingPoints? points, string? whyNoPoints = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var budget = options.AlertsPerPatientDay;
        if (!(budget is > 0 and <= 1))
        {
            throw new ConfigurationException(Invariant($"Alerts:Risk:AlertsPerPatientDay {budget} is not a budget: risk alerts per patient and day, above 0 and at most 1 (0.05 is about 17 a nurse-day for 3 nurses and 1,000 patients)"));
        }

        RiskThresholds derived;
        if (options.RaiseAt is { } raiseAt)
        {
            Check(raiseAt is > 0 and < 1, Invariant($"Alerts:Risk:RaiseAt {raiseAt} is not a probability between 0 and 1 (exclusive)"));
            var scaled = EpisodePolicy.PlatformDefault.ScaledTo(raiseAt);
            derived = new(raiseAt, scaled.ClearBelow, Math.Min(1, ExplicitCriticalFactor * raiseAt), options.CoolDown, null, null,
                "Alerts:Risk:RaiseAt, set in the configuration");
        }
        else
        {
            var cannotFollow = "Alerts:Risk:RaiseAt is not set and the risk alert threshold cannot follow the model";
            var evaluate = "Evaluate the model ('telesuivi evaluate --model FILE --out FILE-without-.zip.evaluation') or set Alerts:Risk:RaiseAt";
            points = points ?? throw new ConfigurationException($"{cannotFollow}: {whyNoPoints?.TrimEnd('.') ?? "it has no operating points"}. {evaluate}");
            var configured = (EpisodePolicy.PlatformDefault with { CoolDown = options.CoolDown }).Describe();
            if (points.AlertPolicy != configured)
            {
                // A raise-at counted under another policy spends another budget: for the shipped model, 0.05 alerts per
                // patient-day was raise-at 0.72 % under one alert per episode and is 0.82 % under the 6-day cool-down.
                throw new ConfigurationException(
                    $"{cannotFollow}: {points.ReportPath} counted alerts with another risk alert policy ({points.AlertPolicy ?? "one alert per episode: a report written before the policy was recorded"}) "
                    + $"than the one configured ({configured}), so its raise-at would spend another budget. {evaluate}"
                    + (options.CoolDown == EpisodePolicy.DefaultCoolDown ? string.Empty : Invariant($", with --cool-down {options.CoolDown.TotalDays} for Alerts:Risk:CoolDown {options.CoolDown}")));
            }

            derived = FromOperatingPoints(budget, options.CoolDown, points);
        }

        var resolved = derived with
        {
            ClearBelow = options.ClearBelow ?? derived.ClearBelow,
            CriticalAt = options.CriticalAt ?? derived.CriticalAt,
        };
        Check(resolved.ClearBelow >= 0 && resolved.ClearBelow <= resolved.RaiseAt, Invariant($"Alerts:Risk:ClearBelow {resolved.ClearBelow} must be between 0 and raise-at {resolved.RaiseAt}"));
        Check(resolved.CriticalAt >= resolved.RaiseAt && resolved.CriticalAt <= 1, Invariant($"Alerts:Risk:CriticalAt {resolved.CriticalAt} must be between raise-at {resolved.RaiseAt} and 1"));
        Check(resolved.CoolDown >= TimeSpan.Zero, $"Alerts:Risk:CoolDown {resolved.CoolDown} cannot be negative");
        return resolved;
    }

    /// <summary>
    /// The evaluated operating point with the largest budget not above <paramref name="budget"/> (never interpolated:
    /// between two evaluated points, the alert count of a raise-at in between was not measured, and this one keeps within
    /// the budget); critical-at from the one of a budget <see cref="CriticalBudgetDivisor"/> times smaller, or the
    /// smallest evaluated budget when the report has none that small.
    /// </summary>
    private static RiskThresholds FromOperatingPoints(double budget, TimeSpan coolDown, ModelOperatingPoints points)
    {
        const double Tolerance = 1e-9;
        var chosen = points.Points.LastOrDefault(p => p.Budget <= budget + Tolerance)
            ?? throw new ConfigurationException(Invariant(
                $"Alerts:Risk:AlertsPerPatientDay {budget} is below the smallest budget the model was evaluated at ({points.Points[0].Budget}, in {points.ReportPath}): set a budget of at least that, or Alerts:Risk:RaiseAt"));
        var critical = points.Points.LastOrDefault(p => p.Budget <= (budget / CriticalBudgetDivisor) + Tolerance) ?? points.Points[0];
        var raiseAt = chosen.RaiseAt!.Value;
        var scaled = EpisodePolicy.PlatformDefault.ScaledTo(raiseAt);
        return new(raiseAt, scaled.ClearBelow, Math.Max(raiseAt, critical.RaiseAt!.Value), coolDown, budget, chosen,
            Invariant($"the operating point at {chosen.Budget} alerts per patient-day of {points.ReportPath}; critical from the one at {critical.Budget}"));
    }

    /// <summary>One line for the log and <c>/health/ready</c>: every threshold and where it came from.</summary>
    public string Describe()
    {
        var budget = Budget is { } b ? Invariant($"budget {b} alerts per patient-day: ") : string.Empty;
        var evaluated = Evaluated is { } e
            ? Invariant($"; evaluated there: {e.AlertsPerPatientDay:0.000} alerts per patient-day, {e.EventSensitivity:P0} of exacerbations alerted 1-7 days ahead")
            : string.Empty;
        return $"{budget}raise at {Percent(RaiseAt)}, clear below {Percent(ClearBelow)}, critical at {Percent(CriticalAt)}, one alert per {CoolDown} at most (from {Source}{evaluated})";
    }

    /// <summary>A probability as a percentage with two significant digits at least: 0.35 → "35 %", 0.0072 → "0.72 %".</summary>
    public static string Percent(double p)
    {
        var percent = p * 100;
        var format = percent >= 10 || percent == 0 ? "0" : percent >= 1 ? "0.#" : "0.##";
        return percent.ToString(format, CultureInfo.InvariantCulture) + " %";
    }

    private static void Check(bool valid, string message)
    {
        if (!valid)
        {
            throw new ConfigurationException(message);
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
