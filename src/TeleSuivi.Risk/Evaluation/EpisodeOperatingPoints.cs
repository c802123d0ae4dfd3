using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// Operating points as the platform alerts: each patient's daily scores go through the alert policy
/// (<see cref="EpisodeAlertRule"/>: hysteresis, cool-down, material rise), which raises one alert per episode, not one per
/// day above a threshold; the policy's raise-at is the lowest that keeps the alerts actually raised within the budget.
/// Every scorer (model and baselines) gets the same policy shape (<see cref="EpisodePolicy.ScaledTo"/>) and the same budget.
/// </summary>
public sealed class EpisodeOperatingPoints
{
    private readonly IReadOnlyList<PatientDay> days;
    private readonly int[][] timelines;
    private readonly EpisodePolicy shape;

    public EpisodeOperatingPoints(IReadOnlyList<PatientDay> days, EpisodePolicy? shape = null)
    {
        ArgumentNullException.ThrowIfNull(days);
        this.days = days;
        this.shape = shape ?? EpisodePolicy.PlatformDefault;
        timelines = [.. Enumerable.Range(0, days.Count).GroupBy(i => days[i].PatientIndex).Select(g => g.OrderBy(i => days[i].At).ToArray())];
    }

    public OperatingPoint At(double budget, IReadOnlyList<double> scores, IReadOnlyList<CohortEvent> exacerbations)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(exacerbations);
        if (days.Count != scores.Count)
        {
            throw new ArgumentException($"{scores.Count} scores for {days.Count} patient-days");
        }

        if (scores.Any(s => !(s >= 0)))
        {
            throw new ArgumentException("policy operating points need non-negative scores (the policy's thresholds scale with raise-at)");
        }

        var broken = TieBroken(scores);
        var allowed = (int)Math.Floor(budget * days.Count);

        // The lowest raise-at whose alerts fit the budget: alerts fall as raise-at rises (hysteresis and material rise
        // scale with it), so a binary search over the scores themselves finds it.
        var candidates = broken.Distinct().Order().ToArray();
        int low = 0, high = candidates.Length;
        while (low < high)
        {
            var mid = (low + high) / 2;
            if (Alerts(broken, candidates[mid], null) <= allowed)
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }

        // Above the highest score nothing is raised.
        var raiseAt = low < candidates.Length ? candidates[low] : (candidates.Length == 0 ? 1 : candidates[^1] * 2) + 1;
        var alerted = new List<int>();
        Alerts(broken, raiseAt, alerted);
        return OperatingPoints.Measure(budget, days, alerted, exacerbations, raiseAt);
    }

    private int Alerts(double[] scores, double raiseAt, List<int>? alerted)
    {
        var policy = shape.ScaledTo(raiseAt);
        var count = 0;
        foreach (var timeline in timelines)
        {
            var rule = new EpisodeAlertRule(policy);
            foreach (var i in timeline)
            {
                if (rule.Raises(scores[i], days[i].At))
                {
                    count++;
                    alerted?.Add(i);
                }
            }
        }

        return count;
    }

    /// <summary>
    /// Tied scores (NEWS2 and the rules are whole numbers) are separated by less than a thousandth of the smallest gap
    /// between distinct scores, in the fixed pseudo-random order of <see cref="OperatingPoints"/>: alerting at random
    /// among the tied, so each scorer can spend its whole budget and none gains from the order of the data. So small a
    /// nudge changes neither the order of distinct scores nor what the policy's hysteresis and material rise see.
    /// </summary>
    private double[] TieBroken(IReadOnlyList<double> scores)
    {
        var distinct = scores.Distinct().Order().ToArray();
        var gap = 1.0;
        for (var i = 1; i < distinct.Length; i++)
        {
            gap = Math.Min(gap, distinct[i] - distinct[i - 1]);
        }

        var result = new double[scores.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = scores[i] + (gap * 1e-3 * (OperatingPoints.TieBreak(days[i]) / (double)ulong.MaxValue));
        }

        return result;
    }
}
