using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Risk.Features;

/// <summary>One feature vector of a patient at a scoring time.</summary>
public sealed record FeatureRow(string PatientId, DateTimeOffset At, float[] Features);

/// <summary>One value of a measure key (<see cref="Measures"/>), measured at <paramref name="Time"/>, received by the platform at <paramref name="ReceivedAt"/>.</summary>
public readonly record struct MeasureReading(string Measure, DateTimeOffset Time, double Value, DateTimeOffset ReceivedAt);

/// <summary>
/// Offline features (training, evaluation): replays a patient's history through <see cref="PatientFeatureState"/>,
/// the same state the platform keeps online, adding at each scoring time exactly what had been received by then
/// (<see cref="CohortReading.ReceivedAt"/>: a late batch is not seen before it arrives, so nothing leaks from the future).
/// </summary>
public static class FeatureExtractor
{
    /// <summary>The end of each local day of the span: the daily scoring times of the label (see <c>Labels.ExacerbationLabel</c>).</summary>
    public static IEnumerable<DateTimeOffset> DailyScoringTimes(CohortParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        for (var day = 0; day < parameters.Days; day++)
        {
            yield return ScoringTime(parameters, day);
        }
    }

    /// <summary>Local midnight ending day <paramref name="day"/> of the span, as UTC.</summary>
    public static DateTimeOffset ScoringTime(CohortParameters parameters, int day)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return parameters.StartTime.AddDays(day + 1) - parameters.UtcOffset;
    }

    public static IEnumerable<FeatureRow> Replay(
        string patientId,
        PatientFacts facts,
        IEnumerable<CohortReading> readings,
        IEnumerable<EnvironmentReading> environment,
        IEnumerable<DateTimeOffset> scoringTimes,
        TimeSpan utcOffset,
        IEnumerable<DateTimeOffset>? exacerbationOnsets = null)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(environment);
        return Replay(
            patientId,
            facts,
            readings.Select(r => new MeasureReading(r.Measure, r.Time, r.Value, r.ReceivedAt)),
            environment.OrderBy(e => e.Time).Select(e => (e.Time, (Action<ZoneEnvironmentState>)(zone => zone.Add(e)))),
            scoringTimes,
            utcOffset,
            exacerbationOnsets ?? []);
    }

    /// <summary>
    /// Replays stored readings (the platform's own history, <c>telesuivi train --from-store</c>): patient measures of
    /// <see cref="Measures.Patient"/> and environment measures of <see cref="Measures.Environment"/>, one value each,
    /// and the onsets of the exacerbations nurses recorded (<c>Outcomes.OutcomeLabels.Episodes</c>).
    /// </summary>
    public static IEnumerable<FeatureRow> Replay(
        string patientId,
        PatientFacts facts,
        IEnumerable<MeasureReading> readings,
        IEnumerable<MeasureReading> environment,
        IEnumerable<DateTimeOffset> scoringTimes,
        TimeSpan utcOffset,
        IEnumerable<DateTimeOffset>? exacerbationOnsets = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return Replay(
            patientId,
            facts,
            readings,
            environment.Where(e => EnvironmentVariables.ContainsKey(e.Measure)).OrderBy(e => e.ReceivedAt)
                .Select(e => (e.ReceivedAt, (Action<ZoneEnvironmentState>)(zone => zone.Add(EnvironmentVariables[e.Measure], e.Time, e.Value)))),
            scoringTimes,
            utcOffset,
            exacerbationOnsets ?? []);
    }

    private static readonly Dictionary<string, EnvironmentVariable> EnvironmentVariables =
        Measures.Environment.Select((m, i) => (m, (EnvironmentVariable)i)).ToDictionary(x => x.m, x => x.Item2, StringComparer.Ordinal);

    /// <summary>
    /// The one replay loop: each scoring time sees exactly the readings and environment received by then, and the
    /// exacerbations whose onset is before it (the state counts no onset at or after the scoring time).
    /// </summary>
    private static IEnumerable<FeatureRow> Replay(
        string patientId,
        PatientFacts facts,
        IEnumerable<MeasureReading> readings,
        IEnumerable<(DateTimeOffset ReceivedAt, Action<ZoneEnvironmentState> Add)> environment,
        IEnumerable<DateTimeOffset> scoringTimes,
        TimeSpan utcOffset,
        IEnumerable<DateTimeOffset> exacerbationOnsets)
    {
        var state = new PatientFeatureState(facts, utcOffset);
        foreach (var onset in exacerbationOnsets)
        {
            state.AddExacerbation(onset);
        }

        var zone = new ZoneEnvironmentState(utcOffset);
        var byArrival = readings.OrderBy(r => r.ReceivedAt).ToList();
        using var env = environment.GetEnumerator();
        var hasEnv = env.MoveNext();
        var next = 0;
        foreach (var at in scoringTimes.Order())
        {
            while (next < byArrival.Count && byArrival[next].ReceivedAt <= at)
            {
                var r = byArrival[next++];
                state.Add(r.Measure, r.Time, r.Value);
            }

            while (hasEnv && env.Current.ReceivedAt <= at)
            {
                env.Current.Add(zone);
                hasEnv = env.MoveNext();
            }

            var features = new float[FeatureSchema.VectorLength];
            state.Compute(at, zone, features);
            yield return new FeatureRow(patientId, at, features);
        }
    }

    /// <summary>
    /// Daily feature rows of a cohort patient, with its zone's hourly environment and its history: every past
    /// exacerbation onset (never a flare), including those of the burn-in before the first day. All of them, even
    /// silent ones: a programme learns of an exacerbation from the patient, a GP or a hospital as well as from alerts.
    /// <paramref name="withHistory"/> false: as a platform that has no outcome of the patient recorded yet.
    /// </summary>
    public static IEnumerable<FeatureRow> Daily(SyntheticCohort cohort, CohortPatient patient, bool withHistory = true)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        ArgumentNullException.ThrowIfNull(patient);
        var p = cohort.Parameters;
        var environment = Enumerable.Range(-ZoneEnvironmentState.DayBins, p.Days + ZoneEnvironmentState.DayBins)
            .SelectMany(day => cohort.Environment.Hourly(patient.Profile.Zone, day));
        return Replay(patient.Profile.Id, PatientFacts.From(patient.Profile), patient.Readings(), environment, DailyScoringTimes(p), p.UtcOffset, withHistory ? ExacerbationOnsets(patient) : []);
    }

    /// <summary>The onsets of a cohort patient's exacerbations (flares are not exacerbations: nobody records them as such).</summary>
    public static IEnumerable<DateTimeOffset> ExacerbationOnsets(CohortPatient patient)
    {
        ArgumentNullException.ThrowIfNull(patient);
        return patient.Events.Where(e => e.Kind == EventKind.Exacerbation).Select(e => e.Onset);
    }
}
