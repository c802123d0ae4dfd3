using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>
/// Histories from the synthetic cohort, generated so that its last day is today: a cohort patient's readings up to
/// now can be published as they are (nothing in the future, nothing older than ingestion accepts), with their zone's
/// hourly environment.
/// </summary>
public sealed class CohortHistory
{
    private CohortHistory(CohortPatient patient, IReadOnlyList<CohortReading> readings, IReadOnlyList<EnvironmentReading> environment, DateTimeOffset now)
    {
        Patient = patient;
        Now = now;
        Readings = readings;
        Environment = environment;
    }

    public CohortPatient Patient { get; }

    /// <summary>The time the history stops at: nothing after it is published.</summary>
    public DateTimeOffset Now { get; }

    /// <summary>The patient's readings of the last 33 days received by <see cref="Now"/>, measurement artefacts left out.</summary>
    public IReadOnlyList<CohortReading> Readings { get; }

    /// <summary>The zone's hourly environment of the last 10 days up to <see cref="Now"/>.</summary>
    public IReadOnlyList<EnvironmentReading> Environment { get; }

    public PatientFacts Facts => PatientFacts.From(Patient.Profile);

    /// <summary>A cohort of <paramref name="patients"/> whose 41 days end today (UTC), with a fixed seed.</summary>
    public static SyntheticCohort Generate(int patients, DateTimeOffset now) =>
        SyntheticCohort.Generate(CohortParameters.Default with { Patients = patients, Days = 41, Start = DateOnly.FromDateTime(now.UtcDateTime).AddDays(-40) }, seed: 20261123);

    public static CohortHistory Of(SyntheticCohort cohort, CohortPatient patient, DateTimeOffset now) => Shifted(cohort, patient, now, TimeSpan.Zero);

    /// <summary>
    /// The patient's history up to <paramref name="end"/>, moved <paramref name="shift"/> later: the last 33 days of
    /// readings received by then (artefacts left out) and the last 10 days of their zone's hourly environment.
    /// </summary>
    private static CohortHistory Shifted(SyntheticCohort cohort, CohortPatient patient, DateTimeOffset end, TimeSpan shift)
    {
        var readings = patient.Readings()
            .Where(r => !r.Artifact && r.ReceivedAt <= end && r.Time <= end && r.Time >= end - TimeSpan.FromDays(PatientFeatureState.DayBins + 1))
            .Select(r => r with { Time = r.Time + shift, ReceivedAt = r.ReceivedAt + shift })
            .ToList();
        var lastDay = (int)Math.Floor((end - cohort.Parameters.StartTime).TotalDays);
        var environment = Enumerable.Range(lastDay - ZoneEnvironmentState.DayBins, ZoneEnvironmentState.DayBins + 1)
            .SelectMany(day => cohort.Environment.Hourly(patient.Profile.Zone, day))
            .Where(e => e.Time <= end)
            .Select(e => e with { Time = e.Time + shift })
            .ToList();
        return new CohortHistory(patient, readings, environment, end + shift);
    }

    /// <summary>
    /// A high-risk history to publish now: the patient-days the shipped model scores highest at their daily scoring
    /// time in a cohort of a year ago are each moved a whole number of hours later, to end within the hour before
    /// <paramref name="now"/>, and scored at <paramref name="at"/> (when the server will score them); the highest wins.
    /// Whole hours keep each reading in the same hourly bin relative to the scoring time.
    /// </summary>
    public static (CohortHistory History, double Probability) Riskiest(RiskScorer scorer, int patients, DateTimeOffset now, DateTimeOffset at) =>
        Best(scorer, patients, now, at, p => -p);

    /// <summary>
    /// As <see cref="Riskiest"/>, the history whose score at <paramref name="at"/> is nearest <paramref name="probability"/>
    /// (on a log scale: calibrated probabilities are small).
    /// </summary>
    public static (CohortHistory History, double Probability) Near(RiskScorer scorer, double probability, int patients, DateTimeOffset now, DateTimeOffset at) =>
        Best(scorer, patients, now, at, p => Math.Abs(Math.Log(p / probability)));

    /// <summary>The history of the cohort patient-days ranked first by <paramref name="rank"/> (lowest first) of their probability.</summary>
    private static (CohortHistory History, double Probability) Best(RiskScorer scorer, int patients, DateTimeOffset now, DateTimeOffset at, Func<double, double> rank)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        const int Days = 90;
        var cohort = SyntheticCohort.Generate(
            CohortParameters.Default with { Patients = patients, Days = Days, Start = DateOnly.FromDateTime(now.UtcDateTime).AddDays(-365 - Days) },
            seed: 20261123);
        var days = cohort.Patients
            .SelectMany(patient => FeatureExtractor.Daily(cohort, patient, withHistory: false).Skip(PatientFeatureState.DayBins).Select(row => (Patient: patient, Row: row)))
            .ToList();
        var probabilities = scorer.Probabilities(days.Select(d => d.Row.Features));
        return days.Zip(probabilities)
            .OrderBy(d => rank(d.Second))
            .Take(8)
            .Select(d => Shifted(cohort, d.First.Patient, d.First.Row.At, TimeSpan.FromHours(Math.Floor((now - d.First.Row.At).TotalHours))))
            .Select(history => (history, scorer.Score(FeatureExtractor.Replay(history.Patient.Profile.Id, history.Facts, history.Readings, history.Environment, [at], ScoringPatient.UtcOffset).Single().Features).Probability))
            .MinBy(x => rank(x.Probability));
    }
}
