using Hl7.Fhir.Model;

namespace TeleSuivi.Server.Simulation;

public enum Condition
{
    Copd,
    HeartFailure,
    Diabetes,
    FrailElderly,
}

/// <summary>The kinds of home device the simulator lends patients, each published in one manufacturer format.</summary>
public enum DeviceKind
{
    BloodPressureMonitor,
    PulseOximeter,
    Scale,
    Thermometer,
    HeartRateWearable,
    Glucometer,
    Spirometer,
    ActivityTracker,
    SleepSensor,
    Cpap,
    OxygenConcentrator,
    PillBox,
    Questionnaire,
    IndoorAirSensor,
}

/// <summary>A device and the topic format it publishes in.</summary>
public sealed record SimulatedDevice(string Id, DeviceKind Kind, string Format, double ReadingsPerDay);

/// <summary>A patient's usual values, around which readings vary with the time of day and measurement noise.</summary>
public sealed record Baseline(double HeartRate, double Systolic, double Diastolic, double SpO2, double TemperatureC, double WeightKg, double GlucoseMmolL);

public sealed record SimulatedPatient(
    string Id,
    string GivenName,
    string FamilyName,
    AdministrativeGender Gender,
    int Age,
    string Zone,
    IReadOnlyList<Condition> Conditions,
    Baseline Baseline,
    IReadOnlyList<SimulatedDevice> Devices);

/// <summary>
/// A reproducible synthetic cohort of home-monitored chronic patients. Population spreads follow usual adult
/// ranges; the detailed physiology (exacerbations, environment, literature references) lives with the risk model.
/// </summary>
public static class SimulatedCohort
{
    /// <summary>Postal codes used as environment zones: large French urban areas.</summary>
    public static readonly IReadOnlyList<string> Zones = ["75011", "69003", "13005", "59000", "33000", "31000", "44000", "67000", "34000", "35000", "06000", "76000"];

    private static readonly string[] GivenFemale = ["Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie", "Martine", "Christine", "Nicole", "Anne"];
    private static readonly string[] GivenMale = ["Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques", "Daniel", "Patrick", "Claude", "Gérard"];
    private static readonly string[] Family = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier"];

    public static IReadOnlyList<SimulatedPatient> Generate(int count, int seed, SimulatedFormats formats)
    {
        var random = new Random(seed);
        var patients = new List<SimulatedPatient>(count);
        // Each kind's devices take its formats in turn, so every manufacturer's format is published.
        var turns = new Dictionary<DeviceKind, int>();
        string NextFormat(DeviceKind kind)
        {
            var choices = formats.For(kind);
            var turn = turns.GetValueOrDefault(kind);
            turns[kind] = turn + 1;
            return choices[turn % choices.Count];
        }

        for (var index = 1; index <= count; index++)
        {
            patients.Add(NewPatient(index, random, NextFormat));
        }

        return LendEveryFormat(patients, formats);
    }

    /// <summary>
    /// Rare kinds (sleep sensors, spirometers) may not reach every format in a small cohort: the first patients
    /// then get one more device each, in the formats not yet used, so that every format is always exercised.
    /// </summary>
    private static List<SimulatedPatient> LendEveryFormat(List<SimulatedPatient> patients, SimulatedFormats formats)
    {
        var used = patients.SelectMany(p => p.Devices).Select(d => (d.Kind, d.Format)).ToHashSet();
        var next = 0;
        foreach (var kind in Enum.GetValues<DeviceKind>())
        {
            foreach (var format in formats.For(kind).Where(format => !used.Contains((kind, format))))
            {
                if (patients.Count == 0)
                {
                    return patients;
                }

                var index = next++ % patients.Count;
                var patient = patients[index];
                var extra = new SimulatedDevice($"{patient.Id}-{format}", kind, format, ReadingsPerDay(kind));
                patients[index] = patient with { Devices = [.. patient.Devices, extra] };
            }
        }

        return patients;
    }

    private static double ReadingsPerDay(DeviceKind kind) => kind switch
    {
        DeviceKind.HeartRateWearable => 96,
        DeviceKind.IndoorAirSensor => 24,
        DeviceKind.PulseOximeter or DeviceKind.Glucometer => 3,
        DeviceKind.BloodPressureMonitor or DeviceKind.OxygenConcentrator or DeviceKind.PillBox => 2,
        DeviceKind.Questionnaire => 0.3,
        _ => 1,
    };

    private static SimulatedPatient NewPatient(int index, Random random, Func<DeviceKind, string> formatOf)
    {
        var id = $"sim-{index:D5}";
        var female = random.NextDouble() < 0.48;
        var age = (int)Math.Clamp(Normal(random, 74, 9), 45, 98);
        var conditions = DrawConditions(random, age);
        var copd = conditions.Contains(Condition.Copd);
        var heartFailure = conditions.Contains(Condition.HeartFailure);
        var diabetes = conditions.Contains(Condition.Diabetes);

        // Resting values of older chronic patients: COPD raises heart rate and lowers saturation; heart-failure
        // patients on beta-blockers have lower heart rates and blood pressure.
        var baseline = new Baseline(
            HeartRate: Normal(random, copd ? 84 : heartFailure ? 68 : 74, 8),
            Systolic: Normal(random, heartFailure ? 118 : 134, 13),
            Diastolic: Normal(random, heartFailure ? 70 : 78, 7),
            SpO2: Math.Min(99, Normal(random, copd ? 92.5 : 96.5, copd ? 1.8 : 1.0)),
            TemperatureC: Normal(random, 36.6, 0.25),
            WeightKg: Math.Max(40, Normal(random, female ? 68 : 80, 13)),
            GlucoseMmolL: diabetes ? Normal(random, 8.2, 1.5) : Normal(random, 5.4, 0.5));

        var devices = new List<SimulatedDevice>();
        void Lend(DeviceKind kind, string suffix, double readingsPerDay) =>
            devices.Add(new SimulatedDevice($"{id}-{suffix}", kind, formatOf(kind), readingsPerDay));

        Lend(DeviceKind.BloodPressureMonitor, "bp", 2);
        Lend(DeviceKind.Scale, "scale", heartFailure ? 1 : 0.5);
        Lend(DeviceKind.Thermometer, "thermo", 1);
        if (copd || heartFailure || index % 3 == 0)
        {
            Lend(DeviceKind.PulseOximeter, "oxi", copd ? 4 : 2);
        }

        if (index % 4 == 0)
        {
            Lend(DeviceKind.HeartRateWearable, "hr", 96);
        }

        if (diabetes)
        {
            Lend(DeviceKind.Glucometer, "gluco", 3);
        }

        if (copd && index % 2 == 1)
        {
            Lend(DeviceKind.Spirometer, "spiro", 1);
        }

        if (copd && baseline.SpO2 < 92)
        {
            Lend(DeviceKind.OxygenConcentrator, "o2", 2);
        }

        if (index % 6 == 0)
        {
            Lend(DeviceKind.Cpap, "cpap", 1); // sleep apnoea is a frequent comorbidity of COPD and heart failure
        }

        if (index % 3 == 1)
        {
            Lend(DeviceKind.ActivityTracker, "activity", 1);
        }

        if (index % 8 == 5)
        {
            Lend(DeviceKind.SleepSensor, "bed", 1);
        }

        if (index % 3 == 2)
        {
            Lend(DeviceKind.PillBox, "pills", 2);
        }

        if (copd || heartFailure)
        {
            Lend(DeviceKind.Questionnaire, "survey", 0.3);
        }

        if (index % 5 == 0)
        {
            Lend(DeviceKind.IndoorAirSensor, "air", 24);
        }

        var given = female ? GivenFemale[random.Next(GivenFemale.Length)] : GivenMale[random.Next(GivenMale.Length)];
        return new SimulatedPatient(
            id,
            given,
            Family[random.Next(Family.Length)],
            female ? AdministrativeGender.Female : AdministrativeGender.Male,
            age,
            Zones[random.Next(Zones.Count)],
            conditions,
            baseline,
            devices);
    }

    private static List<Condition> DrawConditions(Random random, int age)
    {
        var conditions = new List<Condition>();
        var main = random.NextDouble();
        conditions.Add(main < 0.40 ? Condition.Copd : main < 0.75 ? Condition.HeartFailure : main < 0.90 ? Condition.Diabetes : Condition.FrailElderly);

        // Multimorbidity is the rule in these programmes: diabetes often comes with heart failure, and so on.
        if (!conditions.Contains(Condition.Diabetes) && random.NextDouble() < 0.30)
        {
            conditions.Add(Condition.Diabetes);
        }

        if (!conditions.Contains(Condition.HeartFailure) && conditions.Contains(Condition.Copd) && random.NextDouble() < 0.20)
        {
            conditions.Add(Condition.HeartFailure);
        }

        if (age >= 85 && !conditions.Contains(Condition.FrailElderly))
        {
            conditions.Add(Condition.FrailElderly);
        }

        return conditions;
    }

    internal static double Normal(Random random, double mean, double standardDeviation)
    {
        // Box–Muller: two uniforms give one standard normal.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return mean + (standardDeviation * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}
