using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// Operating points as the platform alerts: each patient's daily scores go through the alert policy
/// (<see cref="EpisodeAlertRule"/>: hysteresis, at most one alert per cool-down unless the risk turns critical, a
/// reminder once it has passed), not one alert per day above a threshold; the policy's raise-at is the one that raises
/// the most alerts within the budget.
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
    /// The operating point of each budget. Raise-at is lowered as a programme would lower it, from the top, until the
    /// next step would raise more alerts than the budget: among the <see cref="GridPoints"/> values above the highest
    /// one that exceeds the budget, the one raising the most alerts (the lowest of equals), never chosen by the
    /// outcomes. Alerts need not fall steadily as raise-at rises (a lower raise-at comes with a lower clear-below and
    /// longer episodes), and below that point their count can fall back within the budget while they alert less (v2's
    /// regression at 0.02 was a raise-at found there); a scorer that cannot spend a budget shows the rate it reaches.
    /// Critical-at is the one the server derives from the same report (<c>RiskThresholds</c>): the raise-at of the
    /// largest budget at most a tenth of this one, or of the smallest budget when none is that small, so budgets are
    /// taken from the smallest up; at the smallest budget critical-at is raise-at itself, and nothing escalates.
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
        var found = new List<OperatingPoint>();
        var counted = new Dictionary<(double? CriticalAt, int Candidate), int>();
        foreach (var budget in budgets.Distinct().Order())
        {
            var critical = found.LastOrDefault(p => p.Budget <= (budget / CriticalBudgetDivisor) + 1e-9) ?? found.FirstOrDefault();
            var allowed = (int)Math.Floor(budget * days.Count);
            var (best, _) = Lowered(broken, candidates, critical?.RaiseAt, allowed, counted);
            var alerted = new List<int>();
            Alerts(broken, Policy(candidates[best], critical?.RaiseAt), alerted);
            found.Add(OperatingPoints.Measure(budget, days, alerted, exacerbations, candidates[best]));
        }

        return [.. budgets.Select(b => found.First(p => p.Budget == b))];
    }

    /// <summary>The server's <c>RiskThresholds.CriticalBudgetDivisor</c>: critical alerts are those the model would still raise at a tenth of the budget.</summary>
    public const double CriticalBudgetDivisor = 10;

    private EpisodePolicy Policy(double raiseAt, double? criticalAt) =>
        shape.ScaledTo(raiseAt) with { CriticalAt = criticalAt is { } c ? Math.Max(raiseAt, c) : null };

    /// <summary>
    /// The candidate lowered from the top until the next would exceed <paramref name="allowed"/> alerts, and its count:
    /// the highest-count candidate above the first that exceeds it (candidates rise with their index and the last raises
    /// nothing). Counted in blocks of candidates in parallel, from the top; budgets with the same critical level share
    /// their counts (<paramref name="counted"/>).
    /// </summary>
    private (int Best, int Count) Lowered(double[] scores, double[] candidates, double? criticalAt, int allowed, Dictionary<(double?, int), int> counted)
    {
        var best = candidates.Length - 1;
        var bestCount = -1;
        var block = Math.Max(1, Environment.ProcessorCount);
        for (var top = candidates.Length - 1; top >= 0; top -= block)
        {
            var ks = Enumerable.Range(Math.Max(0, top - block + 1), Math.Min(block, top + 1)).Reverse().ToArray();
            var counts = new int[ks.Length];
            Parallel.For(0, ks.Length, j => counts[j] = counted.TryGetValue((criticalAt, ks[j]), out var known) ? known : Alerts(scores, Policy(candidates[ks[j]], criticalAt), null));
            for (var j = 0; j < ks.Length; j++)
            {
                counted[(criticalAt, ks[j])] = counts[j];
            }

            for (var j = 0; j < ks.Length; j++)
            {
                if (counts[j] > allowed)
                {
                    return (best, bestCount);
                }

                if (counts[j] >= bestCount)
                {
                    (best, bestCount) = (ks[j], counts[j]);
                }
            }
        }

        return (best, bestCount);
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

    private int Alerts(double[] scores, EpisodePolicy policy, List<int>? alerted)
    {
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
    /// nudge changes neither the order of distinct scores nor what the policy's hysteresis and critical level see.
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
