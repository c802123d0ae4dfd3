using TeleSuivi.Devices.Normalization;
using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Tests.Risk;

public sealed class SyntheticCohortTests
{
    private static readonly CohortParameters Small = CohortParameters.Default with { Patients = 40, Days = 60 };

    [Fact]
    public void Generate_SameSeed_SameProfilesEventsAndReadings()
    {
        var a = SyntheticCohort.Generate(Small, 7);
        var b = SyntheticCohort.Generate(Small, 7);
        foreach (var (pa, pb) in a.Patients.Zip(b.Patients))
        {
            Assert.Equal(pa.Profile.Id, pb.Profile.Id);
            Assert.Equal(pa.Profile with { Conditions = [], Devices = [] }, pb.Profile with { Conditions = [], Devices = [] });
            Assert.Equal(pa.Profile.Conditions, pb.Profile.Conditions);
            Assert.Equal(pa.Profile.Devices, pb.Profile.Devices);
            Assert.Equal(pa.Events, pb.Events);
            Assert.Equal(pa.Readings(), pb.Readings());
        }

        Assert.Equal(a.Environment.Hourly("75011", 10), b.Environment.Hourly("75011", 10));
    }

    [Fact]
    public void Generate_OtherSeed_OtherCohort()
    {
        var a = SyntheticCohort.Generate(Small, 7).Patient(0);
        var b = SyntheticCohort.Generate(Small, 8).Patient(0);
        Assert.NotEqual(a.Readings().Take(20), b.Readings().Take(20));
    }

    [Fact]
    public void Patient_AnyCohortSizeOrOrder_SamePatient()
    {
        var small = SyntheticCohort.Generate(Small with { Patients = 5 }, 3);
        var large = SyntheticCohort.Generate(Small with { Patients = 500 }, 3);
        var direct = large.Patient(4);
        var enumerated = small.Patients.Last();
        Assert.Equal(direct.Profile.Id, enumerated.Profile.Id);
        Assert.Equal(direct.Events, enumerated.Events);
        Assert.Equal(direct.Readings(), enumerated.Readings());

        // Enumerating twice, or only part of it first, gives the same readings.
        _ = direct.Readings().Take(3).ToList();
        Assert.Equal(direct.Readings(), enumerated.Readings());
    }

    [Fact]
    public void Readings_EveryMeasure_InCatalogueWithinPlausibleRangeAndOrdered()
    {
        var cohort = SyntheticCohort.Generate(Small, 11);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var patient in cohort.Patients)
        {
            var previous = DateTimeOffset.MinValue;
            foreach (var r in patient.Readings())
            {
                var definition = MeasureCatalog.Get(r.Measure);
                Assert.True(definition.Range?.Contains(r.Value) ?? true, $"{r.Measure} {r.Value}");
                Assert.Contains(r.Measure, Measures.Of(r.Device));
                Assert.Contains(r.Device, patient.Profile.Devices);
                Assert.True(r.Time >= previous);
                Assert.True(r.ReceivedAt > r.Time);
                Assert.InRange(r.Time, cohort.Parameters.StartTime, cohort.Parameters.StartTime.AddDays(cohort.Parameters.Days));
                previous = r.Time;
                seen.Add(r.Measure);
            }
        }

        Assert.Equal(Measures.Patient.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        Assert.All(Measures.Environment, key => Assert.True(MeasureCatalog.TryGet(key, out _), key));
    }

    [Fact]
    public void Events_LargeCohort_RatesAndShapesMatchTheLiterature()
    {
        var parameters = CohortParameters.Default with { Patients = 6000, Days = 365 };
        var cohort = SyntheticCohort.Generate(parameters, 2024);
        var copdPatients = 0;
        var copdEvents = 0;
        var exacerbations = new List<CohortEvent>();
        var flares = 0;
        foreach (var patient in cohort.Patients)
        {
            var inSpan = patient.Events.Where(e => e.Onset >= parameters.StartTime && e.Onset < parameters.StartTime.AddDays(parameters.Days)).ToList();
            if (patient.Profile.Primary == Condition.Copd && patient.Profile.Conditions.Count == 1)
            {
                copdPatients++;
                copdEvents += inSpan.Count(e => e.Kind == EventKind.Exacerbation);
            }

            exacerbations.AddRange(inSpan.Where(e => e.Kind == EventKind.Exacerbation));
            flares += inSpan.Count(e => e.Kind == EventKind.Flare);
        }

        // Aaron 2012 / Hurst 2010: ≈ 1.3 per patient-year (clustering, Hurst 2009, moves events in time, not their number).
        Assert.InRange(copdEvents / (double)copdPatients, 1.1, 1.45);
        // Aaron 2012: about half sudden; the rest a median of about 4 days.
        Assert.InRange(exacerbations.Count(e => e.ProdromeDays < 1) / (double)exacerbations.Count, 0.45, 0.55);
        var gradual = exacerbations.Where(e => e.ProdromeDays >= 1).Select(e => e.ProdromeDays).Order().ToList();
        Assert.InRange(gradual[gradual.Count / 2], 3.5, 4.5);
        // Hamad 2015: about 20 % without signal.
        Assert.InRange(exacerbations.Count(e => e.SignalScale == 0) / (double)exacerbations.Count, 0.17, 0.23);
        // Aaron 2012: self-resolving flares about as often as events.
        Assert.InRange(flares / (double)exacerbations.Count, 0.8, 1.2);
        // Winter (Dec–Feb) more than summer (Jun–Aug): cold, viruses, pollution.
        var winter = exacerbations.Count(e => e.Onset.Month is 12 or 1 or 2);
        var summer = exacerbations.Count(e => e.Onset.Month is 6 or 7 or 8);
        Assert.InRange(winter / (double)summer, 1.4, 3.0);
    }

    [Fact]
    public void PriorYearExacerbations_LargeCohort_AsManyAsTheYearAfterAndFrequentExacerbatorsStayFrequent()
    {
        var parameters = CohortParameters.Default with { Patients = 6000, Days = 365 };
        var cohort = SyntheticCohort.Generate(parameters, 2024);
        var end = parameters.StartTime.AddDays(parameters.Days);
        var patients = cohort.Patients
            .Select(p => (Prior: p.Profile.PriorYearExacerbations, p.Profile.Susceptibility, After: p.Events.Count(e => e.Kind == EventKind.Exacerbation && e.Onset >= parameters.StartTime && e.Onset < end)))
            .ToList();
        var recorded = patients.Where(p => p.Prior is not null).ToList();

        Assert.InRange(recorded.Count / (double)patients.Count, 0.88, 0.92);
        // The same process a year earlier: as many (no onset can start during an ongoing event in the year simulated
        // in full, so that year has slightly fewer).
        var ratio = recorded.Average(p => p.Prior!.Value) / recorded.Average(p => p.After);
        Assert.True(ratio is >= 1.0 and <= 1.2, $"prior year / year after = {ratio:F2}");
        // Hurst 2010 (ECLIPSE): the history of exacerbations is the best predictor of the next ones.
        var frequent = recorded.Where(p => p.Prior >= 2).Average(p => p.After);
        var none = recorded.Where(p => p.Prior == 0).Average(p => p.After);
        Assert.True(frequent / none >= 1.8, $"{frequent:F2} exacerbations after two or more in the year before, {none:F2} after none");
        // And not only through condition and severity: the count reveals the patient's own susceptibility.
        var susceptibility = recorded.Where(p => p.Prior >= 2).Average(p => p.Susceptibility) / recorded.Where(p => p.Prior == 0).Average(p => p.Susceptibility);
        Assert.True(susceptibility >= 1.5, $"susceptibility after two or more / after none = {susceptibility:F2}");
    }

    [Fact]
    public void Events_CopdPatients_RecurrencesClusterAsHurst2009()
    {
        var parameters = CohortParameters.Default with { Patients = 6000, Days = 365 };
        var cohort = SyntheticCohort.Generate(parameters, 2024);
        var window = TimeSpan.FromDays(56);
        int initial = 0, initialFollowed = 0, all = 0, recurrent = 0;
        foreach (var patient in cohort.Patients.Where(p => p.Profile.Conditions is [Condition.Copd]))
        {
            var onsets = patient.Events.Where(e => e.Kind == EventKind.Exacerbation).Select(e => e.Onset).ToList();
            for (var i = 0; i < onsets.Count; i++)
            {
                // Counted within the span only, with the burn-in before it to say whether an onset is a recurrence.
                if (onsets[i] < parameters.StartTime || onsets[i] >= parameters.StartTime.AddDays(parameters.Days) - window)
                {
                    continue;
                }

                all++;
                if (i > 0 && onsets[i] - onsets[i - 1] <= window)
                {
                    recurrent++;
                    continue;
                }

                initial++;
                initialFollowed += i + 1 < onsets.Count && onsets[i + 1] - onsets[i] <= window ? 1 : 0;
            }
        }

        // Hurst 2009: 27 % of initial exacerbations followed by a recurrence within 8 weeks; about a third recurrent.
        var followed = initialFollowed / (double)initial;
        var share = recurrent / (double)all;
        Assert.True(followed is >= 0.23 and <= 0.31, $"{followed:P1} of initial exacerbations followed within 8 weeks");
        Assert.True(share is >= 0.25 and <= 0.40, $"{share:P1} of exacerbations recurrent");
    }

    [Fact]
    public void ShiftAt_Onset_LiteratureShiftTimesSignalScale()
    {
        var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = 300, Days = 365 }, 5);
        var checkedCopd = false;
        var checkedHeartFailure = false;
        foreach (var patient in cohort.Patients)
        {
            foreach (var e in patient.Events.Where(e => e.Kind == EventKind.Exacerbation))
            {
                var others = patient.Events.Where(o => o != e && o.ProdromeStart < e.End && e.ProdromeStart < o.End).ToList();
                if (others.Count > 0)
                {
                    continue;
                }

                var shift = patient.ShiftAt(e.Onset, out var weight);
                var expected = cohort.Parameters.Prodrome.For(e.Condition);
                Assert.Equal(expected.HeartRate * e.SignalScale, shift.HeartRate, 6);
                Assert.Equal(expected.SpO2 * e.SignalScale, shift.SpO2, 6);
                Assert.Equal(e.WeightGainKg, weight, 6);
                var before = patient.ShiftAt(e.ProdromeStart.AddHours(-1), out var weightBefore);
                Assert.Equal(0, before.HeartRate, 9);
                Assert.Equal(0, weightBefore, 9);
                var after = patient.ShiftAt(e.End.AddHours(1), out _);
                Assert.Equal(0, after.HeartRate, 9);
                checkedCopd |= e.Condition == Condition.Copd && e.SignalScale > 0;
                checkedHeartFailure |= e.Condition == Condition.HeartFailure && e.WeightGainKg > 0;
            }
        }

        Assert.True(checkedCopd && checkedHeartFailure);
    }

    [Fact]
    public void Environment_Year_SeasonsHeatWavesEpisodesAndPollen()
    {
        var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = 1, Days = 365 }, 9);
        var env = cohort.Environment;
        foreach (var zone in env.Zones)
        {
            var july = Enumerable.Range(181, 31).Average(d => env.Daily(zone, d, EnvironmentVariable.TemperatureC));
            var january = Enumerable.Range(0, 31).Average(d => env.Daily(zone, d, EnvironmentVariable.TemperatureC));
            Assert.True(july - january > 8, zone);
            Assert.All(Enumerable.Range(0, 31), d => Assert.Equal(0, env.Daily(zone, d, EnvironmentVariable.PollenIndex), 1));
            Assert.Contains(Enumerable.Range(90, 90), d => env.Daily(zone, d, EnvironmentVariable.PollenIndex) >= 3);
            Assert.Contains(Enumerable.Range(0, 365), d => env.Daily(zone, d, EnvironmentVariable.Pm25) > 25);
        }

        var hourly = env.Hourly("75011", 200).ToList();
        Assert.Equal(24, hourly.Count);
        Assert.All(hourly, h => Assert.InRange(h.Humidity, 0, 100));
    }
}
