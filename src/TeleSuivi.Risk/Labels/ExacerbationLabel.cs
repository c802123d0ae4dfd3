using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Risk.Labels;

/// <summary>The label of one patient-day.</summary>
public enum LabelValue
{
    /// <summary>No exacerbation onset in the next 72 h.</summary>
    Negative,

    /// <summary>An exacerbation onset in (t, t + 72 h].</summary>
    Positive,

    /// <summary>The patient is in an exacerbation or its recovery: not a prediction target, left out of training and evaluation.</summary>
    Excluded,
}

/// <summary>
/// "Exacerbation onset within the next 72 h", per patient-day. The scoring time t of day d is the local midnight that
/// ends day d (<c>FeatureExtractor.ScoringTime</c>): features see only what was received by t.
/// <list type="bullet">
/// <item><b>Excluded</b> when t lies in [onset, end + <see cref="RecoveryExclusion"/>) of any exacerbation: the patient
/// is ill or recovering, an alert then is care follow-up, not prediction (and a relapse in that window is part of
/// the same episode, not a new onset).</item>
/// <item>Otherwise <b>positive</b> when an exacerbation's onset lies in (t, t + 72 h] (both ends as written: an onset
/// exactly at t is ongoing, hence excluded; one exactly 72 h later is positive).</item>
/// <item>Otherwise <b>negative</b>. Flares never make a day positive or excluded: they are the false alarms a model
/// must learn to tell apart.</item>
/// </list>
/// </summary>
public static class ExacerbationLabel
{
    public static readonly TimeSpan Horizon = TimeSpan.FromHours(72);

    /// <summary>Days after the end of an exacerbation still excluded (recovery: Seemungal et al. 2000, see models/README.md).</summary>
    public static readonly TimeSpan RecoveryExclusion = TimeSpan.FromDays(7);

    /// <summary>The label at scoring time <paramref name="at"/> given the patient's events (any order, any kinds).</summary>
    public static LabelValue At(DateTimeOffset at, IEnumerable<CohortEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var positive = false;
        foreach (var e in events)
        {
            if (e.Kind != EventKind.Exacerbation)
            {
                continue;
            }

            if (at >= e.Onset && at < e.End + RecoveryExclusion)
            {
                return LabelValue.Excluded;
            }

            positive |= e.Onset > at && e.Onset <= at + Horizon;
        }

        return positive ? LabelValue.Positive : LabelValue.Negative;
    }

    /// <summary>The labels of days 0..Days − 1 of a cohort patient, at the daily scoring times.</summary>
    public static IEnumerable<(DateTimeOffset At, LabelValue Label)> Daily(CohortParameters parameters, IReadOnlyList<CohortEvent> events)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        for (var day = 0; day < parameters.Days; day++)
        {
            var at = Features.FeatureExtractor.ScoringTime(parameters, day);
            yield return (at, At(at, events));
        }
    }
}
