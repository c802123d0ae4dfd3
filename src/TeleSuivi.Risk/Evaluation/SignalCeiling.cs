using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The oracle ceiling of "alerted 1–7 days ahead", from the generator's ground truth: of the exacerbations the
/// operating points judge, those that carry any telemonitoring signal at least a day before onset (a prodrome of at
/// least 24 h, or a heart-failure weight build-up, and not an event without signal). An alert 1–7 days ahead that
/// rests on the patient's readings can only catch these; alerts that land in the window by the patient's base risk,
/// the environment or chance (alerts at random reach some events too) are outside this bound.
/// </summary>
/// <param name="Events">Exacerbations judged (their whole 1–7-day window inside the scored span).</param>
/// <param name="WithEarlySignal">Of them, with a signal starting at least 24 h before onset.</param>
/// <param name="Sudden">Of them, with a signal that starts less than 24 h before onset.</param>
/// <param name="WithoutSignal">Of them, events without any telemonitoring signal.</param>
public sealed record SignalCeiling(int Events, int WithEarlySignal, int Sudden, int WithoutSignal)
{
    public static readonly TimeSpan MinimumWarning = TimeSpan.FromDays(1);

    public double Fraction => Events == 0 ? double.NaN : (double)WithEarlySignal / Events;

    public static bool HasEarlySignal(CohortEvent exacerbation)
    {
        ArgumentNullException.ThrowIfNull(exacerbation);
        return exacerbation.SignalScale > 0 && exacerbation.Onset - exacerbation.ProdromeStart >= MinimumWarning;
    }

    /// <summary>The ceiling over the exacerbations of <paramref name="days"/> that the operating points judge.</summary>
    public static SignalCeiling Of(PatientDays days)
    {
        ArgumentNullException.ThrowIfNull(days);
        var span = OperatingPoints.ScoredSpan(days.Days);
        var judged = days.Exacerbations.Where(e => OperatingPoints.Judged(e, span)).ToList();
        var withoutSignal = judged.Count(e => e.SignalScale <= 0);
        var early = judged.Count(HasEarlySignal);
        return new SignalCeiling(judged.Count, early, judged.Count - early - withoutSignal, withoutSignal);
    }
}
