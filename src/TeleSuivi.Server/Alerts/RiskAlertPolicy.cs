using System.Globalization;

namespace TeleSuivi.Server.Alerts;

/// <summary>A risk model's output for one patient: the probability of an exacerbation and why, in sentences.</summary>
/// <param name="Explanations">The reasons in English.</param>
/// <param name="ExplanationsFr">The same reasons in French, in the same order (none: the board shows the English ones).</param>
public sealed record RiskScore(string PatientId, double Probability, IReadOnlyList<string> Explanations, DateTimeOffset Time, IReadOnlyList<string>? ExplanationsFr = null);

/// <summary>
/// Turns a stream of risk scores into alerts without flapping: an alert is raised at
/// <see cref="RiskPolicyOptions.RaiseAt"/> and ends only below <see cref="RiskPolicyOptions.ClearBelow"/>
/// (hysteresis); while raised, or within <see cref="RiskPolicyOptions.CoolDown"/> of the last alert, the patient is
/// alerted again only if the probability rises by <see cref="RiskPolicyOptions.MaterialRise"/> above the last alerted
/// one. Fed by the risk scorer through <see cref="AlertFeed.SubmitRiskAsync"/>. The state is rebuilt at start from the
/// stored alerts (<see cref="Restore"/>), so a restart neither re-raises within the cool-down nor forgets a raised alert.
/// </summary>
public sealed class RiskAlertPolicy(RiskPolicyOptions options)
{
    private readonly Dictionary<string, State> states = new(StringComparer.Ordinal);

    /// <summary>Evidence label of the probability an alert was raised at, with the score's time.</summary>
    public const string RiskEvidence = EvidenceLabels.Risk;

    /// <summary>
    /// Takes up a patient's state from their latest risk alert as stored: raised while its condition lasts (even if a
    /// nurse resolved it), and the probability and score time of the last alert — everything <see cref="Evaluate"/> keeps.
    /// </summary>
    public void Restore(Alert latest)
    {
        ArgumentNullException.ThrowIfNull(latest);
        var alerted = latest.Evidence.FirstOrDefault(e => e.Label == RiskEvidence);
        states[latest.PatientId] = new State
        {
            Raised = latest.ConditionEndedAt is null && latest.Status != AlertStatuses.Cleared,
            LastAlerted = alerted?.Value ?? latest.Risk,
            LastAlertAt = alerted?.Time ?? latest.UpdatedAt,
        };
    }

    public AlertSignal? Evaluate(RiskScore score)
    {
        ArgumentNullException.ThrowIfNull(score);
        if (double.IsNaN(score.Probability) || score.Probability is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(score), score.Probability, "a probability is between 0 and 1");
        }

        if (!states.TryGetValue(score.PatientId, out var state))
        {
            states[score.PatientId] = state = new State();
        }

        var key = new AlertKey(score.PatientId, AlertKinds.Risk, string.Empty);
        var p = score.Probability;
        if (p < options.ClearBelow)
        {
            if (!state.Raised)
            {
                return null;
            }

            state.Raised = false;
            return new AlertSignal.Ended(key, new(
                $"Risk fell to {Percent(p)} (below {Percent(options.ClearBelow)})",
                $"Risque redescendu à {Percent(p)} (sous {Percent(options.ClearBelow)})"));
        }

        if (p < options.RaiseAt && !state.Raised)
        {
            return null;
        }

        var rose = state.LastAlerted is { } last && p >= last + options.MaterialRise;
        var coolingDown = state.LastAlertAt is { } at && score.Time - at < options.CoolDown;
        var alert = state.Raised ? rose : p >= options.RaiseAt && (!coolingDown || rose);
        if (!alert)
        {
            return null;
        }

        var previous = state.LastAlerted;
        state.Raised = true;
        state.LastAlerted = p;
        state.LastAlertAt = score.Time;
        var severity = p >= options.CriticalAt ? AlertSeverity.Critical : AlertSeverity.Warning;
        var reason = previous is { } before && rose
            ? new LocalizedText($"Exacerbation risk rose from {Percent(before)} to {Percent(p)}", $"Risque d'exacerbation passé de {Percent(before)} à {Percent(p)}")
            : new LocalizedText($"Exacerbation risk {Percent(p)} (alert at {Percent(options.RaiseAt)})", $"Risque d'exacerbation {Percent(p)} (alerte à {Percent(options.RaiseAt)})");
        var evidence = score.Explanations.Select((text, i) => new AlertEvidence(score.Time, EvidenceLabels.RiskFactor, Detail: text, DetailFr: score.ExplanationsFr?.ElementAtOrDefault(i)))
            .Prepend(new AlertEvidence(score.Time, RiskEvidence, p, EvidenceLabels.Probability))
            .ToList();
        return new AlertSignal.Raise(new AlertDraft(key, severity, reason, evidence, p));
    }

    private static string Percent(double p) => (p * 100).ToString("0", CultureInfo.InvariantCulture) + " %";

    private sealed class State
    {
        public bool Raised { get; set; }

        public double? LastAlerted { get; set; }

        public DateTimeOffset? LastAlertAt { get; set; }
    }
}
