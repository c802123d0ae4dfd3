namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The shape of the platform's risk alert policy (<c>Alerts:Risk</c>, <c>RiskPolicyOptions</c> in TeleSuivi.Server):
/// raise at <see cref="RaiseAt"/>, end below <see cref="ClearBelow"/>, and at most one alert per <see cref="CoolDown"/>
/// for a patient: once it has passed, a patient still at raise-at is alerted again (a reminder), and within it only a
/// risk that reaches <see cref="CriticalAt"/> from below is (an escalation).
/// </summary>
/// <param name="CriticalAt">Null: no escalation within the cool-down.</param>
public sealed record EpisodePolicy(double RaiseAt, double ClearBelow, double? CriticalAt, TimeSpan CoolDown)
{
    /// <summary>
    /// An alert covers the 1–7 days before an onset that the evaluation counts it for: six days apart, a patient whose
    /// risk stays high is looked at again as soon as the last alert stops covering the days ahead, and no alert is
    /// spent on days another already covers. Chosen on validation patients (models/README.md, "The re-alerting policy").
    /// </summary>
    public static readonly TimeSpan DefaultCoolDown = TimeSpan.FromDays(6);

    /// <summary>
    /// The shape of the platform's policy (clear-below two thirds and critical-at twice raise-at, 6-day cool-down) at
    /// raise-at 0.30: the server's <c>RiskThresholds</c> scale it to the raise-at of the model's operating point (with
    /// critical-at from the report), and run exactly this with <c>Alerts:Risk:RaiseAt</c> 0.30 (a test checks).
    /// </summary>
    public static readonly EpisodePolicy PlatformDefault = new(0.30, 0.20, 0.60, DefaultCoolDown);

    /// <summary>
    /// The same policy moved to another raise-at, its hysteresis and critical level in the same proportion (0.20 / 0.30
    /// and 0.60 / 0.30 by default): how a programme would set the policy to spend a given alert budget.
    /// </summary>
    public EpisodePolicy ScaledTo(double raiseAt) =>
        this with { RaiseAt = raiseAt, ClearBelow = raiseAt * ClearBelow / RaiseAt, CriticalAt = raiseAt * CriticalAt / RaiseAt };

    /// <summary>The policy as a report records it, so that the server can tell whether a report counted alerts as it raises them.</summary>
    public string Describe() => FormattableString.Invariant(
        $"raise at r, end below {ClearBelow / RaiseAt:0.###} r; at most one alert per {CoolDown.TotalDays:0.##} days, again once they have passed if still at r; within them, only on reaching critical-at from below");
}

/// <summary>What a patient's next score does to the episode.</summary>
public enum EpisodeStep
{
    /// <summary>No alert, and no raised episode ends.</summary>
    None,

    /// <summary>An alert is raised: a new episode, or one once the cool-down has passed.</summary>
    Raise,

    /// <summary>An alert is raised within the cool-down: the score reached the critical level from below.</summary>
    Escalate,

    /// <summary>An alert is raised again: the episode is still raised and the cool-down since its last alert has passed.</summary>
    Remind,

    /// <summary>The score fell below the clear level while an episode was raised: it ends.</summary>
    End,
}

/// <summary>
/// The platform's risk alert rule for one patient's series of scores: the server's <c>RiskAlertPolicy</c> keeps one per
/// patient, and the evaluation feeds every scorer's daily scores through it, so both count alerts the same way. It takes
/// any non-negative score, not only probabilities, so NEWS2 and the threshold rules are counted by the same rule.
/// </summary>
public sealed class EpisodeAlertRule(EpisodePolicy policy)
{
    /// <summary>Whether an episode is raised (until a score falls below the clear level).</summary>
    public bool Raised { get; private set; }

    /// <summary>The score of the last alert, if any.</summary>
    public double? LastAlerted { get; private set; }

    /// <summary>The time of the last alert, if any.</summary>
    public DateTimeOffset? LastAlertAt { get; private set; }

    /// <summary>Takes up the state as stored elsewhere (the platform's latest risk alert, after a restart).</summary>
    public void Restore(bool raised, double? lastAlerted, DateTimeOffset? lastAlertAt)
    {
        Raised = raised;
        LastAlerted = lastAlerted;
        LastAlertAt = lastAlertAt;
    }

    /// <summary>Takes the next score of the patient (in time order) and tells whether the platform raises an alert on it.</summary>
    public bool Raises(double score, DateTimeOffset time) => Step(score, time) is EpisodeStep.Raise or EpisodeStep.Escalate or EpisodeStep.Remind;

    /// <summary>Takes the next score of the patient (in time order): an alert raised or raised again, a raised episode ended, or nothing.</summary>
    public EpisodeStep Step(double score, DateTimeOffset time)
    {
        if (score < policy.ClearBelow)
        {
            var ended = Raised;
            Raised = false;
            return ended ? EpisodeStep.End : EpisodeStep.None;
        }

        if (score < policy.RaiseAt)
        {
            return EpisodeStep.None;
        }

        var due = LastAlertAt is not { } at || time - at >= policy.CoolDown;
        var escalated = policy.CriticalAt is { } critical && score >= critical && LastAlerted is { } last && last < critical;
        if (!due && !escalated)
        {
            return EpisodeStep.None;
        }

        var step = escalated && !due ? EpisodeStep.Escalate : Raised && !escalated ? EpisodeStep.Remind : EpisodeStep.Raise;
        Raised = true;
        LastAlerted = score;
        LastAlertAt = time;
        return step;
    }
}
