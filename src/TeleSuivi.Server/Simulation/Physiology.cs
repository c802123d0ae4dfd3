using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Server.Simulation;

/// <summary>One simulated measurement session: values by measure key, in the catalogue's canonical units.</summary>
public sealed record SimulatedMeasurement(DeviceKind Kind, DateTimeOffset Time, IReadOnlyDictionary<string, double> Values);

/// <summary>
/// A device's reading of its patient. The measures the risk model uses (heart rate, respiratory rate, SpO2, blood
/// pressure, weight, temperature, steps, glucose) are the cohort model's value for that patient at that time
/// (<see cref="CohortPatient.ValueAt"/>: baseline, circadian rhythm, day-to-day variation, device noise, and the
/// prodromes, exacerbations and flares of the patient's events); the others vary around usual values of these
/// conditions. Values are rounded as the devices display them.
/// </summary>
public static class Physiology
{
    /// <summary>What a device of each kind measures, main measure first (canonical units of the measure catalogue).</summary>
    public static IReadOnlyList<string> MeasuresOf(DeviceKind kind) => kind switch
    {
        DeviceKind.BloodPressureMonitor => ["systolic-pressure", "diastolic-pressure", "heart-rate"],
        DeviceKind.PulseOximeter => ["oxygen-saturation", "heart-rate"],
        DeviceKind.Scale => ["body-weight"],
        DeviceKind.Thermometer => ["body-temperature"],
        DeviceKind.HeartRateWearable => ["ecg-heart-rate", "heart-rate", "respiratory-rate"],
        DeviceKind.Glucometer => ["glucose"],
        DeviceKind.Spirometer => ["peak-expiratory-flow", "fev1", "fvc"],
        DeviceKind.ActivityTracker => ["steps", "sleep-duration", "heart-rate"],
        DeviceKind.SleepSensor => ["respiratory-rate", "heart-rate", "sleep-duration"],
        DeviceKind.Cpap => ["cpap-usage", "apnea-hypopnea-index", "respiratory-rate"],
        DeviceKind.OxygenConcentrator => ["oxygen-flow-rate"],
        DeviceKind.PillBox => ["medication-dose-taken"],
        DeviceKind.Questionnaire => ["hf-breathless-at-rest", "hf-orthopnea", "hf-ankle-swelling", "cat-score", "mrc-breathlessness-grade"],
        DeviceKind.IndoorAirSensor => ["indoor-co2", "indoor-temperature", "indoor-humidity", "indoor-pm25"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown device kind"),
    };

    public static SimulatedMeasurement Measure(SimulatedPatient patient, DeviceKind kind, DateTimeOffset time, Random random)
    {
        var cohort = patient.Physiology;
        var copd = patient.Conditions.Contains(Condition.Copd);
        var heartRate = Math.Round(cohort.ValueAt(Measures.HeartRate, time));
        var respiratoryRate = Math.Round(Math.Max(8, cohort.ValueAt(Measures.RespiratoryRate, time)));
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (kind)
        {
            case DeviceKind.BloodPressureMonitor:
                values["systolic-pressure"] = Math.Round(cohort.ValueAt(Measures.Systolic, time));
                values["diastolic-pressure"] = Math.Round(cohort.ValueAt(Measures.Diastolic, time));
                values["heart-rate"] = heartRate;
                break;
            case DeviceKind.PulseOximeter:
                values["oxygen-saturation"] = Math.Round(cohort.ValueAt(Measures.OxygenSaturation, time));
                values["heart-rate"] = heartRate;
                break;
            case DeviceKind.Scale:
                values["body-weight"] = Math.Round(cohort.ValueAt(Measures.BodyWeight, time), 1);
                break;
            case DeviceKind.Thermometer:
                values["body-temperature"] = Math.Round(cohort.ValueAt(Measures.BodyTemperature, time), 1);
                break;
            case DeviceKind.HeartRateWearable:
                values["ecg-heart-rate"] = heartRate;
                values["heart-rate"] = heartRate;
                values["respiratory-rate"] = respiratoryRate;
                break;
            case DeviceKind.Glucometer:
                values["glucose"] = Math.Round(cohort.ValueAt(Measures.Glucose, time), 1);
                break;
            case DeviceKind.Spirometer:
                // COPD: obstructive pattern (FEV1/FVC below 0.7), PEF around 60 % of predicted.
                var fvc = Math.Round(Math.Max(1.2, (copd ? 2.6 : 3.2) + Noise(random, 0.15)), 2);
                values["fvc"] = fvc;
                values["fev1"] = Math.Round(fvc * (copd ? 0.55 : 0.78) + Noise(random, 0.05), 2);
                values["peak-expiratory-flow"] = Math.Round(Math.Max(60, (copd ? 260 : 420) + Noise(random, 25)));
                break;
            case DeviceKind.ActivityTracker:
                values["steps"] = Math.Round(cohort.ValueAt(Measures.Steps, time));
                values["sleep-duration"] = Math.Round(Math.Clamp(6.8 + Noise(random, 0.8), 2, 12), 2);
                values["heart-rate"] = heartRate - 6; // the day's resting average, below a spot reading
                break;
            case DeviceKind.SleepSensor:
                values["respiratory-rate"] = respiratoryRate;
                values["heart-rate"] = heartRate - 8; // asleep
                values["sleep-duration"] = Math.Round(Math.Clamp(6.8 + Noise(random, 0.8), 2, 12), 2);
                break;
            case DeviceKind.Cpap:
                values["cpap-usage"] = Math.Round(Math.Clamp(6 + Noise(random, 1.5), 0.5, 10), 2);
                values["apnea-hypopnea-index"] = Math.Round(Math.Max(0.2, 4 + Noise(random, 2)), 1);
                values["respiratory-rate"] = respiratoryRate;
                break;
            case DeviceKind.OxygenConcentrator:
                values["oxygen-flow-rate"] = cohort.Profile.Baseline.SpO2 < 91 ? 3 : 2;
                break;
            case DeviceKind.PillBox:
                values["medication-dose-taken"] = random.NextDouble() < 0.9 ? 1 : 0;
                break;
            case DeviceKind.Questionnaire:
                values["hf-breathless-at-rest"] = random.NextDouble() < 0.1 ? 1 : 0;
                values["hf-orthopnea"] = random.NextDouble() < 0.12 ? 1 : 0;
                values["hf-ankle-swelling"] = random.NextDouble() < 0.15 ? 1 : 0;
                values["cat-score"] = Math.Round(Math.Clamp((copd ? 18 : 8) + Noise(random, 5), 0, 40));
                values["mrc-breathlessness-grade"] = Math.Clamp(Math.Round((copd ? 3 : 2) + Noise(random, 0.7)), 1, 5);
                break;
            case DeviceKind.IndoorAirSensor:
                values["indoor-co2"] = Math.Round(Math.Max(400, 750 + Noise(random, 220)));
                values["indoor-temperature"] = Math.Round(20.5 + Noise(random, 1.2), 1);
                values["indoor-humidity"] = Math.Round(Math.Clamp(50 + Noise(random, 8), 15, 95));
                values["indoor-pm25"] = Math.Round(Math.Max(1, 8 + Noise(random, 4)), 1);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "no physiology for this device kind");
        }

        return new SimulatedMeasurement(kind, time, values);
    }

    private static double Noise(Random random, double standardDeviation) => SimulatedCohort.Normal(random, 0, standardDeviation);
}
