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

    private GroundTruthOracle(MLContext ml, ITransformer trees)
    {
        this.ml = ml;
        this.trees = trees;
    }

    public const string Description =
        "ground truth a perfect reader of the readings could know at the scoring time: true hazard and noise-free vital shifts of t, t − 24 h, t − 48 h (trees fitted on the training cohort's ground truth)";

    /// <summary>What the oracle sees of <paramref name="patient"/> at the scoring time of <paramref name="day"/>.</summary>
    public static float[] Inputs(SyntheticCohort cohort, CohortPatient patient, int day)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        ArgumentNullException.ThrowIfNull(patient);
        var at = FeatureExtractor.ScoringTime(cohort.Parameters, day);
        var visible = patient.Profile.Devices.SelectMany(Measures.Of).ToHashSet(StringComparer.Ordinal);
        var phys = cohort.Parameters.Physiology;
        var inputs = new float[InputCount];
        inputs[0] = (float)Math.Log(Math.Max(cohort.DailyHazard(patient, day), 1e-9));
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
                inputs[offset + i] = (float)values[i];
                size += Math.Abs(values[i]);
            }

            inputs[offset + PerLag - 1] = (float)size;
        }

        return inputs;

        // In units of the day-to-day SD: comparable across measures, and 0 for a measure no device of the patient takes.
        double Seen(string measure, double value, double sd) => visible.Contains(measure) ? value / sd : 0;
    }

    /// <summary>The labelled ground-truth rows of a cohort (excluded days left out, as in <see cref="PatientDays"/>).</summary>
    public static IEnumerable<(float[] Inputs, bool Label)> Rows(SyntheticCohort cohort)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        foreach (var patient in cohort.Patients)
        {
            var day = 0;
            foreach (var (_, label) in ExacerbationLabel.Daily(cohort.Parameters, patient.Events))
            {
                if (label != LabelValue.Excluded)
                {
                    yield return (Inputs(cohort, patient, day), label == LabelValue.Positive);
                }

                day++;
            }
        }
    }

    /// <summary>Fits the oracle on the ground truth of <paramref name="training"/> (one thread, fixed seed: deterministic).</summary>
    public static GroundTruthOracle Train(SyntheticCohort training, int seed = 1, int trees = 200)
    {
        ArgumentNullException.ThrowIfNull(training);
        var rows = Rows(training).Select(r => new OracleRow { Inputs = r.Inputs, Label = r.Label }).ToList();
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
        return new GroundTruthOracle(ml, trainer.Fit(data));
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

            return new OracleRow { Inputs = Inputs(cohort, patient, d.Day) };
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
