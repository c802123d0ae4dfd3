namespace TeleSuivi.Server.Simulation;

/// <summary>One simulated measurement session: values by measure key, in the catalogue's canonical units.</summary>
public sealed record SimulatedMeasurement(DeviceKind Kind, DateTimeOffset Time, IReadOnlyDictionary<string, double> Values);

/// <summary>
/// Readings around a patient's baseline: circadian rhythm (heart rate lowest at night, blood pressure's morning
/// surge, temperature lowest before dawn), day-to-day variation and the measurement noise of home devices. Values
/// are rounded as the devices display them.
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
        var hour = time.UtcDateTime.TimeOfDay.TotalHours + 1; // the simulated territory is on Central European time
        var b = patient.Baseline;
        var copd = patient.Conditions.Contains(Condition.Copd);
        var heartRate = Math.Round(b.HeartRate + (5 * Math.Sin(2 * Math.PI * (hour - 10) / 24)) + Noise(random, 3));
        var respiratoryRate = Math.Round(Math.Max(8, (copd ? 19 : 16) + Noise(random, 1.5)));
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (kind)
        {
            case DeviceKind.BloodPressureMonitor:
                var systolic = Math.Round(b.Systolic + (7 * Math.Cos(2 * Math.PI * (hour - 9) / 24)) + Noise(random, 6));
                values["systolic-pressure"] = systolic;
                // Pulse pressure stays physiological (at least 25 mmHg) whatever the noise draws.
                values["diastolic-pressure"] = Math.Min(systolic - 25, Math.Round(b.Diastolic + (4 * Math.Cos(2 * Math.PI * (hour - 9) / 24)) + Noise(random, 4)));
                values["heart-rate"] = heartRate;
                break;
            case DeviceKind.PulseOximeter:
                values["oxygen-saturation"] = Math.Min(100, Math.Round(b.SpO2 + Noise(random, 0.9)));
                values["heart-rate"] = heartRate;
                break;
            case DeviceKind.Scale:
                values["body-weight"] = Math.Round(b.WeightKg + Noise(random, 0.35), 1);
                break;
            case DeviceKind.Thermometer:
                values["body-temperature"] = Math.Round(b.TemperatureC + (0.3 * Math.Sin(2 * Math.PI * (hour - 11) / 24)) + Noise(random, 0.15), 1);
                break;
            case DeviceKind.HeartRateWearable:
                values["ecg-heart-rate"] = heartRate;
                values["heart-rate"] = heartRate;
                values["respiratory-rate"] = respiratoryRate;
                break;
            case DeviceKind.Glucometer:
                values["glucose"] = Math.Round(Math.Max(2.5, b.GlucoseMmolL + Noise(random, 1.2)), 1);
                break;
            case DeviceKind.Spirometer:
                // COPD: obstructive pattern (FEV1/FVC below 0.7), PEF around 60 % of predicted.
                var fvc = Math.Round(Math.Max(1.2, (copd ? 2.6 : 3.2) + Noise(random, 0.15)), 2);
                values["fvc"] = fvc;
                values["fev1"] = Math.Round(fvc * (copd ? 0.55 : 0.78) + Noise(random, 0.05), 2);
                values["peak-expiratory-flow"] = Math.Round(Math.Max(60, (copd ? 260 : 420) + Noise(random, 25)));
                break;
            case DeviceKind.ActivityTracker:
                values["steps"] = Math.Round(Math.Max(0, (patient.Conditions.Contains(Condition.FrailElderly) ? 1800 : 3800) + Noise(random, 900)));
                values["sleep-duration"] = Math.Round(Math.Clamp(6.8 + Noise(random, 0.8), 2, 12), 2);
                values["heart-rate"] = Math.Round(b.HeartRate - 6 + Noise(random, 2));
                break;
            case DeviceKind.SleepSensor:
                values["respiratory-rate"] = respiratoryRate;
                values["heart-rate"] = Math.Round(b.HeartRate - 8 + Noise(random, 2));
                values["sleep-duration"] = Math.Round(Math.Clamp(6.8 + Noise(random, 0.8), 2, 12), 2);
                break;
            case DeviceKind.Cpap:
                values["cpap-usage"] = Math.Round(Math.Clamp(6 + Noise(random, 1.5), 0.5, 10), 2);
                values["apnea-hypopnea-index"] = Math.Round(Math.Max(0.2, 4 + Noise(random, 2)), 1);
                values["respiratory-rate"] = respiratoryRate;
                break;
            case DeviceKind.OxygenConcentrator:
                values["oxygen-flow-rate"] = patient.Baseline.SpO2 < 91 ? 3 : 2;
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
