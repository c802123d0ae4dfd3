using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Labels;

namespace TeleSuivi.Risk.Outcomes;

/// <summary>An alert a nurse resolved, as the pseudonymised export gives it (outcomes.csv).</summary>
public sealed record NurseOutcome(string Patient, string Kind, DateTimeOffset Opened, DateTimeOffset? Closed, string Outcome);

/// <summary>
/// Labels from nurses' outcomes (<c>telesuivi train --from-store</c>; models/MODEL_CARD.md, "Retraining on a
/// programme's outcomes"). The platform never sees an exacerbation begin: it sees an alert that a nurse later resolved.
/// <list type="bullet">
/// <item><c>confirmed-exacerbation</c> or <c>hospitalised</c>: an exacerbation onset at the alert's opening time,
/// lasting <see cref="EpisodeDays"/> days (so its days and the <see cref="ExacerbationLabel.RecoveryExclusion"/> after
/// it are excluded, as in the synthetic label). A second confirmed alert within that window is the same episode.</item>
/// <item><c>false-alarm</c> or <c>managed-at-home</c>: no onset; the days before it are ordinary negatives.</item>
/// <item><c>home-visit</c>: the visit alone does not say whether an exacerbation began, so the days whose 72 h window
/// holds its opening are unlabelled and left out.</item>
/// <item>Every other day of a monitored patient (from their first reading on) is negative: an exacerbation that
/// raised no alert, or whose alert was never resolved with an outcome, is invisible to the platform and counts as no
/// onset (label noise that favours what the current alerting already sees; stated in the model card).</item>
/// </list>
/// </summary>
public static class OutcomeLabels
{
    public const string ConfirmedExacerbation = "confirmed-exacerbation";
    public const string Hospitalised = "hospitalised";
    public const string FalseAlarm = "false-alarm";
    public const string ManagedAtHome = "managed-at-home";
    public const string HomeVisit = "home-visit";

    /// <summary>The assumed length of an episode from its confirmed alert (median recovery of a COPD exacerbation, Seemungal 2000).</summary>
    public const double EpisodeDays = 7;

    /// <summary>Below this many confirmed onsets in an export, training refuses: too few events to learn from or to evaluate on.</summary>
    public const int MinimumOnsets = 30;

    /// <summary>The exacerbation episodes the outcomes of one patient show, in time order, same-episode alerts merged.</summary>
    public static IReadOnlyList<CohortEvent> Episodes(string patient, Condition condition, IEnumerable<NurseOutcome> outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var episodes = new List<CohortEvent>();
        foreach (var outcome in outcomes.Where(o => IsOnset(o.Outcome)).OrderBy(o => o.Opened))
        {
            if (episodes.Count > 0 && outcome.Opened < episodes[^1].End + ExacerbationLabel.RecoveryExclusion)
            {
                continue;
            }

            episodes.Add(new CohortEvent(patient, EventKind.Exacerbation, condition, outcome.Opened, ProdromeDays: 0, EpisodeDays,
                SignalScale: double.NaN, WeightProdromeDays: 0, WeightGainKg: 0, Hospitalised: outcome.Outcome == Hospitalised));
        }

        return episodes;
    }

    /// <summary>The label at scoring time <paramref name="at"/>: that of <see cref="ExacerbationLabel"/> on the episodes, unlabelled (excluded) before a home visit.</summary>
    public static LabelValue At(DateTimeOffset at, IReadOnlyList<CohortEvent> episodes, IEnumerable<NurseOutcome> outcomes)
    {
        var label = ExacerbationLabel.At(at, episodes);
        if (label == LabelValue.Negative
            && outcomes.Any(o => o.Outcome == HomeVisit && o.Opened > at && o.Opened <= at + ExacerbationLabel.Horizon))
        {
            return LabelValue.Excluded;
        }

        return label;
    }

    public static bool IsOnset(string outcome) => outcome is ConfirmedExacerbation or Hospitalised;

    /// <summary>Whether an outcome is one this version knows (an unknown one is reported, never guessed).</summary>
    public static bool IsKnown(string outcome) => outcome is ConfirmedExacerbation or Hospitalised or FalseAlarm or ManagedAtHome or HomeVisit;
}
