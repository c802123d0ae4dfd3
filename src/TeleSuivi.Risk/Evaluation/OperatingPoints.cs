using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>One scorer at one alert budget.</summary>
/// <param name="AlertsPerPatientDay">Alerts raised divided by the patient-days scored.</param>
/// <param name="EventSensitivity">Share of the exacerbations with at least one alert 1–7 days before onset.</param>
/// <param name="MedianLeadHours">Median, over the alerted exacerbations, of onset minus the first alert of that window.</param>
/// <param name="DaySensitivity">Share of the positive patient-days (onset within 72 h) alerted.</param>
/// <param name="Precision">Share of the alerts that fall on a positive patient-day.</param>
/// <param name="RaiseAt">Policy operating points (<see cref="EpisodeOperatingPoints"/>): the raise-at score that meets the budget.</param>
public sealed record OperatingPoint(
    double Budget,
    double AlertsPerPatientDay,
    int Alerts,
    double EventSensitivity,
    int EventsAlerted,
    int Events,
    double MedianLeadHours,
    double DaySensitivity,
    double Precision,
    double? RaiseAt = null);

/// <summary>
/// Alert budgets: at a budget of b alerts per patient-day, the b × N highest-scored patient-days of the N scored are
/// alerts, every day counted (no suppression of repeated alerts: the pessimistic count). Tied scores (NEWS2 and the
/// rules are whole numbers) are broken by a fixed pseudo-random order of patient-days, which is alerting at random
/// among the tied: each scorer uses its whole budget, none gains from the order of the data.
/// </summary>
public static class OperatingPoints
{
    public static readonly TimeSpan EarliestLead = TimeSpan.FromDays(7);
    public static readonly TimeSpan LatestLead = TimeSpan.FromDays(1);

    public static OperatingPoint At(double budget, IReadOnlyList<PatientDay> days, IReadOnlyList<double> scores, IReadOnlyList<CohortEvent> exacerbations)
    {
        ArgumentNullException.ThrowIfNull(days);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(exacerbations);
        if (days.Count != scores.Count)
        {
            throw new ArgumentException($"{scores.Count} scores for {days.Count} patient-days");
        }

        var alertCount = (int)Math.Floor(budget * days.Count);
        var alerted = Enumerable.Range(0, days.Count).OrderByDescending(i => scores[i]).ThenBy(i => TieBreak(days[i])).Take(alertCount);
        return Measure(budget, days, alerted, exacerbations);
    }

    /// <summary>The figures of an operating point once its alerts are known (indices into <paramref name="days"/>).</summary>
    internal static OperatingPoint Measure(double budget, IReadOnlyList<PatientDay> days, IEnumerable<int> alerted, IReadOnlyList<CohortEvent> exacerbations, double? raiseAt = null)
    {
        var alerts = new Dictionary<string, List<DateTimeOffset>>(StringComparer.Ordinal);
        int truePositives = 0, alertCount = 0;
        foreach (var i in alerted)
        {
            var d = days[i];
            if (!alerts.TryGetValue(d.PatientId, out var list))
            {
                alerts[d.PatientId] = list = [];
            }

            list.Add(d.At);
            truePositives += d.Label ? 1 : 0;
            alertCount++;
        }

        var span = ScoredSpan(days);
        var leads = new List<double>();
        var events = 0;
        foreach (var e in exacerbations)
        {
            if (!Judged(e, span))
            {
                continue;
            }

            events++;
            if (alerts.TryGetValue(e.PatientId, out var times)
                && times.Where(t => e.Onset - t >= LatestLead && e.Onset - t <= EarliestLead).DefaultIfEmpty(DateTimeOffset.MaxValue).Min() is var firstAlert
                && firstAlert != DateTimeOffset.MaxValue)
            {
                leads.Add((e.Onset - firstAlert).TotalHours);
            }
        }

        var positives = days.Count(d => d.Label);
        return new OperatingPoint(
            budget,
            days.Count == 0 ? 0 : (double)alertCount / days.Count,
            alertCount,
            events == 0 ? double.NaN : (double)leads.Count / events,
            leads.Count,
            events,
            Median(leads),
            positives == 0 ? double.NaN : (double)truePositives / positives,
            alertCount == 0 ? double.NaN : (double)truePositives / alertCount,
            raiseAt);
    }

    /// <summary>The first and last scoring times of <paramref name="days"/>.</summary>
    internal static (DateTimeOffset First, DateTimeOffset Last) ScoredSpan(IReadOnlyList<PatientDay> days) =>
        days.Count == 0 ? (DateTimeOffset.MaxValue, DateTimeOffset.MinValue) : (days.Min(d => d.At), days.Max(d => d.At));

    /// <summary>Only onsets whose whole 1–7-day window lies within the scored span can be judged.</summary>
    internal static bool Judged(CohortEvent e, (DateTimeOffset First, DateTimeOffset Last) span) =>
        e.Onset - EarliestLead >= span.First && e.Onset - LatestLead <= span.Last;

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        var n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }

    /// <summary>A fixed pseudo-random rank of a patient-day (SplitMix64 of patient and day), independent of any score.</summary>
    internal static ulong TieBreak(PatientDay day)
    {
        var x = ((ulong)(uint)day.PatientIndex << 32) ^ (uint)day.Day;
        x += 0x9E3779B97F4A7C15;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
        return x ^ (x >> 31);
    }
}
