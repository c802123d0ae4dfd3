using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// Operating points as the platform alerts: each patient's daily scores go through the alert policy
/// (<see cref="EpisodeAlertRule"/>: hysteresis, cool-down, material rise), which raises one alert per episode, not one per
/// day above a threshold; the policy's raise-at is the one that raises the most alerts within the budget.
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

    /// <summary>Raise-at values tried: evenly spread over the ranks of the scores, and denser in the top tenth.</summary>
    public const int GridPoints = 400;

    public OperatingPoint At(double budget, IReadOnlyList<double> scores, IReadOnlyList<CohortEvent> exacerbations) => At([budget], scores, exacerbations)[0];

    /// <summary>
    /// The operating point of each budget. Alerts do not fall steadily as raise-at rises: a low raise-at with its low
    /// clear-below keeps patients inside one long episode, so it can raise fewer alerts than a higher one. Raise-at is
    /// lowered as a programme would lower it, from the top, until the next step would raise more alerts than the
    /// budget: among the <see cref="GridPoints"/> values above the highest one that exceeds the budget, the one raising
    /// the most alerts (the lowest of equals), never chosen by the outcomes. Below that point lies the regime of endless
    /// episodes, whose alert count can fall back within the budget while they alert less (v2's regression at 0.02 was a
    /// raise-at found there); a scorer whose episodes cannot spend a budget shows the rate it reaches.
    /// </summary>
    public IReadOnlyList<OperatingPoint> At(IReadOnlyList<double> budgets, IReadOnlyList<double> scores, IReadOnlyList<CohortEvent> exacerbations)
    {
        ArgumentNullException.ThrowIfNull(budgets);
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
        var candidates = Candidates(broken);
        var counts = new int[candidates.Length];
        Parallel.For(0, candidates.Length, k => counts[k] = Alerts(broken, candidates[k], null));
        return budgets.Select(budget =>
        {
            var allowed = (int)Math.Floor(budget * days.Count);
            // Candidates rise with k and the last raises nothing, so the range is never empty.
            var overBudget = Enumerable.Range(0, candidates.Length).Where(k => counts[k] > allowed).DefaultIfEmpty(-1).Max();
            var best = Enumerable.Range(overBudget + 1, candidates.Length - overBudget - 1).MaxBy(k => (counts[k], -k));
            var alerted = new List<int>();
            Alerts(broken, candidates[best], alerted);
            return OperatingPoints.Measure(budget, days, alerted, exacerbations, candidates[best]);
        }).ToList();
    }

    private static double[] Candidates(double[] scores)
    {
        var sorted = scores.Order().ToArray();
        if (sorted.Length == 0)
        {
            return [1];
        }

        double AtRank(double q) => sorted[(int)Math.Round(q * (sorted.Length - 1))];
        var half = GridPoints / 2;
        var even = Enumerable.Range(0, half).Select(k => AtRank((double)k / (half - 1)));

        // The top tenth from 1 − 10⁻¹ to 1 − 10⁻⁶ of the ranks, where small budgets set raise-at.
        var tail = Enumerable.Range(0, half).Select(k => AtRank(1 - Math.Pow(10, -1 - (5.0 * k / (half - 1)))));

        // Above the highest score nothing is raised: every budget has a candidate.
        return [.. even.Concat(tail).Append((sorted[^1] * 2) + 1).Distinct().Order()];
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
