namespace TeleSuivi.Server.Simulation;

/// <summary>One simulated measurement, before it is encoded in a device's format.</summary>
public sealed record SimulatedMeasurement(DeviceKind Kind, DateTimeOffset Time, double Systolic = 0, double Diastolic = 0, double HeartRate = 0, double SpO2 = 0, double TemperatureC = 0, double WeightKg = 0, double GlucoseMmolL = 0);

/// <summary>
/// Readings around a patient's baseline: circadian rhythm (heart rate lowest at night, blood pressure's morning
/// surge, temperature lowest before dawn) plus measurement noise of home devices.
/// </summary>
public static class Physiology
{
    public static SimulatedMeasurement Measure(SimulatedPatient patient, DeviceKind kind, DateTimeOffset time, Random random)
    {
        var hour = time.UtcDateTime.TimeOfDay.TotalHours + 1; // the simulated territory is on Central European time
        var b = patient.Baseline;
        var heartRate = b.HeartRate + (5 * Math.Sin(2 * Math.PI * (hour - 10) / 24)) + SimulatedCohort.Normal(random, 0, 3);
        return kind switch
        {
            DeviceKind.BloodPressureMonitor => new SimulatedMeasurement(
                kind,
                time,
                Systolic: Math.Round(b.Systolic + (7 * Math.Cos(2 * Math.PI * (hour - 9) / 24)) + SimulatedCohort.Normal(random, 0, 6)),
                Diastolic: Math.Round(b.Diastolic + (4 * Math.Cos(2 * Math.PI * (hour - 9) / 24)) + SimulatedCohort.Normal(random, 0, 4)),
                HeartRate: Math.Round(heartRate)),
            DeviceKind.PulseOximeter => new SimulatedMeasurement(
                kind,
                time,
                SpO2: Math.Min(100, Math.Round(b.SpO2 + SimulatedCohort.Normal(random, 0, 0.9))),
                HeartRate: Math.Round(heartRate)),
            DeviceKind.HeartRateWearable => new SimulatedMeasurement(kind, time, HeartRate: Math.Round(heartRate)),
            DeviceKind.Thermometer => new SimulatedMeasurement(
                kind,
                time,
                TemperatureC: Math.Round(b.TemperatureC + (0.3 * Math.Sin(2 * Math.PI * (hour - 11) / 24)) + SimulatedCohort.Normal(random, 0, 0.15), 1)),
            DeviceKind.Scale => new SimulatedMeasurement(kind, time, WeightKg: Math.Round(b.WeightKg + SimulatedCohort.Normal(random, 0, 0.35), 2)),
            DeviceKind.Glucometer => new SimulatedMeasurement(kind, time, GlucoseMmolL: Math.Round(Math.Max(2.5, b.GlucoseMmolL + SimulatedCohort.Normal(random, 0, 1.2)), 1)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no physiology for this device kind"),
        };
    }
}
