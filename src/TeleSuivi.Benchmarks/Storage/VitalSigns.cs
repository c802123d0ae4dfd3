using Hl7.Fhir.Model;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Benchmarks.Storage;

/// <summary>
/// Realistic Observations for the store benchmarks, made by the platform's own <see cref="ObservationFactory"/> from
/// decoded readings (so ids, codes, units, categories and profiles are exactly what ingestion stores): the six vitals
/// of a telemonitored patient, each from its own device, with a circadian swing and measurement noise. Deterministic:
/// the same arguments give the same Observations.
/// </summary>
public static class VitalSigns
{
    /// <summary>The vitals, one reading of each per patient per step: heart rate, SpO2, respiratory rate, blood pressure, temperature, weight.</summary>
    public static readonly IReadOnlyList<Vital> All =
    [
        new("heart-rate", "oximeter", "gatt/2a5f", "/min", Base: 72, Swing: 8, Noise: 3, Decimals: 0),
        new("oxygen-saturation", "oximeter", "gatt/2a5f", "%", Base: 96, Swing: 1, Noise: 1, Decimals: 0),
        new("respiratory-rate", "patch", "vitalpatch", "/min", Base: 16, Swing: 2, Noise: 1, Decimals: 0),
        new("blood-pressure", "bp", "gatt/2a35", "mm[Hg]", Base: 128, Swing: 8, Noise: 4, Decimals: 0),
        new("body-temperature", "thermometer", "gatt/2a1c", "Cel", Base: 36.8, Swing: 0.3, Noise: 0.1, Decimals: 1),
        new("body-weight", "scale", "gatt/2a9d", "kg", Base: 74.2, Swing: 0.4, Noise: 0.2, Decimals: 1),
    ];

    private static readonly ObservationFactory Factory = new();

    /// <summary>The <c>system|code</c> of each vital's Observations, as the stores' trend reads take it.</summary>
    public static IReadOnlyList<string> Codes { get; } = [.. All.Select(v => $"{MeasureCatalog.Loinc}|{MeasureCatalog.Get(v.Measure).Code.Code}")];

    public static string PatientReference(int patient) => $"Patient/{PatientId(patient)}";

    /// <summary>
    /// The readings of step <paramref name="step"/> (the time <paramref name="start"/> + step × <paramref name="cadence"/>)
    /// of every vital of every patient 0 to <paramref name="patients"/> - 1, in that order: what a cohort sends in one
    /// cadence, in arrival order.
    /// </summary>
    public static IEnumerable<Observation> Step(DateTimeOffset start, TimeSpan cadence, long step, int patients)
    {
        var time = start + (cadence * step);
        for (var patient = 0; patient < patients; patient++)
        {
            foreach (var vital in All)
            {
                yield return vital.Observe(patient, time, step);
            }
        }
    }

    /// <summary>A cohort that keeps sending: the readings of one step after the other, each given once.</summary>
    public sealed class Feed(DateTimeOffset start, TimeSpan cadence, int patients)
    {
        private long step;

        /// <summary>The next <paramref name="readings"/> readings, cut in batches of <paramref name="batchSize"/> as the StoreWriter hands them to the store.</summary>
        public List<IReadOnlyList<Observation>> NextBatches(int readings, int batchSize)
        {
            var observations = new List<Observation>(readings);
            while (observations.Count < readings)
            {
                // Whole steps only, so that the next call starts with readings never given.
                observations.AddRange(Step(start, cadence, step++, patients));
            }

            var batches = new List<IReadOnlyList<Observation>>();
            for (var first = 0; first < readings; first += batchSize)
            {
                batches.Add(observations.GetRange(first, Math.Min(batchSize, readings - first)));
            }

            return batches;
        }
    }

    private static string PatientId(int patient) => $"bench-{patient:D5}";

    /// <param name="Measure">The key of <see cref="MeasureCatalog"/>.</param>
    /// <param name="Device">The kind of device, the prefix of its id.</param>
    /// <param name="Source">The ingest source (<c>meta.source</c>).</param>
    /// <param name="Decimals">How many decimals the device reports.</param>
    public sealed record Vital(string Measure, string Device, string Source, string Unit, double Base, double Swing, double Noise, int Decimals)
    {
        /// <summary>The reading of one patient at one time: a daily sine, a per-patient offset and a deterministic jitter.</summary>
        public Observation Observe(int patient, DateTimeOffset time, long step)
        {
            var dayFraction = time.TimeOfDay.TotalDays;
            var jitter = (((step * 7919) + (patient * 104729) + Measure.Length) % 21 / 10.0) - 1;
            var value = Math.Round(Base + ((patient % 5) - 2) * Noise + (Swing * Math.Sin(2 * Math.PI * dayFraction)) + (Noise * jitter), Decimals);
            IReadOnlyList<DecodedValue> values = Measure == "blood-pressure"
                ? [new("systolic-pressure", value, Unit), new("diastolic-pressure", Math.Round(value * 0.63), Unit)]
                : [new(Measure, value, Unit)];
            var context = new ObservationContext($"{Device}-{PatientId(patient)}", PatientId(patient), time, Source);
            var outcome = Factory.Create(new DecodedReading(Measure, time, values), context);
            return outcome.Observation ?? throw new InvalidOperationException($"{Measure} {value} {Unit}: {outcome.Error}");
        }
    }
}
