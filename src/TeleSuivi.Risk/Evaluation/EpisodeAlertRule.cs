namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The shape of the platform's risk alert policy (<c>Alerts:Risk</c>, <c>RiskPolicyOptions</c> in TeleSuivi.Server):
/// raise at <see cref="RaiseAt"/>, end below <see cref="ClearBelow"/>, alert again while raised or cooling down only
/// when the score rose by <see cref="MaterialRise"/> above the last alerted one.
/// </summary>
public sealed record EpisodePolicy(double RaiseAt, double ClearBelow, double MaterialRise, TimeSpan CoolDown)
{
    /// <summary>
    /// The shape of the platform's policy (clear-below two thirds and material rise a third of raise-at, 12 h cool-down)
    /// at the former fixed raise-at 0.30: the server's <c>RiskThresholds</c> scale it to the raise-at of the model's
    /// operating point, and run exactly this with <c>Alerts:Risk:RaiseAt</c> 0.30 (a test checks).
    /// </summary>
    public static readonly EpisodePolicy PlatformDefault = new(0.30, 0.20, 0.10, TimeSpan.FromHours(12));

    /// <summary>
    /// The same policy moved to another raise-at, its hysteresis and material rise in the same proportion (0.20 / 0.30 and
    /// 0.10 / 0.30 by default): how a programme would set the policy to spend a given alert budget.
    /// </summary>
    public EpisodePolicy ScaledTo(double raiseAt) =>
        this with { RaiseAt = raiseAt, ClearBelow = raiseAt * ClearBelow / RaiseAt, MaterialRise = raiseAt * MaterialRise / RaiseAt };
}

/// <summary>What a patient's next score does to the episode.</summary>
public enum EpisodeStep
{
    /// <summary>No alert, and no raised episode ends.</summary>
    None,

    /// <summary>An alert is raised (a new episode, or a material rise within one or within the cool-down).</summary>
    Raise,

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
    public bool Raises(double score, DateTimeOffset time) => Step(score, time) == EpisodeStep.Raise;

    /// <summary>Takes the next score of the patient (in time order): an alert raised, a raised episode ended, or nothing.</summary>
    public EpisodeStep Step(double score, DateTimeOffset time)
    {
        if (score < policy.ClearBelow)
        {
            var ended = Raised;
            Raised = false;
            return ended ? EpisodeStep.End : EpisodeStep.None;
        }

        if (score < policy.RaiseAt && !Raised)
        {
            return EpisodeStep.None;
        }

        var rose = LastAlerted is { } last && score >= last + policy.MaterialRise;
        var coolingDown = LastAlertAt is { } at && time - at < policy.CoolDown;
        if (!(Raised ? rose : score >= policy.RaiseAt && (!coolingDown || rose)))
        {
            return EpisodeStep.None;
        }

        Raised = true;
        LastAlerted = score;
        LastAlertAt = time;
        return EpisodeStep.Raise;
    }
}
