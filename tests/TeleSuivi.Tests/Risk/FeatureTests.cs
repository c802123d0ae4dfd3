using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;

namespace TeleSuivi.Tests.Risk;

public sealed class FeatureTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PatientFacts Facts = new(70, Sex.Female, [Condition.Copd], 3);

    private static float Feature(ReadOnlySpan<float> features, string name) => features[FeatureSchema.Index(name)];

    private static float[] Compute(PatientFeatureState state, DateTimeOffset at, ZoneEnvironmentState? zone = null)
    {
        var features = new float[FeatureSchema.VectorLength];
        state.Compute(at, zone, features);
        return features;
    }

    [Fact]
    public void Replay_OnlineStreamWithScoringAfterEveryReading_BitIdenticalToOffline()
    {
        var parameters = CohortParameters.Default with { Patients = 10, Days = 75 };
        var cohort = SyntheticCohort.Generate(parameters, 42);
        var patients = cohort.Patients.ToList();
        var offline = patients.ToDictionary(p => p.Profile.Id, p => FeatureExtractor.Daily(cohort, p).ToList(), StringComparer.Ordinal);

        // Online: one time-ordered stream of everything the platform receives (readings when they arrive, each zone's
        // hourly environment), zone states shared by their patients, and a score after every single reading.
        var items = new List<(DateTimeOffset Time, int Kind, object Item)>();
        foreach (var p in patients)
        {
            items.AddRange(p.Readings().Select(r => (r.ReceivedAt, 1, (object)(p.Profile.Id, r))));
            items.AddRange(FeatureExtractor.DailyScoringTimes(parameters).Select(t => (t, 2, (object)p.Profile.Id)));

            // The history as the platform learns it: an exacerbation recorded once it has begun.
            items.AddRange(FeatureExtractor.ExacerbationOnsets(p).Select(onset => (onset, 3, (object)(p.Profile.Id, onset))));
        }

        foreach (var zone in patients.Select(p => p.Profile.Zone).Distinct())
        {
            items.AddRange(Enumerable.Range(-9, parameters.Days + 9).SelectMany(d => cohort.Environment.Hourly(zone, d)).Select(e => (e.Time, 0, (object)e)));
        }

        var states = patients.ToDictionary(p => p.Profile.Id, p => new PatientFeatureState(PatientFacts.From(p.Profile), parameters.UtcOffset), StringComparer.Ordinal);
        var zones = patients.Select(p => p.Profile.Zone).Distinct().ToDictionary(z => z, _ => new ZoneEnvironmentState(parameters.UtcOffset), StringComparer.Ordinal);
        var zoneOf = patients.ToDictionary(p => p.Profile.Id, p => p.Profile.Zone, StringComparer.Ordinal);
        var online = patients.ToDictionary(p => p.Profile.Id, _ => new List<float[]>(), StringComparer.Ordinal);
        var scratch = new float[FeatureSchema.VectorLength];
        foreach (var (time, _, item) in items.OrderBy(i => i.Time).ThenBy(i => i.Kind))
        {
            switch (item)
            {
                case EnvironmentReading e:
                    zones[e.Zone].Add(e);
                    break;
                case (string id, CohortReading r):
                    states[id].Add(r.Measure, r.Time, r.Value);
                    states[id].Compute(time, zones[zoneOf[id]], scratch);
                    break;
                case (string id, DateTimeOffset onset):
                    states[id].AddExacerbation(onset);
                    break;
                case string id:
                    var features = new float[FeatureSchema.VectorLength];
                    states[id].Compute(time, zones[zoneOf[id]], features);
                    online[id].Add(features);
                    break;
            }
        }

        var compared = 0;
        foreach (var p in patients)
        {
            var rows = offline[p.Profile.Id];
            Assert.Equal(rows.Count, online[p.Profile.Id].Count);
            for (var i = 0; i < rows.Count; i++)
            {
                Assert.Equal(rows[i].Features.Select(BitConverter.SingleToInt32Bits), online[p.Profile.Id][i].Select(BitConverter.SingleToInt32Bits));
                compared++;
            }
        }

        // The comparison is not vacuous: baselines, deviations, slopes and environment lags were computed.
        var last = offline.Values.SelectMany(r => r).Last().Features;
        Assert.False(float.IsNaN(Feature(last, "ambient-pm25:mean-lag0-7")));
        Assert.Contains(offline.Values.SelectMany(r => r), r => !float.IsNaN(Feature(r.Features, "heart-rate:deviation")));
        Assert.Contains(offline.Values.SelectMany(r => r), r => Feature(r.Features, "exacerbations-365d") > 0);
        Assert.Contains(offline.Values.SelectMany(r => r), r => Feature(r.Features, "exacerbation-within-9w") == 1);
        Assert.Contains(offline.Values.SelectMany(r => r), r => Feature(r.Features, "readings-24h-vs-usual") > 0);
        Assert.Contains(offline.Values.SelectMany(r => r), r => Feature(r.Features, "heart-rate:deviation-hours") > 0);
        Assert.Equal(10 * 75, compared);
    }

    [Fact]
    public void Compute_SpO2DropsForThirtySixHours_DeviationHoursCountsFromTheFirstLowReading()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var day = 0; day < 20; day++)
        {
            for (var hour = 0; hour < 24; hour += 4)
            {
                state.Add(Measures.OxygenSaturation, T0.AddDays(day).AddHours(hour), 95 + (hour % 8 == 0 ? 0.2 : -0.2));
            }
        }

        var at = T0.AddDays(21);
        var dropStart = at.AddHours(-36);
        for (var time = dropStart; time < at; time = time.AddHours(4))
        {
            state.Add(Measures.OxygenSaturation, time, 92);
        }

        var features = Compute(state, at);

        Assert.Equal(36, Feature(features, "oxygen-saturation:deviation-hours"), 3);
        Assert.True(float.IsNaN(Feature(features, "heart-rate:deviation-hours")));
    }

    /// <summary>A personal baseline needs 10 days with readings among the baseline days (3 to 30 days back).</summary>
    [Theory]
    [InlineData(9, 13, false)]
    [InlineData(10, 13, true)]
    [InlineData(10, 12, true)]
    [InlineData(12, 11, false)]
    public void HasBaseline_DaysOfReadings_OnlyFromTenDaysBeforeTheLastThree(int days, int scoredOnDay, bool expected)
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var day = 0; day < days; day++)
        {
            state.Add(Measures.HeartRate, T0.AddDays(day).AddHours(8), 70);
        }

        var features = new float[FeatureSchema.VectorLength];
        state.Compute(T0.AddDays(scoredOnDay), null, features);

        Assert.Equal(expected, FeatureSchema.HasBaseline(features));
    }

    [Fact]
    public void Compute_PollutionEpisode_DaysInARowAboveTheLevel()
    {
        var zone = new ZoneEnvironmentState(TimeSpan.Zero);
        double[] dailyPm25 = [10, 12, 48, 30, 41, 44];
        for (var day = 0; day < dailyPm25.Length; day++)
        {
            zone.Add(EnvironmentVariable.Pm25, T0.AddDays(day).AddHours(12), dailyPm25[day]);
        }

        // Scored at midnight ending the last day: today has no data yet, so the run is counted from yesterday.
        var features = Compute(new PatientFeatureState(Facts, TimeSpan.Zero), T0.AddDays(dailyPm25.Length), zone);

        Assert.Equal(4, Feature(features, "ambient-pm25:days-beyond-level"));
        Assert.True(float.IsNaN(Feature(features, "ambient-no2:days-beyond-level")));
    }

    [Fact]
    public void Add_AnyArrivalOrder_SameFeatures()
    {
        var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = 1, Days = 40 }, 1);
        var patient = cohort.Patient(0);
        var readings = patient.Readings().ToList();
        var at = FeatureExtractor.ScoringTime(cohort.Parameters, 39);
        var inOrder = new PatientFeatureState(PatientFacts.From(patient.Profile), cohort.Parameters.UtcOffset);
        var shuffled = new PatientFeatureState(PatientFacts.From(patient.Profile), cohort.Parameters.UtcOffset);
        readings.ForEach(r => inOrder.Add(r.Measure, r.Time, r.Value));
        var random = new Random(3);
        foreach (var r in readings.OrderBy(_ => random.Next()))
        {
            shuffled.Add(r.Measure, r.Time, r.Value);
        }

        Assert.Equal(Compute(inOrder, at).Select(BitConverter.SingleToInt32Bits), Compute(shuffled, at).Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Compute_StableHistoryThenRise_RobustBaselineAndDeviation()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var day = 0; day < 30; day++)
        {
            state.Add("heart-rate", T0.AddDays(day).AddHours(9), day % 3 == 0 ? 78 : 80);
        }

        state.Add("heart-rate", T0.AddDays(12).AddHours(10), 200); // one artefact: the median ignores it
        state.Add("heart-rate", T0.AddDays(30).AddHours(9), 90);
        var f = Compute(state, T0.AddDays(30).AddHours(12));
        Assert.Equal(80, Feature(f, "heart-rate:baseline"));
        Assert.Equal(0, Feature(f, "heart-rate:baseline-mad"));
        Assert.Equal(90, Feature(f, "heart-rate:last"));
        Assert.Equal(3, Feature(f, "heart-rate:hours-since"));
        Assert.Equal(90, Feature(f, "heart-rate:mean-24h"));
        Assert.Equal(5, Feature(f, "heart-rate:deviation")); // (90 − 80) / floor 2 bpm
        Assert.Equal(1, Feature(f, "heart-rate:completeness-7d"));
        Assert.Equal(12, Feature(f, "heart-rate:change-3d")); // 90 − day 27's 78
        Assert.Equal(70, Feature(f, "age"));
        Assert.Equal(1, Feature(f, "copd"));
        Assert.True(float.IsNaN(Feature(f, "oxygen-saturation:last")));
    }

    [Fact]
    public void Compute_TwoVitalsOffTogether_VitalsBlockSumsTheirDeviationsTheIllnessWay()
    {
        var f = Compute(TwoVitalsOff(), T0.AddDays(30).AddHours(12));

        // Heart rate (84 − 80) / floor 2 = +2; SpO2 (94 − 95) / floor 0.5 = −2, which illness lowers: +2 the illness way.
        Assert.Equal(2, Feature(f, "heart-rate:deviation"));
        Assert.Equal(-2, Feature(f, "oxygen-saturation:deviation"));
        Assert.Equal(4, Feature(f, "vitals-deviation-24h"));
        Assert.Equal(2, Feature(f, "vitals-deviating-24h"));

        // Over 72 h the day-30 reading shares the mean with days 28 and 29: (80 + 80 + 84) / 3 − 80 = 4/3 bpm, 2/3 SD.
        Assert.Equal(2 / 3f, Feature(f, "heart-rate:deviation-72h"), 5);
        Assert.Equal(4 / 3f, Feature(f, "vitals-deviation-72h"), 5);
        Assert.Equal(2, Feature(f, "heart-rate:max-deviation-3d"));
        Assert.Equal(-2, Feature(f, "oxygen-saturation:max-deviation-3d"));
        Assert.True(float.IsNaN(Feature(f, "steps:max-deviation-3d")));
    }

    [Fact]
    public void Compute_NoVitalsYet_VitalsBlockMissing()
    {
        var f = Compute(new PatientFeatureState(Facts, TimeSpan.Zero), T0);
        Assert.All(FeatureSchema.VitalsBlock, name => Assert.True(float.IsNaN(Feature(f, name)), name));
    }

    /// <summary>30 days of heart rate 80 and SpO2 95, then on day 30 heart rate 84 and SpO2 94.</summary>
    internal static PatientFeatureState TwoVitalsOff()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var day = 0; day <= 30; day++)
        {
            state.Add("heart-rate", T0.AddDays(day).AddHours(9), day == 30 ? 84 : 80);
            state.Add("oxygen-saturation", T0.AddDays(day).AddHours(9), day == 30 ? 94 : 95);
        }

        return state;
    }

    [Fact]
    public void Compute_FewerThanTenBaselineDays_NoBaseline()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var day = 0; day < 12; day++)
        {
            state.Add("oxygen-saturation", T0.AddDays(day).AddHours(9), 94);
        }

        // Baseline window: days d−30..d−3. On day 11 it holds days 0..8 (9 days); on day 12, days 0..9 (10 days).
        Assert.True(float.IsNaN(Feature(Compute(state, T0.AddDays(11).AddHours(23)), "oxygen-saturation:baseline")));
        Assert.Equal(94, Feature(Compute(state, T0.AddDays(13).AddHours(1)), "oxygen-saturation:baseline"));
    }

    [Fact]
    public void Compute_LinearRamp_SlopesPerDay()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var hour = 0; hour < 96; hour += 4)
        {
            state.Add("respiratory-rate", T0.AddHours(hour), 16 + (hour * 0.1));
        }

        var f = Compute(state, T0.AddHours(92.5));
        Assert.Equal(2.4, Feature(f, "respiratory-rate:slope-24h"), 4);
        Assert.Equal(2.4, Feature(f, "respiratory-rate:slope-72h"), 4);
    }

    [Fact]
    public void Compute_GapsAndSparseDays_CompletenessAndHoursSince()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        state.Add("body-weight", T0.AddHours(7), 80);
        state.Add("body-weight", T0.AddDays(3).AddHours(7), 82.5);
        var f = Compute(state, T0.AddDays(6).AddHours(7));
        Assert.Equal(2 / 7f, Feature(f, "body-weight:completeness-7d"));
        Assert.Equal(72, Feature(f, "body-weight:hours-since"));
        Assert.Equal(72, Feature(f, "hours-since-any-reading"));
        Assert.True(float.IsNaN(Feature(f, "body-weight:mean-24h")));
        Assert.Equal(2.5f, Feature(Compute(state, T0.AddDays(3).AddHours(8)), "body-weight:change-3d"));
    }

    [Fact]
    public void Compute_ExacerbationHistory_OnlyOnsetsBeforeTheScoringTimeCount()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        var at = T0.AddDays(500);
        Assert.Equal(0, Feature(Compute(state, at), "exacerbations-365d"));
        Assert.True(float.IsNaN(Feature(Compute(state, at), "days-since-exacerbation")));
        Assert.Equal(0, Feature(Compute(state, at), "exacerbation-within-9w"));

        foreach (var onset in new[] { at.AddDays(-400), at.AddDays(-100), at.AddDays(-30), at.AddDays(-30), at, at.AddDays(2) })
        {
            state.AddExacerbation(onset);
        }

        var f = Compute(state, at);
        Assert.Equal(2, Feature(f, "exacerbations-365d"));
        Assert.Equal(30, Feature(f, "days-since-exacerbation"));
        Assert.Equal(1, Feature(f, "exacerbation-within-9w"));
        var later = Compute(state, at.AddDays(40));
        Assert.Equal(4, Feature(later, "exacerbations-365d"));
        Assert.Equal(38, Feature(later, "days-since-exacerbation"));
        var before = Compute(state, at.AddDays(-200));
        Assert.Equal(1, Feature(before, "exacerbations-365d"));
        Assert.Equal(200, Feature(before, "days-since-exacerbation"));
        Assert.Equal(0, Feature(before, "exacerbation-within-9w"));
    }

    [Theory]
    [InlineData(3, 3f)]
    [InlineData(0, 0f)]
    [InlineData(null, float.NaN)]
    public void Compute_YearBeforeEnrolment_TheRecordedCountOrMissing(int? recorded, float expected)
    {
        var state = new PatientFeatureState(Facts with { PriorYearExacerbations = recorded }, TimeSpan.Zero);
        state.AddExacerbation(T0.AddDays(-20));

        var f = Compute(state, T0);

        Assert.Equal(expected, Feature(f, FeatureSchema.PriorYearExacerbations));
        // The programme's own history is counted apart from it.
        Assert.Equal(1, Feature(f, "exacerbations-365d"));
    }

    [Fact]
    public void Compute_OximeterSilentForADay_FewerReadingsThanUsualAndOneSilentMeasure()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        for (var day = 0; day < 20; day++)
        {
            state.Add(Measures.HeartRate, T0.AddDays(day).AddHours(9), 80);
            state.Add(Measures.HeartRate, T0.AddDays(day).AddHours(18), 82);
            for (var hour = 8; hour < 20; hour += 2)
            {
                state.Add(Measures.OxygenSaturation, T0.AddDays(day).AddHours(hour), 94);
            }
        }

        Assert.Equal(1, Feature(Compute(state, T0.AddDays(20)), "readings-24h-vs-usual"));
        Assert.Equal(0, Feature(Compute(state, T0.AddDays(20)), "measures-silent-24h"));
        state.Add(Measures.HeartRate, T0.AddDays(20).AddHours(9), 80);
        state.Add(Measures.HeartRate, T0.AddDays(20).AddHours(18), 82);
        var f = Compute(state, T0.AddDays(21));
        Assert.Equal(0.25f, Feature(f, "readings-24h-vs-usual"));
        Assert.Equal(1, Feature(f, "measures-silent-24h"));
        Assert.True(float.IsNaN(Feature(Compute(new PatientFeatureState(Facts, TimeSpan.Zero), T0), "readings-24h-vs-usual")));
    }

    [Fact]
    public void Add_OlderThanItsBin_IgnoredThereButCountedInLongerWindows()
    {
        var state = new PatientFeatureState(Facts, TimeSpan.Zero);
        state.Add("heart-rate", T0.AddDays(5), 70);
        state.Add("heart-rate", T0.AddDays(2), 100); // 72 h older: same hourly bin, too old for it; its day bin is free
        var f = Compute(state, T0.AddDays(5).AddHours(1));
        Assert.Equal(70, Feature(f, "heart-rate:mean-24h"));
        Assert.Equal(70, Feature(f, "heart-rate:last"));
        Assert.Equal(-30, Feature(f, "heart-rate:change-3d"));
        Assert.False(state.Add("unknown-measure", T0, 1));
    }

    [Fact]
    public void Compute_EnvironmentLags_MeansAndMaximumOverDays()
    {
        var zone = new ZoneEnvironmentState(TimeSpan.Zero);
        for (var day = 0; day < 10; day++)
        {
            zone.Add(EnvironmentVariable.Pm25, T0.AddDays(day).AddHours(12), day * 10);
        }

        var f = Compute(new PatientFeatureState(Facts, TimeSpan.Zero), T0.AddDays(9).AddHours(13), zone);
        Assert.Equal(90, Feature(f, "ambient-pm25:lag0"));
        Assert.Equal(80, Feature(f, "ambient-pm25:mean-lag0-2"));
        Assert.Equal(55, Feature(f, "ambient-pm25:mean-lag0-7"));
        Assert.Equal(90, Feature(f, "ambient-pm25:max-lag0-7"));
        Assert.True(float.IsNaN(Feature(f, "ambient-o3:lag0")));
    }

    [Fact]
    public void Compute_Season_SineCosineOfDayOfYear()
    {
        var f = Compute(new PatientFeatureState(Facts, TimeSpan.Zero), new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(0, Feature(f, "season-sin"), 5);
        Assert.Equal(1, Feature(f, "season-cos"), 5);
    }

    [Fact]
    public void PatientFeatureState_TenThousandPatients_FewKilobytesEach()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var states = new PatientFeatureState[10_000];
        for (var i = 0; i < states.Length; i++)
        {
            states[i] = new PatientFeatureState(Facts, TimeSpan.FromHours(1));
        }

        var perPatient = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)states.Length;
        GC.KeepAlive(states);
        TestContext.Current.TestOutputHelper?.WriteLine($"{perPatient:F0} bytes per patient");
        // Online state of 10,000 patients must stay under 300 MB; this is about 6 KB each (≈ 60 MB).
        Assert.InRange(perPatient, 1000, 8 * 1024);
    }
}
