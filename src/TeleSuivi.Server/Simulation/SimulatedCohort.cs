using Hl7.Fhir.Model;
using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Server.Simulation;

/// <summary>The same names (and order) as the risk model's <see cref="TeleSuivi.Risk.Cohort.Condition"/>.</summary>
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

/// <param name="Physiology">The cohort model's patient whose physiology (and exacerbations) the readings follow.</param>
public sealed record SimulatedPatient(
    string Id,
    string GivenName,
    string FamilyName,
    AdministrativeGender Gender,
    int Age,
    string Zone,
    IReadOnlyList<Condition> Conditions,
    IReadOnlyList<SimulatedDevice> Devices,
    CohortPatient Physiology);

/// <summary>
/// A reproducible synthetic cohort of home-monitored chronic patients. Each one is a patient of the risk model's
/// <see cref="SyntheticCohort"/> (same seed): conditions, age, sex, zone, baseline and exacerbations come from there,
/// so the demo shows the physiology the model was trained on; the simulator adds names and the devices it lends.
/// </summary>
public static class SimulatedCohort
{
    private static readonly string[] GivenFemale = ["Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie", "Martine", "Christine", "Nicole", "Anne"];
    private static readonly string[] GivenMale = ["Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques", "Daniel", "Patrick", "Claude", "Gérard"];
    private static readonly string[] Family = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier"];

    /// <summary>Days of the cohort model simulated from the start: readings after that have no more exacerbations.</summary>
    public const int PhysiologyDays = 365;

    /// <param name="from">The first simulated reading's time: the cohort model's span starts the day before.</param>
    public static IReadOnlyList<SimulatedPatient> Generate(int count, int seed, SimulatedFormats formats, DateTimeOffset from)
    {
        var physiology = PhysiologyOf(count, seed, from);
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
            patients.Add(NewPatient(index, physiology.Patient(index - 1), random, NextFormat));
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

    /// <summary>The risk model's cohort with the simulator's seed, its span starting the day before <paramref name="from"/>.</summary>
    public static SyntheticCohort PhysiologyOf(int count, int seed, DateTimeOffset from) =>
        SyntheticCohort.Generate(
            CohortParameters.Default with { Patients = count, Days = PhysiologyDays, Start = DateOnly.FromDateTime(from.UtcDateTime.AddDays(-1)) },
            seed);

    private static SimulatedPatient NewPatient(int index, CohortPatient physiology, Random random, Func<DeviceKind, string> formatOf)
    {
        var id = $"sim-{index:D5}";
        var profile = physiology.Profile;
        var female = profile.Sex == Sex.Female;
        var conditions = profile.Conditions.Select(condition => Enum.Parse<Condition>(condition.ToString())).ToList();
        var copd = conditions.Contains(Condition.Copd);
        var heartFailure = conditions.Contains(Condition.HeartFailure);
        var diabetes = conditions.Contains(Condition.Diabetes);

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

        if (copd && profile.Baseline.SpO2 < 92)
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
            profile.Age,
            profile.Zone,
            conditions,
            devices,
            physiology);
    }

    internal static double Normal(Random random, double mean, double standardDeviation)
    {
        // Box–Muller: two uniforms give one standard normal.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return mean + (standardDeviation * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}
