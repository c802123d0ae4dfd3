namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The shape of the platform's risk alert policy (<c>Alerts:Risk</c>, <c>RiskPolicyOptions</c> in TeleSuivi.Server):
/// raise at <see cref="RaiseAt"/>, end below <see cref="ClearBelow"/>, alert again while raised or cooling down only
/// when the score rose by <see cref="MaterialRise"/> above the last alerted one.
/// </summary>
public sealed record EpisodePolicy(double RaiseAt, double ClearBelow, double MaterialRise, TimeSpan CoolDown)
{
    /// <summary>The platform's defaults (a test checks they match <c>RiskPolicyOptions</c>).</summary>
    public static readonly EpisodePolicy PlatformDefault = new(0.30, 0.20, 0.10, TimeSpan.FromHours(12));

    /// <summary>
    /// The same policy moved to another raise-at, its hysteresis and material rise in the same proportion (0.20 / 0.30 and
    /// 0.10 / 0.30 by default): how a programme would set the policy to spend a given alert budget.
    /// </summary>
    public EpisodePolicy ScaledTo(double raiseAt) =>
        this with { RaiseAt = raiseAt, ClearBelow = raiseAt * ClearBelow / RaiseAt, MaterialRise = raiseAt * MaterialRise / RaiseAt };
}

/// <summary>
/// When the platform's <c>RiskAlertPolicy</c> raises an alert for one patient's series of scores, reproduced rule for
/// rule (TeleSuivi.Risk does not depend on the server); <c>EpisodeAlertRuleTests</c> feeds the same series to both and
/// checks they raise at the same scores. Unlike the platform it takes any non-negative score, not only probabilities,
/// so NEWS2 and the threshold rules are counted by the same rule.
/// </summary>
public sealed class EpisodeAlertRule(EpisodePolicy policy)
{
    private bool raised;
    private double? lastAlerted;
    private DateTimeOffset? lastAlertAt;

    /// <summary>Takes the next score of the patient (in time order) and tells whether the platform raises an alert on it.</summary>
    public bool Raises(double score, DateTimeOffset time)
    {
        if (score < policy.ClearBelow)
        {
            raised = false;
            return false;
        }

        if (score < policy.RaiseAt && !raised)
        {
            return false;
        }

        var rose = lastAlerted is { } last && score >= last + policy.MaterialRise;
        var coolingDown = lastAlertAt is { } at && time - at < policy.CoolDown;
        if (!(raised ? rose : score >= policy.RaiseAt && (!coolingDown || rose)))
        {
            return false;
        }

        raised = true;
        lastAlerted = score;
        lastAlertAt = time;
        return true;
    }
}
