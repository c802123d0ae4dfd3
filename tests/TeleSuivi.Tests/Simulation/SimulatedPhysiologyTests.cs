using Hl7.Fhir.Model;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Simulation;

/// <summary>The device simulator's patients are the risk model's cohort patients, and its readings follow their physiology.</summary>
public sealed class SimulatedPhysiologyTests
{
    private const int Seed = 20261123;
    private static readonly DateTimeOffset From = new(2026, 1, 2, 0, 0, 0, TimeSpan.Zero);
    private static readonly Lazy<SimulatedFormats> Formats = new(() => new SimulatedFormats(ProfileEncoderRegistry.Load(RepositoryPaths.Ingest)));

    [Fact]
    public void Generate_EachPatient_RegisteredWithItsCohortPatientsConditionsSeverityHistoryAgeSexAndZone()
    {
        var simulated = SimulatedCohort.Generate(60, Seed, Formats.Value, From);
        var model = SimulatedCohort.PhysiologyOf(60, Seed, From);
        var registered = CohortBundle.Build(simulated, From).Entry.Select(e => e.Resource).OfType<Patient>().ToDictionary(p => p.Id!, StringComparer.Ordinal);

        Assert.Equal(60, simulated.Count);
        for (var i = 0; i < simulated.Count; i++)
        {
            var expected = model.Patient(i).Profile;
            var patient = simulated[i];
            Assert.Equal((expected.Id, expected.Baseline), (patient.Physiology.Profile.Id, patient.Physiology.Profile.Baseline));
            Assert.Equal(expected.Conditions.Select(c => c.ToString()), patient.Conditions.Select(c => c.ToString()));
            var resource = registered[patient.Id];
            Assert.Equal(expected.Sex == Sex.Female ? AdministrativeGender.Female : AdministrativeGender.Male, resource.Gender);
            Assert.Equal(expected.Zone, resource.Address.Single().PostalCode);
            Assert.Equal(DateTimeOffset.UtcNow.Year - expected.Age, int.Parse(resource.BirthDate!, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(expected.Conditions, ClinicalConditions.Of(resource).Order());
            Assert.Equal(expected.Severity, resource.GetExtensionValue<Integer>(PatientInfo.SeverityExtensionUrl)?.Value);
            Assert.Equal(expected.PriorYearExacerbations, resource.GetExtensionValue<Integer>(PatientInfo.PriorYearExacerbationsExtensionUrl)?.Value);
        }
    }

    [Fact]
    public void Measure_AtExacerbationOnsets_ShiftsHeartRateAndSpO2AsTheCohortModelSays()
    {
        // Across a year of 150 patients: the oximeter's readings around each signalling exacerbation's onset, minus the
        // same patient's readings at the same hours two to three weeks earlier, against the shift the model says.
        var patients = SimulatedCohort.Generate(150, Seed, Formats.Value, From);
        var random = new Random(7);
        double observedHeartRate = 0, expectedHeartRate = 0, observedSpO2 = 0, expectedSpO2 = 0;
        var events = 0;
        foreach (var patient in patients)
        {
            var model = patient.Physiology;
            foreach (var onset in model.Events.Where(e => e.Kind == EventKind.Exacerbation && e.SignalScale > 0 && !e.Hospitalised).Select(e => e.Onset))
            {
                var quiet = Enumerable.Range(15, 7).Select(d => onset.AddDays(-d)).Where(t => IsQuiet(model, t)).ToList();
                if (quiet.Count < 4 || onset > From.AddDays(SimulatedCohort.PhysiologyDays - 1))
                {
                    continue;
                }

                var during = Enumerable.Range(0, 6).Select(h => onset.AddHours(h)).ToList();
                observedHeartRate += Mean(during, patient, Measures.HeartRate, random) - Mean(quiet, patient, Measures.HeartRate, random);
                observedSpO2 += Mean(during, patient, Measures.OxygenSaturation, random) - Mean(quiet, patient, Measures.OxygenSaturation, random);
                expectedHeartRate += during.Average(t => model.ShiftAt(t, out _).HeartRate);
                expectedSpO2 += during.Average(t => model.ShiftAt(t, out _).SpO2);
                events++;
            }
        }

        Assert.True(events >= 40, $"{events} signalling exacerbations in the cohort");
        (observedHeartRate, expectedHeartRate, observedSpO2, expectedSpO2) = (observedHeartRate / events, expectedHeartRate / events, observedSpO2 / events, expectedSpO2 / events);
        Assert.InRange(expectedHeartRate, 3, 20);
        Assert.InRange(expectedSpO2, -5, -0.8);
        // Day-to-day variation (SD 3.5 /min, 0.7 %) averages out over the events: the simulated shift is the model's.
        Assert.InRange(observedHeartRate, expectedHeartRate - 1.5, expectedHeartRate + 1.5);
        Assert.InRange(observedSpO2, expectedSpO2 - 0.4, expectedSpO2 + 0.4);
    }

    [Fact]
    public void Measure_SameTimeAgain_SameValues()
    {
        var patient = SimulatedCohort.Generate(5, Seed, Formats.Value, From)[0];
        var at = From.AddDays(3).AddHours(9);

        var first = Physiology.Measure(patient, DeviceKind.BloodPressureMonitor, at, new Random(1));
        _ = patient.Physiology.Readings().Take(50).ToList();
        var second = Physiology.Measure(patient, DeviceKind.BloodPressureMonitor, at, new Random(2));

        Assert.Equal(first.Values, second.Values);
        Assert.True(first.Values["diastolic-pressure"] <= first.Values["systolic-pressure"] - 15);
    }

    private static bool IsQuiet(CohortPatient model, DateTimeOffset time) =>
        model.ShiftAt(time, out var weight) is { HeartRate: 0, SpO2: 0 } && weight == 0 && !model.InHospital(time);

    private static double Mean(IEnumerable<DateTimeOffset> times, SimulatedPatient patient, string measure, Random random) =>
        times.Average(t => Physiology.Measure(patient, DeviceKind.PulseOximeter, t, random).Values[measure]);
}
