using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Labels;

namespace TeleSuivi.Risk.Model;

/// <summary>One labelled patient-day: the features at its scoring time and the label of <see cref="ExacerbationLabel"/>.</summary>
public sealed record PatientDay(string PatientId, int PatientIndex, int Day, DateTimeOffset At, float[] Features, bool Label);

/// <summary>A cohort turned into labelled patient-days (excluded days left out), with its ground-truth exacerbations.</summary>
public sealed record PatientDays(CohortParameters Parameters, IReadOnlyList<PatientDay> Days, IReadOnlyList<CohortEvent> Exacerbations)
{
    /// <summary>
    /// Replays every patient of <paramref name="cohort"/> through the feature state (the same code as online scoring)
    /// and labels each day; days labelled <see cref="LabelValue.Excluded"/> (ill or recovering) are not prediction
    /// targets and are dropped. Patients are processed in parallel but kept in cohort order, so the result does not
    /// depend on the number of cores.
    /// </summary>
    public static PatientDays From(SyntheticCohort cohort, Action<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        var p = cohort.Parameters;
        var perPatient = new (List<PatientDay> Days, List<CohortEvent> Events)[p.Patients];
        var done = 0;
        Parallel.For(0, p.Patients, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var patient = cohort.Patient(i);
            var labels = ExacerbationLabel.Daily(p, patient.Events).ToList();
            var days = new List<PatientDay>(p.Days);
            var day = 0;
            foreach (var row in FeatureExtractor.Daily(cohort, patient))
            {
                var label = labels[day].Label;
                if (label != LabelValue.Excluded)
                {
                    days.Add(new PatientDay(patient.Profile.Id, i, day, row.At, row.Features, label == LabelValue.Positive));
                }

                day++;
            }

            perPatient[i] = (days, patient.Events.Where(e => e.Kind == EventKind.Exacerbation).ToList());
            progress?.Invoke(Interlocked.Increment(ref done));
        });

        return new PatientDays(p, perPatient.SelectMany(x => x.Days).ToList(), perPatient.SelectMany(x => x.Events).ToList());
    }
}
