using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Server.Alerts;

/// <summary>A risk model's output for one patient: the probability of an exacerbation and why, in sentences.</summary>
/// <param name="Explanations">The reasons in English.</param>
/// <param name="ExplanationsFr">The same reasons in French, in the same order (none: the board shows the English ones).</param>
/// <param name="BeforeBaseline">No measure of the patient has a personal baseline yet (fewer than 10 days of readings).</param>
public sealed record RiskScore(string PatientId, double Probability, IReadOnlyList<string> Explanations, DateTimeOffset Time, IReadOnlyList<string>? ExplanationsFr = null, bool BeforeBaseline = false);

/// <summary>
/// Turns a stream of risk scores into alerts without flapping: an alert is raised at
/// <see cref="RiskThresholds.RaiseAt"/> and ends only below <see cref="RiskThresholds.ClearBelow"/>
/// (hysteresis); a patient gets at most one risk alert per <see cref="RiskThresholds.CoolDown"/>: once it has passed, a
/// patient whose risk is still at raise-at is alerted again (a reminder, even after a nurse resolved the last alert),
/// and within it only a risk that reaches <see cref="RiskThresholds.CriticalAt"/> from below is. The thresholds follow the model in use (<see cref="RiskThresholds.Resolve"/>). Fed by the risk scorer through <see cref="AlertFeed.SubmitRiskAsync"/>. The state is rebuilt at start from the
/// stored alerts (<see cref="Restore"/>), so a restart neither re-raises within the cool-down nor forgets a raised alert.
/// The rule itself is <see cref="EpisodeAlertRule"/>, one per patient, the same the evaluation counts alerts with.
/// A patient without a personal baseline yet (<see cref="RiskScore.BeforeBaseline"/>) is not alerted on.
/// </summary>
public sealed class RiskAlertPolicy(RiskThresholds thresholds)
{
    private readonly Dictionary<string, EpisodeAlertRule> states = new(StringComparer.Ordinal);
    private readonly EpisodePolicy policy = thresholds.Policy;

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
        var rule = new EpisodeAlertRule(policy);
        rule.Restore(
            raised: latest.ConditionEndedAt is null && latest.Status != AlertStatuses.Cleared,
            lastAlerted: alerted?.Value ?? latest.Risk,
            lastAlertAt: alerted?.Time ?? latest.UpdatedAt);
        states[latest.PatientId] = rule;
    }

    public AlertSignal? Evaluate(RiskScore score)
    {
        ArgumentNullException.ThrowIfNull(score);
        if (double.IsNaN(score.Probability) || score.Probability is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(score), score.Probability, "a probability is between 0 and 1");
        }

        if (!states.TryGetValue(score.PatientId, out var rule))
        {
            if (score.BeforeBaseline)
            {
                // A patient the model does not know yet (a first reading, a new enrolment) scores high for lack of
                // data, not of health: in the demo 3 in 4 patients' first scores were above raise-at, a few minutes
                // before their history brought the median down by half. Until a personal baseline exists, only the
                // vital limits and the data gaps alert; a patient already alerted on goes on as usual.
                return null;
            }

            states[score.PatientId] = rule = new EpisodeAlertRule(policy);
        }

        var key = new AlertKey(score.PatientId, AlertKinds.Risk, string.Empty);
        var p = score.Probability;
        var previous = (rule.LastAlerted, rule.LastAlertAt);
        var step = rule.Step(p, score.Time);
        switch (step)
        {
            case EpisodeStep.None:
                return null;
            case EpisodeStep.End:
                return new AlertSignal.Ended(key, new(
                    $"Risk fell to {Percent(p)} (below {Percent(thresholds.ClearBelow)})",
                    $"Risque redescendu à {PercentFr(p)} (sous {PercentFr(thresholds.ClearBelow)})"));
        }

        var severity = p >= thresholds.CriticalAt ? AlertSeverity.Critical : AlertSeverity.Warning;
        var reason = step == EpisodeStep.Remind && previous.LastAlertAt is { } lastAt
            ? Still(p, score.Time - lastAt)
            : step == EpisodeStep.Escalate && previous.LastAlerted is { } before
                ? new LocalizedText($"Exacerbation risk rose from {Percent(before)} to {Percent(p)} (critical from {Percent(thresholds.CriticalAt)})", $"Risque d'exacerbation passé de {PercentFr(before)} à {PercentFr(p)} (critique à partir de {PercentFr(thresholds.CriticalAt)})")
                : new LocalizedText($"Exacerbation risk {Percent(p)} (alert at {Percent(thresholds.RaiseAt)})", $"Risque d'exacerbation {PercentFr(p)} (alerte à {PercentFr(thresholds.RaiseAt)})");
        var evidence = score.Explanations.Select((text, i) => new AlertEvidence(score.Time, EvidenceLabels.RiskFactor, Detail: text, DetailFr: score.ExplanationsFr?.ElementAtOrDefault(i)))
            .Prepend(new AlertEvidence(score.Time, RiskEvidence, p, EvidenceLabels.Probability))
            .ToList();
        return new AlertSignal.Raise(new AlertDraft(key, severity, reason, evidence, p, Reminder: step == EpisodeStep.Remind));
    }

    private LocalizedText Still(double p, TimeSpan since)
    {
        var days = (int)Math.Floor(since.TotalDays);
        return new(
            $"Exacerbation risk still {Percent(p)} (alert at {Percent(thresholds.RaiseAt)}), {days} days after the last risk alert",
            $"Risque d'exacerbation toujours à {PercentFr(p)} (alerte à {PercentFr(thresholds.RaiseAt)}), {days} jours après la dernière alerte de risque");
    }

    private static string Percent(double p) => RiskThresholds.Percent(p);

    // French writes a decimal comma; the invariant-globalization build has no fr-FR culture to ask.
    private static string PercentFr(double p) => RiskThresholds.Percent(p).Replace('.', ',');
}
