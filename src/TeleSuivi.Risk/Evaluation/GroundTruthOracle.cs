using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Labels;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The AUROC ceiling: a scorer that reads the generator's ground truth instead of the noisy, gappy readings, scored
/// on the same held-out patient-days with the same label as the model. What it sees at the scoring time t of day d
/// is what a perfect reader of the readings could know by t, and nothing later:
/// <list type="bullet">
/// <item>the patient's true exacerbation hazard of day d (<see cref="SyntheticCohort.DailyHazard"/>: condition,
/// severity, susceptibility, season, the zone's environment up to day d — not the coming days' weather — and the
/// raised risk after a recent COPD exacerbation, Hurst 2009);</item>
/// <item>the true vital-sign and weight shift of all events (exacerbations and flares alike, as the readings show
/// them) at t, t − 24 h and t − 48 h, without device noise, day-to-day variation, missed days or artefacts, on the
/// measures the patient's devices take. An event whose prodrome has not started by t changes none of these, and
/// nothing tells an exacerbation from a flare, its onset time, or an event without signal.</item>
/// </list>
/// How these map to a probability is learned by gradient-boosted trees on the ground truth of the model's own
/// training cohort (never the held-out one), so the oracle is an estimate of the Bayes ceiling from more information
/// than the readings carry: a model of the readings should not beat it.
/// </summary>
public sealed class GroundTruthOracle
{
    /// <summary>Times before the scoring time at which the shift is read (a perfect reader has the history).</summary>
    public static readonly IReadOnlyList<TimeSpan> Lags = [TimeSpan.Zero, TimeSpan.FromHours(24), TimeSpan.FromHours(48)];

    private const int PerLag = 8;

    /// <summary>Log hazard, then per lag: heart rate, breathing rate, SpO2, steps, temperature, glucose, weight and their summed size in day-to-day SDs.</summary>
    public static readonly int InputCount = 1 + (PerLag * Lags.Count);

    private readonly MLContext ml;
    private readonly ITransformer trees;
    private readonly OracleView view;

    private GroundTruthOracle(MLContext ml, ITransformer trees, OracleView view)
    {
        this.ml = ml;
        this.trees = trees;
        this.view = view;
    }

    public const string Description =
        "ground truth a perfect reader of the readings could know at the scoring time: true hazard and noise-free vital shifts of t, t − 24 h, t − 48 h (trees fitted on the training cohort's ground truth)";

    /// <summary>What the oracle sees of <paramref name="patient"/> at the scoring time of <paramref name="day"/>.</summary>
    /// <param name="view">What part of the ground truth is shown; the inputs of the other part are 0 (a constant the trees cannot split on).</param>
    public static float[] Inputs(SyntheticCohort cohort, CohortPatient patient, int day, OracleView view = OracleView.All)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        ArgumentNullException.ThrowIfNull(patient);
        var at = FeatureExtractor.ScoringTime(cohort.Parameters, day);
        var visible = patient.Profile.Devices.SelectMany(Measures.Of).ToHashSet(StringComparer.Ordinal);
        var phys = cohort.Parameters.Physiology;
        var inputs = new float[InputCount];
        if (view != OracleView.Shifts)
        {
            // The susceptibility is a factor of the hazard: dividing it out leaves what a programme could know.
            var knowable = view is OracleView.HazardWithoutSusceptibility or OracleView.Readable;
            var hazard = cohort.DailyHazard(patient, day) / (knowable ? patient.Profile.Susceptibility : 1);
            inputs[0] = (float)Math.Log(Math.Max(hazard, 1e-9));
        }

        if (view is OracleView.Hazard or OracleView.HazardWithoutSusceptibility)
        {
            return inputs;
        }

        var variation = view == OracleView.Readable ? DayToDayVariation(cohort, patient, day) : null;
        for (var lag = 0; lag < Lags.Count; lag++)
        {
            var shift = patient.ShiftAt(at - Lags[lag], out var weightKg);
            Span<double> values =
            [
                Seen(Measures.HeartRate, shift.HeartRate, phys.HeartRateDaySd),
                Seen(Measures.RespiratoryRate, shift.RespiratoryRate, phys.RespiratoryRateDaySd),
                Seen(Measures.OxygenSaturation, shift.SpO2, phys.SpO2DaySd),
                Seen(Measures.Steps, shift.StepsFraction, phys.StepsDayLogSd),
                Seen(Measures.BodyTemperature, shift.TemperatureC, phys.TemperatureDaySd),
                Seen(Measures.Glucose, shift.GlucoseMmolL, phys.GlucoseDaySd),
                Seen(Measures.BodyWeight, weightKg, phys.WeightDaySd),
            ];
            var offset = 1 + (lag * PerLag);
            var size = 0.0;
            for (var i = 0; i < values.Length; i++)
            {
                if (variation is not null && visible.Contains(MeasureOrder[i]))
                {
                    values[i] += variation[(lag * MeasuresPerLag) + i];
                }

                inputs[offset + i] = (float)values[i];
                size += Math.Abs(values[i]);
            }

            inputs[offset + PerLag - 1] = (float)size;
        }

        return inputs;

        // In units of the day-to-day SD: comparable across measures, and 0 for a measure no device of the patient takes.
        double Seen(string measure, double value, double sd) => visible.Contains(measure) ? value / sd : 0;
    }

    /// <summary>The measures of each lag's inputs, in order.</summary>
    private static readonly string[] MeasureOrder =
        [Measures.HeartRate, Measures.RespiratoryRate, Measures.OxygenSaturation, Measures.Steps, Measures.BodyTemperature, Measures.Glucose, Measures.BodyWeight];

    private const int MeasuresPerLag = PerLag - 1;
    private const ulong VariationPurpose = 0x6F7261636C65;

    /// <summary>
    /// The day-to-day variation of each measure on the days of the lags, in units of its SD: AR(1) with the cohort's
    /// correlation, as the generator draws it (not the patient's own draws, which the generator keeps to itself; the
    /// distribution is the same). Deterministic per (seed, patient, day).
    /// </summary>
    private static double[] DayToDayVariation(SyntheticCohort cohort, CohortPatient patient, int day)
    {
        var rho = cohort.Parameters.Physiology.DayToDayCorrelation;
        var rng = new Rng(cohort.Seed, VariationPurpose, (ulong)patient.Profile.Index, (ulong)(uint)day);
        var variation = new double[Lags.Count * MeasuresPerLag];
        for (var i = 0; i < MeasuresPerLag; i++)
        {
            // Oldest day first, each day correlated with the day before.
            var a = rng.Normal(0, 1);
            for (var lag = Lags.Count - 1; lag >= 0; lag--)
            {
                a = lag == Lags.Count - 1 ? a : (rho * a) + rng.Normal(0, Math.Sqrt(1 - (rho * rho)));
                variation[(lag * MeasuresPerLag) + i] = a;
            }
        }

        return variation;
    }

    /// <summary>The labelled ground-truth rows of a cohort (excluded days left out, as in <see cref="PatientDays"/>).</summary>
    public static IEnumerable<(float[] Inputs, bool Label)> Rows(SyntheticCohort cohort, OracleView view = OracleView.All)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        foreach (var patient in cohort.Patients)
        {
            var day = 0;
            foreach (var (_, label) in ExacerbationLabel.Daily(cohort.Parameters, patient.Events))
            {
                if (label != LabelValue.Excluded)
                {
                    yield return (Inputs(cohort, patient, day, view), label == LabelValue.Positive);
                }

                day++;
            }
        }
    }

    /// <summary>Fits the oracle on the ground truth of <paramref name="training"/> (one thread, fixed seed: deterministic).</summary>
    public static GroundTruthOracle Train(SyntheticCohort training, int seed = 1, int trees = 200, OracleView view = OracleView.All)
    {
        ArgumentNullException.ThrowIfNull(training);
        var rows = Rows(training, view).Select(r => new OracleRow { Inputs = r.Inputs, Label = r.Label }).ToList();
        if (!rows.Any(r => r.Label) || rows.All(r => r.Label))
        {
            throw new InvalidOperationException("the oracle's training cohort needs both positive and negative patient-days: use more patients or days");
        }

        var ml = new MLContext(seed);
        var data = ml.Data.LoadFromEnumerable(rows, Schema());
        var trainer = ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
        {
            FeatureColumnName = nameof(OracleRow.Inputs),
            NumberOfTrees = trees,
            NumberOfLeaves = 16,
            MinimumExampleCountPerLeaf = Math.Clamp(rows.Count / 3000, 10, 100),
            LearningRate = 0.05,
            NumberOfThreads = 1,
            Seed = seed,
        });
        return new GroundTruthOracle(ml, trainer.Fit(data), view);
    }

    /// <summary>The oracle's probabilities for the patient-days of <paramref name="days"/>, which must come from <paramref name="cohort"/>.</summary>
    public IReadOnlyList<double> Score(SyntheticCohort cohort, PatientDays days)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        ArgumentNullException.ThrowIfNull(days);
        var patients = new Dictionary<int, CohortPatient>();
        var rows = days.Days.Select(d =>
        {
            if (!patients.TryGetValue(d.PatientIndex, out var patient))
            {
                patient = patients[d.PatientIndex] = cohort.Patient(d.PatientIndex);
            }

            return new OracleRow { Inputs = Inputs(cohort, patient, d.Day, view) };
        });
        var scored = trees.Transform(ml.Data.LoadFromEnumerable(rows, Schema()));
        return scored.GetColumn<float>("Probability").Select(p => (double)p).ToList();
    }

    private static SchemaDefinition Schema()
    {
        var definition = SchemaDefinition.Create(typeof(OracleRow));
        definition[nameof(OracleRow.Inputs)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, InputCount);
        return definition;
    }

    private sealed class OracleRow
    {
        public float[] Inputs { get; set; } = [];

        public bool Label { get; set; }
    }
}

/// <summary>Which part of the ground truth an oracle reads: the decomposition of the ceiling (<see cref="GapAnalysis"/>).</summary>
public enum OracleView
{
    /// <summary>The true hazard and the noise-free shifts: the ceiling.</summary>
    All,

    /// <summary>The true hazard of the day only (condition, severity, susceptibility, season, environment, clustering).</summary>
    Hazard,

    /// <summary>The true hazard without the patient's susceptibility (gamma, mean 1), which no programme measures.</summary>
    HazardWithoutSusceptibility,

    /// <summary>The noise-free vital and weight shifts only.</summary>
    Shifts,

    /// <summary>
    /// What a reader of the daily means could know at best: the hazard without the susceptibility, and the shifts with
    /// each measure's day-to-day variation added (no device noise, no missed day, a perfectly known baseline).
    /// </summary>
    Readable,
}
