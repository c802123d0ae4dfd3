using System.Globalization;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Labels;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Outcomes;

/// <summary>A patient of an export: pseudonym, what the model knows of them, and their zone (empty when unknown).</summary>
public sealed record ExportedPatient(string Pseudonym, PatientFacts Facts, string Zone);

/// <summary>
/// A programme's own history, read back from a pseudonymised export: each patient's stored readings and each zone's
/// environment as measure keys, and the outcomes nurses recorded. <paramref name="Through"/> is the end of the export.
/// </summary>
public sealed record PlatformHistory(
    IReadOnlyList<ExportedPatient> Patients,
    IReadOnlyDictionary<string, IReadOnlyList<MeasureReading>> Readings,
    IReadOnlyDictionary<string, IReadOnlyList<MeasureReading>> Environment,
    IReadOnlyList<NurseOutcome> Outcomes,
    DateTimeOffset Through,
    TimeSpan UtcOffset);

/// <summary>What <see cref="OutcomeTraining.Run"/> produced: the candidate model, its evaluation, and the label counts.</summary>
public sealed record OutcomeTrainingResult(TrainedModel Model, EvaluationResult Evaluation, int Onsets, int TrainingPatients, int HeldOutPatients);

/// <summary>
/// <c>telesuivi train --from-store</c>: the same features (<see cref="FeatureExtractor"/>), trainer and evaluation as
/// the synthetic pipeline, on a programme's own readings labelled by <see cref="OutcomeLabels"/>. Whole patients are
/// split three ways, by the order of their pseudonyms (keyed hashes: a random order that no id or date influences):
/// every fifth from the third is held out for the evaluation, every fifth from the fifth calibrates, the rest train.
/// </summary>
public static class OutcomeTraining
{
    public const int HeldOutEvery = 5;
    public const int HeldOutRemainder = 2;

    /// <param name="alertPolicy">The programme's risk alert policy, which the report's operating points are counted with (default: the platform's).</param>
    public static OutcomeTrainingResult Run(
        PlatformHistory history, TrainingOptions options, IReadOnlyList<double> budgets, EpisodePolicy? alertPolicy = null, Action<ProgressStep>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(options);
        var unknown = history.Outcomes.Where(o => !OutcomeLabels.IsKnown(o.Outcome)).Select(o => o.Outcome).Distinct(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidDataException($"outcomes.csv holds outcome(s) this version does not know: {string.Join(", ", unknown)}");
        }

        var patients = history.Patients.OrderBy(p => p.Pseudonym, StringComparer.Ordinal).ToList();
        var outcomesByPatient = history.Outcomes.ToLookup(o => o.Patient, StringComparer.Ordinal);
        var days = new List<PatientDay>[patients.Count];
        var episodes = new IReadOnlyList<CohortEvent>[patients.Count];
        var done = 0;
        Parallel.For(0, patients.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var patient = patients[i];
            var outcomes = outcomesByPatient[patient.Pseudonym].ToList();
            var primary = patient.Facts.Conditions.Count > 0 ? patient.Facts.Conditions[0] : Condition.FrailElderly;
            episodes[i] = OutcomeLabels.Episodes(patient.Pseudonym, primary, outcomes);
            days[i] = [];
            var readings = history.Readings.GetValueOrDefault(patient.Pseudonym) ?? [];
            if (readings.Count > 0)
            {
                var environment = history.Environment.GetValueOrDefault(patient.Zone) ?? [];
                var times = ScoringTimes(readings.Min(r => r.Time), history.Through, history.UtcOffset).ToList();
                var day = 0;
                var onsets = episodes[i].Select(e => e.Onset);
                foreach (var row in FeatureExtractor.Replay(patient.Pseudonym, patient.Facts, readings, environment, times, history.UtcOffset, onsets))
                {
                    var label = OutcomeLabels.At(row.At, episodes[i], outcomes);
                    if (label != LabelValue.Excluded)
                    {
                        days[i].Add(new PatientDay(patient.Pseudonym, i, day, row.At, row.Features, label == LabelValue.Positive));
                    }

                    day++;
                }
            }

            progress?.Invoke(new ProgressStep("features", Interlocked.Increment(ref done), patients.Count));
        });

        var onsets = episodes.Sum(e => e.Count);
        if (onsets < OutcomeLabels.MinimumOnsets)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"the export holds {onsets} confirmed exacerbation onset(s) (alerts resolved as {OutcomeLabels.ConfirmedExacerbation} or {OutcomeLabels.Hospitalised}): at least {OutcomeLabels.MinimumOnsets} are needed to train and evaluate a model; keep recording outcomes and export a longer period"));
        }

        bool IsHeldOut(int index) => index % HeldOutEvery == HeldOutRemainder;
        var heldOutPatients = patients.Where((_, i) => IsHeldOut(i)).Count();
        var trainingPatients = patients.Count - heldOutPatients;
        var heldOutDays = days.Where((_, i) => IsHeldOut(i)).SelectMany(d => d).ToList();
        var heldOutEpisodes = episodes.Where((_, i) => IsHeldOut(i)).SelectMany(e => e).ToList();
        var trainingDays = days.Where((_, i) => !IsHeldOut(i)).SelectMany(d => d).ToList();
        if (!heldOutDays.Any(d => d.Label))
        {
            throw new InvalidOperationException(
                $"none of the {heldOutPatients} held-out patients (every {HeldOutEvery}th) has a labelled onset: the evaluation would be empty; export more patients or a longer period");
        }

        var span = days.SelectMany(d => d).Select(d => d.At).DefaultIfEmpty(history.Through).ToList();
        var firstDay = span.Min();
        var parameters = CohortParameters.Default with
        {
            Start = DateOnly.FromDateTime((firstDay + history.UtcOffset).UtcDateTime),
            Days = (int)Math.Ceiling((span.Max() - firstDay).TotalDays) + 1,
            UtcOffset = history.UtcOffset,
        };
        var trainOptions = options with { Patients = trainingPatients, Days = parameters.Days };
        var training = new PatientDays(parameters with { Patients = trainingPatients }, trainingDays, episodes.Where((_, i) => !IsHeldOut(i)).SelectMany(e => e).ToList());
        var heldOut = new PatientDays(parameters with { Patients = heldOutPatients }, heldOutDays, heldOutEpisodes);

        var model = RiskModelTrainer.Train(training, trainOptions, progress, cancellationToken);
        using var scorer = new RiskScorer(model);
        var evaluation = ModelEvaluation.Compare(
            scorer, heldOut, budgets, () => RiskModelTrainer.Train(training, trainOptions with { WithoutEnvironment = true }, p => progress?.Invoke(p with { Stage = "ablation: " + p.Stage }), cancellationToken), progress,
            alertPolicy: alertPolicy);
        var description = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"Trained and evaluated on the programme's own data (pseudonymised export, `telesuivi train --from-store`), days of {parameters.Start:yyyy-MM-dd} to {history.Through:yyyy-MM-dd}."),
            "",
            string.Create(CultureInfo.InvariantCulture, $"- {onsets} exacerbation onsets from nurses' outcomes (alerts resolved as {OutcomeLabels.ConfirmedExacerbation} or {OutcomeLabels.Hospitalised}); labels as in models/MODEL_CARD.md, \"Retraining on a programme's outcomes\"."),
            string.Create(CultureInfo.InvariantCulture, $"- Held out: {heldOutPatients} whole patients (every {HeldOutEvery}th by pseudonym), never seen in training or calibration: {heldOutEpisodes.Count} onsets."),
            string.Create(CultureInfo.InvariantCulture, $"- Training and calibration: the other {trainingPatients} patients; {options.Trees} trees of {options.Leaves} leaves."),
            "- Exacerbations that raised no alert, or whose alert was not resolved with an outcome, are unknown to the platform and count as no onset: figures are relative to what nurses recorded.",
            "",
        };
        return new OutcomeTrainingResult(model, evaluation with { DataDescription = description }, onsets, trainingPatients, heldOutPatients);
    }

    /// <summary>
    /// The local midnights ending each day from the day of <paramref name="first"/> on, while the 72 h that follow lie
    /// within the export: later days could have an onset the export does not hold yet.
    /// </summary>
    private static IEnumerable<DateTimeOffset> ScoringTimes(DateTimeOffset first, DateTimeOffset through, TimeSpan utcOffset)
    {
        var localDay = (first + utcOffset).UtcDateTime.Date;
        for (var at = new DateTimeOffset(localDay.AddDays(1), TimeSpan.Zero) - utcOffset; at + ExacerbationLabel.Horizon <= through; at += TimeSpan.FromDays(1))
        {
            yield return at;
        }
    }
}
