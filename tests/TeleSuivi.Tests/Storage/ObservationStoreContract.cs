using Hl7.Fhir.Model;
using TeleSuivi.Server.Storage;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Storage;

/// <summary>
/// What every <see cref="IObservationStore"/> promises, run against each implementation by a subclass that gives it
/// a fresh, empty store.
/// </summary>
public abstract partial class ObservationStoreContract : IAsyncLifetime
{
    private const string Patient = "Patient/contract-1";
    private static readonly int[] Shuffled = [3, 0, 4, 1, 2];
    private static readonly string[] RateAndWeight = ["8867-4", "29463-7"];
    private IObservationStore? store;

    protected static CancellationToken Cancel => TestContext.Current.CancellationToken;

    protected IObservationStore Store => store ?? throw new InvalidOperationException("not initialized");

    public async ValueTask InitializeAsync()
    {
        store = CreateStore();
        await store.InitializeAsync(Cancel);
    }

    /// <summary>A new store over empty storage, not yet initialized.</summary>
    protected abstract IObservationStore CreateStore();

    public virtual ValueTask DisposeAsync()
    {
        (store as IDisposable)?.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task ReadAsync_AfterWritingQuantity_ReturnsTheSameObservation()
    {
        var weight = BodyWeight(Patient, Morning, 72.5m);

        await Store.WriteAsync([weight], Cancel);

        var read = await ReadAllAsync();
        Assert.Equal(Json(weight), Json(Assert.Single(read)));
    }

    [Fact]
    public async Task ReadAsync_AfterWritingBloodPressurePanel_ReturnsTheSameObservation()
    {
        var pressure = BloodPressure(Patient, Morning, 128, 82, 97);

        await Store.WriteAsync([pressure], Cancel);

        var read = Assert.Single(await ReadAllAsync());
        Assert.Equal(Json(pressure), Json(read));
        Assert.Equal(["8480-6", "8462-4", "8478-0"], read.Component.Select(c => c.Code.Coding[0].Code));
        Assert.Equal([128m, 82m, 97m], read.Component.Select(c => ((Quantity)c.Value!).Value!.Value));
    }

    public static TheoryData<string> UnusualShapes => [.. Unusual.Keys];

    /// <summary>Observations that do not look like the ingestion's: every part must still come back as it was.</summary>
    private static readonly Dictionary<string, Func<Observation>> Unusual = new()
    {
        ["value with trailing zeros"] = () => BodyWeight(Patient, Morning, 72.50m),
        ["value with more digits than a double"] = () => BodyWeight(Patient, Morning, 72.123456789012345678m),
        ["negative and tiny values"] = () => BloodPressure(Patient, Morning, -0.000001m, 0m, 1e-20m),
        ["time written with Z"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Effective = new FhirDateTime("2026-01-15T08:00:00.123Z")),
        ["time in another zone"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Effective = new FhirDateTime("2026-01-15T09:00:00.123+01:00")),
        ["time to the microsecond"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Effective = new FhirDateTime("2026-01-15T08:00:00.123456+00:00")),
        ["time without milliseconds"] = () => BodyWeight(Patient, Morning.AddMilliseconds(-123), 70m),
        ["effective period"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Effective = new Period(new FhirDateTime(Morning), new FhirDateTime(Morning.AddMinutes(5)))),
        ["effective instant"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Effective = new Instant(Morning)),
        ["subject with display"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Subject!.Display = "Jeanne Martin"),
        ["no device"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Device = null),
        ["device by identifier only"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Device = new ResourceReference { Identifier = new Identifier("urn:serial", "SN-1") }),
        ["value without number"] = () => With(BodyWeight(Patient, Morning, 70m), o => ((Quantity)o.Value!).Value = null),
        ["coded value"] = () => With(BodyWeight(Patient, Morning, 70m), o => o.Value = new CodeableConcept(Snomed, "260385009", "Negative")),
        ["text value and note"] = () => With(BodyWeight(Patient, Morning, 70m), o =>
        {
            o.Value = new FhirString("see note, \"quoted\" \\ back\nslash");
            o.Note.Add(new Annotation { Text = new Markdown("line 1\nline 2 ünïcødé 𝄞") });
        }),
        ["extensions, interpretation and reference range"] = () => With(BloodPressure(Patient, Morning, 150, 95, 113), o =>
        {
            o.Extension.Add(new Extension("urn:telesuivi:device-status", new FhirString("cuff-loose,body-movement")));
            o.Interpretation.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H", "High"));
            o.ReferenceRange.Add(new Observation.ReferenceRangeComponent { High = new Quantity(140, "mm[Hg]") });
            o.Component[0].Value!.Extension.Add(new Extension("urn:x", new FhirBoolean(true)));
            o.Component[0].Interpretation.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H"));
        }),
        ["two components with the same code"] = () => With(BloodPressure(Patient, Morning, 120, 80, 93), o =>
            o.Component.Add(new Observation.ComponentComponent { Code = o.Component[0].Code, Value = new Quantity(121, "mm[Hg]") })),
        ["component without code or value"] = () => With(BloodPressure(Patient, Morning, 120, 80, 93), o =>
        {
            o.Component.Insert(0, new Observation.ComponentComponent { Code = new CodeableConcept { Text = "free text" }, Value = new Quantity(1, "1") });
            o.Component[2].Value = null;
        }),
        ["amended status and meta"] = () => With(BodyWeight(Patient, Morning, 70m), o =>
        {
            o.Status = ObservationStatus.Amended;
            o.Meta = new Meta { Profile = ["http://hl7.org/fhir/StructureDefinition/bodyweight"] };
            o.Identifier.Add(new Identifier("urn:other", "second"));
        }),
    };

    [Theory]
    [MemberData(nameof(UnusualShapes))]
    public async Task ReadAsync_AfterWritingUnusualObservation_ReturnsItExactly(string shape)
    {
        var observation = Unusual[shape]();

        await Store.WriteAsync([observation], Cancel);

        Assert.Equal(Json(observation), Json(Assert.Single(await ReadAllAsync())));
    }

    [Fact]
    public async Task WriteAsync_SameObservationTwice_StoresItOnce()
    {
        var rate = HeartRate(Patient, Morning, 64);

        await Store.WriteAsync([rate], Cancel);
        await Store.WriteAsync([rate, rate], Cancel);

        Assert.Equal(Json(rate), Json(Assert.Single(await ReadAllAsync())));
    }

    [Fact]
    public async Task WriteAsync_SameIdWithNewValue_KeepsTheLastWritten()
    {
        var first = HeartRate(Patient, Morning, 64);
        var corrected = HeartRate(Patient, Morning, 66);

        await Store.WriteAsync([first], Cancel);
        await Store.WriteAsync([corrected], Cancel);

        Assert.Equal(Json(corrected), Json(Assert.Single(await ReadAllAsync())));
    }

    [Fact]
    public async Task ReadTrendAsync_SameIdRewrittenWithNewValues_CountsOnlyTheLastWritten()
    {
        await Store.WriteAsync([BloodPressure(Patient, Morning, 128, 82, 97), HeartRate(Patient, Morning, 64)], Cancel);
        await Store.WriteAsync([BloodPressure(Patient, Morning, 131, 85, 100), HeartRate(Patient, Morning, 66)], Cancel);

        var pressure = await Store.ReadTrendAsync(Patient, BloodPressureCode, Morning, Morning, TrendResolution.Raw, Cancel);
        var rate = await Store.ReadTrendAsync(Patient, HeartRateCode, Morning, Morning, TrendResolution.Raw, Cancel);

        Assert.Equal(131, Assert.Single(pressure.Of("8480-6")!.Points).Last);
        Assert.Equal(85, Assert.Single(pressure.Of("8462-4")!.Points).Last);
        Assert.Equal(66, Assert.Single(rate.Of(null)!.Points).Last);
    }

    [Fact]
    public async Task WriteAsync_TwoObservationsOfOneCodeInOneMillisecond_StoresBoth()
    {
        var fromOximeter = HeartRate(Patient, Morning, 64, "Device/oximeter-1");
        var fromCuff = HeartRate(Patient, Morning, 66, "Device/bp-1");
        var sameDeviceOtherId = HeartRate(Patient, Morning, 65, "Device/oximeter-1");
        sameDeviceOtherId.Id += "-b";

        await Store.WriteAsync([fromOximeter, fromCuff, sameDeviceOtherId], Cancel);

        var read = await ReadAllAsync();
        Assert.Equal(
            new[] { fromOximeter, fromCuff, sameDeviceOtherId }.Select(Json).Order(StringComparer.Ordinal),
            read.Select(Json).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ReadAsync_WithCode_ReturnsOnlyThatCode()
    {
        await Store.WriteAsync([HeartRate(Patient, Morning, 64), BodyWeight(Patient, Morning, 70m), BloodPressure(Patient, Morning, 120, 80, 93)], Cancel);

        var rates = await Store.ReadAsync(Patient, HeartRateCode, Morning.AddDays(-1), Morning.AddDays(1), 100, Cancel);
        var pressures = await Store.ReadAsync(Patient, BloodPressureCode, Morning.AddDays(-1), Morning.AddDays(1), 100, Cancel);
        var unknown = await Store.ReadAsync(Patient, Loinc + "|0000-0", Morning.AddDays(-1), Morning.AddDays(1), 100, Cancel);

        Assert.Equal("8867-4", Assert.Single(rates).Code.Coding[0].Code);
        Assert.Equal("85354-9", Assert.Single(pressures).Code.Coding[0].Code);
        Assert.Empty(unknown);
    }

    [Fact]
    public async Task ReadAsync_Window_IncludesBothEndsToTheMillisecond()
    {
        var times = Enumerable.Range(0, 5).Select(i => Morning.AddMinutes(i)).ToList();
        await Store.WriteAsync([.. times.Select((t, i) => HeartRate(Patient, t, 60 + i))], Cancel);

        var inside = await Store.ReadAsync(Patient, HeartRateCode, times[1], times[3], 100, Cancel);
        var withinLastMillisecond = await Store.ReadAsync(Patient, HeartRateCode, times[1].AddTicks(9_999), times[3].AddTicks(9_999), 100, Cancel);
        var justOutside = await Store.ReadAsync(Patient, HeartRateCode, times[1].AddMilliseconds(1), times[3].AddMilliseconds(-1), 100, Cancel);

        Assert.Equal([61m, 62m, 63m], inside.Select(ValueOf));
        Assert.Equal([61m, 62m, 63m], withinLastMillisecond.Select(ValueOf));
        Assert.Equal([62m], justOutside.Select(ValueOf));
    }

    [Fact]
    public async Task ReadAsync_WithLimit_ReturnsTheOldestFirst()
    {
        var shuffled = Shuffled.Select(i => HeartRate(Patient, Morning.AddHours(i), 60 + i)).ToList();
        await Store.WriteAsync(shuffled, Cancel);

        var firstThree = await Store.ReadAsync(Patient, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 3, Cancel);

        Assert.Equal([60m, 61m, 62m], firstThree.Select(ValueOf));
    }

    [Fact]
    public async Task ReadAsync_AllCodes_ReturnsEveryCodeInTimeOrder()
    {
        var pressure = BloodPressure(Patient, Morning.AddSeconds(2), 120, 80, 93);
        var rate = HeartRate(Patient, Morning.AddSeconds(1), 64);
        var weight = BodyWeight(Patient, Morning, 70m);
        await Store.WriteAsync([pressure, rate, weight], Cancel);

        var read = await Store.ReadAsync(Patient, null, Morning, Morning.AddSeconds(2), 10, Cancel);

        Assert.Equal([weight.Id, rate.Id, pressure.Id], read.Select(o => o.Id));
    }

    [Fact]
    public async Task ReadAsync_OtherPatient_ReturnsNothingOfThisOne()
    {
        await Store.WriteAsync([HeartRate(Patient, Morning, 64), HeartRate("Patient/contract-2", Morning, 90, "Device/oximeter-2")], Cancel);

        var other = await Store.ReadAsync("Patient/contract-2", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel);
        var nobody = await Store.ReadAsync("Patient/nobody", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel);

        Assert.Equal(90m, ValueOf(Assert.Single(other)));
        Assert.Empty(nobody);
    }

    [Fact]
    public async Task ReadAsync_EmptyWindow_ReturnsNothing()
    {
        await Store.WriteAsync([HeartRate(Patient, Morning, 64)], Cancel);

        Assert.Empty(await Store.ReadAsync(Patient, null, Morning.AddMinutes(1), Morning.AddMinutes(-1), 10, Cancel));
    }

    [Fact]
    public async Task WriteAsync_EmptyBatch_DoesNothing()
    {
        await Store.WriteAsync([], Cancel);

        Assert.Empty(await ReadAllAsync());
    }

    [Fact]
    public async Task WriteAsync_ObservationWithoutId_ThrowsArgumentException()
    {
        var anonymous = HeartRate(Patient, Morning, 64);
        anonymous.Id = null;

        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.WriteAsync([anonymous], Cancel));
    }

    [Fact]
    public async Task WriteAsync_ObservationWithoutEffectiveTime_ThrowsArgumentException()
    {
        var timeless = HeartRate(Patient, Morning, 64);
        timeless.Effective = null;

        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.WriteAsync([timeless], Cancel));
    }

    [Fact]
    public async Task CheckWritableAsync_AfterInitialize_Succeeds()
    {
        await Store.CheckWritableAsync(Cancel);
        await Store.CheckWritableAsync(Cancel);
    }

    [Fact]
    public async Task InitializeAsync_Again_KeepsTheData()
    {
        var rate = HeartRate(Patient, Morning, 64);
        await Store.WriteAsync([rate], Cancel);

        await Store.InitializeAsync(Cancel);

        Assert.Equal(Json(rate), Json(Assert.Single(await ReadAllAsync())));
    }

    [Fact]
    public async Task ReadAsync_AThousandReadingsInBatches_ReturnsThemAll()
    {
        var readings = Enumerable.Range(0, 1000).Select(i => HeartRate(Patient, Morning.AddMinutes(i), 50 + (i % 50))).ToList();

        foreach (var batch in readings.Chunk(250))
        {
            await Store.WriteAsync(batch, Cancel);
        }

        var read = await Store.ReadAsync(Patient, HeartRateCode, Morning, Morning.AddDays(1), 5000, Cancel);
        Assert.Equal(readings.Select(Json), read.Select(Json));
    }

    [Fact]
    public async Task SearchAsync_FollowingCursors_ReturnsEveryObservationOnceInTimeOrder()
    {
        var written = SearchSample();
        await Store.WriteAsync(written, Cancel);

        var ascending = await SearchAllAsync(new ObservationSearch(Patient, [], DateTimeOffset.MinValue, DateTimeOffset.MaxValue, false, null, 4));
        var descending = await SearchAllAsync(new ObservationSearch(Patient, [], DateTimeOffset.MinValue, DateTimeOffset.MaxValue, true, null, 3));

        Assert.Equal(OfPatient(written).Select(o => o.Id).Order(StringComparer.Ordinal), ascending.Select(o => o.Id).Order(StringComparer.Ordinal));
        Assert.Equal(ascending.Count, ascending.Select(o => o.Id).Distinct().Count());
        Assert.Equal(ascending.Select(o => o.Id), descending.Select(o => o.Id).Reverse());
        var times = ascending.Select(Effective).ToList();
        Assert.Equal(times.Order(), times);
    }

    [Fact]
    public async Task SearchAsync_ObservationsWrittenBetweenPages_NeitherSkipsNorRepeatsTheOthers()
    {
        var written = SearchSample();
        await Store.WriteAsync(written, Cancel);
        var seen = new List<Observation>();
        var first = await Store.SearchAsync(new ObservationSearch(Patient, [], DateTimeOffset.MinValue, DateTimeOffset.MaxValue, false, null, 5), Cancel);
        seen.AddRange(first.Matches.Select(m => m.Observation));

        // Before the cursor (never returned now), at the cursor's own millisecond, and after it (returned later).
        var cursorTime = Effective(seen[^1]);
        var early = HeartRate(Patient, Morning.AddHours(-5), 99, "Device/late-1");
        var tie = HeartRate(Patient, cursorTime, 98, "Device/late-2");
        var late = HeartRate(Patient, Morning.AddDays(2), 97, "Device/late-3");
        await Store.WriteAsync([early, tie, late], Cancel);
        seen.AddRange(await SearchAllAsync(new ObservationSearch(Patient, [], DateTimeOffset.MinValue, DateTimeOffset.MaxValue, false, first.Matches[^1].Cursor, 5)));

        var ids = seen.Select(o => o.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(OfPatient(written), o => Assert.Contains(o.Id, ids));
        Assert.DoesNotContain(early.Id, ids);
        Assert.Contains(late.Id, ids);
    }

    [Fact]
    public async Task SearchAsync_CodesAndWindow_ReturnsOnlyMatchesWithTotal()
    {
        await Store.WriteAsync(SearchSample(), Cancel);

        var result = await Store.SearchAsync(
            new ObservationSearch(Patient, [HeartRateCode, BodyWeightCode], Morning, Morning.AddMinutes(2), false, null, 100), Cancel);
        var page = await Store.SearchAsync(
            new ObservationSearch(Patient, [HeartRateCode, BodyWeightCode], Morning, Morning.AddMinutes(2), false, null, 2), Cancel);

        Assert.All(result.Matches, m => Assert.Contains(m.Observation.Code.Coding[0].Code, RateAndWeight));
        Assert.All(result.Matches, m => Assert.InRange(Effective(m.Observation), Morning, Morning.AddMinutes(2)));
        Assert.Equal(8, result.Matches.Count);
        Assert.Equal(2, page.Matches.Count);
        Assert.True(page.Total is null || page.Total == 8, $"total {page.Total}");
    }

    [Fact]
    public async Task FindAsync_WrittenObservation_ReturnsItExactly()
    {
        var pressure = BloodPressure(Patient, Morning, 128, 82, 97);
        var environment = With(BodyWeight("Location/75011", Morning, 12.5m), o => o.Device = null);
        var subjectless = With(HeartRate(Patient, Morning, 70, "Device/anonymous-1"), o => o.Subject = null);
        await Store.WriteAsync([pressure, environment, subjectless, HeartRate(Patient, Morning, 64)], Cancel);

        Assert.Equal(Json(pressure), Json((await Store.FindAsync(pressure.Id!, Cancel))!));
        Assert.Equal(Json(environment), Json((await Store.FindAsync(environment.Id!, Cancel))!));
        Assert.Equal(Json(subjectless), Json((await Store.FindAsync(subjectless.Id!, Cancel))!));
        Assert.Null(await Store.FindAsync("no-such-observation", Cancel));
    }

    [Fact]
    public async Task FindAsync_SameIdRewrittenAtAnotherTime_ReturnsTheLatestWritten()
    {
        var first = HeartRate(Patient, Morning, 64);
        var moved = HeartRate(Patient, Morning.AddMinutes(5), 65);
        moved.Id = first.Id;

        await Store.WriteAsync([first], Cancel);
        await Store.WriteAsync([moved], Cancel);

        Assert.Equal(Json(moved), Json((await Store.FindAsync(first.Id!, Cancel))!));
    }

    [Fact]
    public async Task ReadCodesAsync_Subject_ListsItsCodesInOrder()
    {
        await Store.WriteAsync([HeartRate(Patient, Morning, 64), BodyWeight(Patient, Morning, 70m), BloodPressure("Patient/contract-2", Morning, 120, 80, 93)], Cancel);

        Assert.Equal([BodyWeightCode, HeartRateCode], await Store.ReadCodesAsync(Patient, Cancel));
        Assert.Empty(await Store.ReadCodesAsync("Patient/nobody", Cancel));
    }

    [Fact]
    public async Task ReadTrendAsync_Raw_ReturnsEveryReadingOfTheCodeInTheWindow()
    {
        var rates = Enumerable.Range(0, 5).Select(i => HeartRate(Patient, Morning.AddMinutes(i), 60 + i)).ToList();
        await Store.WriteAsync([.. rates, BodyWeight(Patient, Morning, 70m)], Cancel);

        var trend = await Store.ReadTrendAsync(Patient, HeartRateCode, Morning.AddMinutes(1), Morning.AddMinutes(3), TrendResolution.Raw, Cancel);

        var series = Assert.Single(trend.Series);
        Assert.Null(series.Component);
        Assert.Equal([61.0, 62.0, 63.0], series.Points.Select(p => p.Mean));
        Assert.Equal(rates.Skip(1).Take(3).Select(Effective), series.Points.Select(p => p.Time));
        Assert.All(series.Points, p => Assert.Equal((1L, p.Mean, p.Mean, p.Mean), (p.Count, p.Min, p.Max, p.Last)));
    }

    [Fact]
    public async Task ReadTrendAsync_Hourly_AggregatesEachBucketWithMeanMinMaxCountLast()
    {
        var hour = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        decimal[] first = [60, 70, 65], second = [80];
        await Store.WriteAsync(
            [
                .. first.Select((v, i) => HeartRate(Patient, hour.AddMinutes(10 * i), v)),
                .. second.Select(v => HeartRate(Patient, hour.AddHours(1).AddMinutes(59).AddSeconds(59).AddMilliseconds(999), v)),
                HeartRate(Patient, hour.AddHours(3), 90),
            ],
            Cancel);

        var trend = await Store.ReadTrendAsync(Patient, HeartRateCode, hour.AddMinutes(5), hour.AddHours(2).AddMilliseconds(-1), TrendResolution.Hour, Cancel);

        var points = Assert.Single(trend.Series).Points;
        Assert.Equal(2, points.Count);
        // The window starts at 08:05: the 08:00 reading is out, the bucket is still labelled 08:00.
        Assert.Equal(new TrendPoint(hour, 67.5, 65, 70, 2, 65), points[0]);
        Assert.Equal(new TrendPoint(hour.AddHours(1), 80, 80, 80, 1, 80), points[1]);
        Assert.Equal(TrendResolution.Hour, trend.Resolution);
    }

    [Fact]
    public async Task ReadTrendAsync_BloodPressureByDay_AggregatesEachComponent()
    {
        var day = new DateTimeOffset(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
        await Store.WriteAsync(
            [
                BloodPressure(Patient, day.AddHours(7), 120, 80, 93),
                BloodPressure(Patient, day.AddHours(19), 140, 90, 107),
                BloodPressure(Patient, day.AddDays(1).AddHours(7), 130, 85, 100),
            ],
            Cancel);

        var trend = await Store.ReadTrendAsync(Patient, BloodPressureCode, day, day.AddDays(2), TrendResolution.Day, Cancel);

        Assert.Equal(["8462-4", "8478-0", "8480-6"], trend.Series.Select(s => s.Component));
        var systolic = trend.Of("8480-6")!.Points;
        Assert.Equal([new TrendPoint(day, 130, 120, 140, 2, 140), new TrendPoint(day.AddDays(1), 130, 130, 130, 1, 130)], systolic);
        Assert.Equal([85.0, 85.0], trend.Of("8462-4")!.Points.Select(p => p.Mean));
        Assert.Null(trend.Of(null));
    }

    [Fact]
    public async Task ReadTrendAsync_ByMinute_GroupsReadingsOfOneMinute()
    {
        var minute = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        await Store.WriteAsync([HeartRate(Patient, minute.AddSeconds(1), 60), HeartRate(Patient, minute.AddSeconds(59), 62), HeartRate(Patient, minute.AddMinutes(1), 70)], Cancel);

        var points = Assert.Single((await Store.ReadTrendAsync(Patient, HeartRateCode, minute, minute.AddHours(1), TrendResolution.Minute, Cancel)).Series).Points;

        Assert.Equal([new TrendPoint(minute, 61, 60, 62, 2, 62), new TrendPoint(minute.AddMinutes(1), 70, 70, 70, 1, 70)], points);
    }

    [Fact]
    public async Task ReadTrendAsync_IntegerAndBooleanValues_TrendAsNumbers()
    {
        var score = With(BodyWeight(Patient, Morning, 1m), o =>
        {
            o.Id = "score-1";
            o.Code = new CodeableConcept("https://telesuivi.org/fhir/CodeSystem/measure", "cat-score");
            o.Value = new Integer(17);
        });
        var taken = With(BodyWeight(Patient, Morning, 1m), o =>
        {
            o.Id = "dose-1";
            o.Code = new CodeableConcept("https://telesuivi.org/fhir/CodeSystem/measure", "medication-dose-taken");
            o.Value = new FhirBoolean(true);
        });
        await Store.WriteAsync([score, taken], Cancel);

        var scores = await Store.ReadTrendAsync(Patient, "https://telesuivi.org/fhir/CodeSystem/measure|cat-score", Morning, Morning, TrendResolution.Raw, Cancel);
        var doses = await Store.ReadTrendAsync(Patient, "https://telesuivi.org/fhir/CodeSystem/measure|medication-dose-taken", Morning, Morning, TrendResolution.Day, Cancel);

        Assert.Equal(17.0, Assert.Single(Assert.Single(scores.Series).Points).Mean);
        Assert.Equal(1.0, Assert.Single(Assert.Single(doses.Series).Points).Mean);
        Assert.Equal(Json(score), Json((await Store.FindAsync(score.Id!, Cancel))!));
    }

    [Fact]
    public async Task ReadTrendAsync_NoReadings_ReturnsNoSeries()
    {
        var trend = await Store.ReadTrendAsync(Patient, HeartRateCode, Morning, Morning.AddDays(1), TrendResolution.Hour, Cancel);

        Assert.Empty(trend.Series);
        Assert.Equal((Patient, HeartRateCode), (trend.Subject, trend.Code));
    }

    [Fact]
    public async Task ReadEnvironmentAsync_Zone_ReturnsOneTrendPerCode()
    {
        const string zone = "Location/75011";
        var hour = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        await Store.WriteAsync(
            [
                Ambient(zone, hour, "pm25", 10m),
                Ambient(zone, hour.AddMinutes(30), "pm25", 20m),
                Ambient(zone, hour, "no2", 31m),
                Ambient("Location/69001", hour, "pm25", 99m),
                HeartRate(Patient, hour, 60),
            ],
            Cancel);

        var hourly = await Store.ReadEnvironmentAsync("75011", hour, hour.AddHours(1), TrendResolution.Hour, Cancel);
        var raw = await Store.ReadEnvironmentAsync("75011", hour, hour.AddHours(1), TrendResolution.Raw, Cancel);

        Assert.Equal([AmbientCode("no2"), AmbientCode("pm25")], hourly.Select(t => t.Code));
        Assert.All(hourly, t => Assert.Equal(zone, t.Subject));
        Assert.Equal(new TrendPoint(hour, 15, 10, 20, 2, 20), Assert.Single(Assert.Single(hourly[1].Series).Points));
        Assert.Equal([10.0, 20.0], Assert.Single(raw[1].Series).Points.Select(p => p.Mean));
    }

    [Fact]
    public async Task ReadLatestAsync_EveryPatient_ReturnsTheLatestReadingOfEachCode()
    {
        await Store.WriteAsync(
            [
                HeartRate(Patient, Morning, 60),
                HeartRate(Patient, Morning.AddHours(2), 62, "Device/bp-1"),
                HeartRate(Patient, Morning.AddHours(1), 61),
                BloodPressure(Patient, Morning.AddHours(1), 128, 82, 97),
                BodyWeight(Patient, Morning.AddDays(-10), 70m),
                HeartRate("Patient/contract-2", Morning, 90, "Device/oximeter-2"),
                Ambient("Location/75011", Morning.AddHours(3), "pm25", 12m),
            ],
            Cancel);

        var latest = await Store.ReadLatestAsync(null, Morning.AddDays(-1), Cancel);
        var one = await Store.ReadLatestAsync("Patient/contract-2", DateTimeOffset.MinValue, Cancel);

        Assert.Equal(
            [(Patient, BloodPressureCode), (Patient, HeartRateCode), ("Patient/contract-2", HeartRateCode)],
            latest.Select(r => (r.Subject, r.Code)));
        var rate = latest[1];
        Assert.Equal((Morning.AddHours(2), 62.0, "/min", "Device/bp-1"), (rate.Time, rate.Value, rate.Unit, rate.Device));
        Assert.Equal(HeartRate(Patient, Morning.AddHours(2), 62, "Device/bp-1").Id, rate.ObservationId);
        Assert.Empty(rate.Components);
        var pressure = latest[0];
        Assert.Null(pressure.Value);
        Assert.Equal(new Dictionary<string, double> { ["8462-4"] = 82, ["8478-0"] = 97, ["8480-6"] = 128 }, pressure.Components);
        Assert.Equal(90.0, Assert.Single(one).Value);
    }

    [Fact]
    public async Task ReadCompletenessAsync_UtcDays_CountsEachExpectedCodePerDay()
    {
        var day = new DateOnly(2026, 1, 15);
        var midnight = new DateTimeOffset(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
        await Store.WriteAsync(
            [
                HeartRate(Patient, midnight, 60),
                HeartRate(Patient, midnight.AddHours(12), 61),
                HeartRate(Patient, midnight.AddDays(1).AddMilliseconds(-1), 62),
                HeartRate(Patient, midnight.AddDays(1), 63),
                BodyWeight(Patient, midnight.AddHours(7), 70m),
                BloodPressure(Patient, midnight.AddHours(7), 120, 80, 93),
                HeartRate("Patient/contract-2", midnight.AddHours(1), 90, "Device/oximeter-2"),
            ],
            Cancel);
        var expected = new Dictionary<string, int> { [HeartRateCode] = 4, [BodyWeightCode] = 1 };

        var report = await Store.ReadCompletenessAsync(Patient, day, day.AddDays(2), expected, null, Cancel);

        Assert.Equal([day, day.AddDays(1), day.AddDays(2)], report.Select(d => d.Day));
        Assert.Equal([new CodeCompleteness(HeartRateCode, 3, 4), new CodeCompleteness(BodyWeightCode, 1, 1)], report[0].Codes);
        Assert.Equal([new CodeCompleteness(HeartRateCode, 1, 4), new CodeCompleteness(BodyWeightCode, 0, 1)], report[1].Codes);
        Assert.Equal([0, 0], report[2].Codes.Select(c => c.Received));
        Assert.Equal(0.75, report[0].Codes[0].Ratio);
    }

    [Fact]
    public async Task ReadCompletenessAsync_TimeZone_CutsDaysAtLocalMidnight()
    {
        var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        var day = new DateOnly(2026, 3, 29); // summer time starts: a 23-hour day
        var localMidnight = new DateTimeOffset(2026, 3, 28, 23, 0, 0, TimeSpan.Zero);
        await Store.WriteAsync(
            [
                HeartRate(Patient, localMidnight.AddMilliseconds(-1), 60), // 23:59:59.999 on the 28th in Paris
                HeartRate(Patient, localMidnight, 61),
                HeartRate(Patient, localMidnight.AddHours(23).AddMilliseconds(-1), 62), // 23:59:59.999 on the 29th (UTC+2)
                HeartRate(Patient, localMidnight.AddHours(23), 63),
            ],
            Cancel);

        var report = await Store.ReadCompletenessAsync(Patient, day, day, new Dictionary<string, int> { [HeartRateCode] = 2 }, paris, Cancel);

        Assert.Equal(2, Assert.Single(Assert.Single(report).Codes).Received);
    }

    private static List<Observation> SearchSample()
    {
        var observations = new List<Observation>();
        for (var i = 0; i < 6; i++)
        {
            var time = Morning.AddMinutes(i);
            observations.Add(HeartRate(Patient, time, 60 + i));
            observations.Add(HeartRate(Patient, time, 70 + i, "Device/bp-1")); // same code, same millisecond, other device
            if (i % 2 == 0)
            {
                observations.Add(BodyWeight(Patient, time, 70 + i));
                observations.Add(BloodPressure(Patient, time, 120 + i, 80, 93));
            }
        }

        observations.Add(HeartRate("Patient/contract-2", Morning, 90, "Device/oximeter-2"));
        return observations;
    }

    private static IEnumerable<Observation> OfPatient(IEnumerable<Observation> observations) =>
        observations.Where(o => o.Subject?.Reference == Patient);

    private async Task<List<Observation>> SearchAllAsync(ObservationSearch search)
    {
        var all = new List<Observation>();
        for (var pages = 0; pages < 1000; pages++)
        {
            var result = await Store.SearchAsync(search, Cancel);
            all.AddRange(result.Matches.Select(m => m.Observation));
            if (result.Matches.Count < search.Limit)
            {
                return all;
            }

            search = search with { After = result.Matches[^1].Cursor };
        }

        throw new InvalidOperationException("the search never ended");
    }

    private static DateTimeOffset Effective(Observation observation) => ((FhirDateTime)observation.Effective!).ToDateTimeOffset(TimeSpan.Zero);

    private static string AmbientCode(string key) => "https://telesuivi.org/fhir/CodeSystem/measure|ambient-" + key;

    private static Observation Ambient(string zone, DateTimeOffset time, string key, decimal value) => With(BodyWeight(zone, time, value), o =>
    {
        o.Id = $"env-{zone[(zone.IndexOf('/', StringComparison.Ordinal) + 1)..]}-{key}-{time.ToUnixTimeMilliseconds()}";
        o.Code = new CodeableConcept("https://telesuivi.org/fhir/CodeSystem/measure", "ambient-" + key);
        o.Device = null;
        ((Quantity)o.Value!).Code = "ug/m3";
    });

    private static decimal ValueOf(Observation observation) => ((Quantity)observation.Value!).Value!.Value;

    protected static Observation With(Observation observation, Action<Observation> change)
    {
        change(observation);
        return observation;
    }

    private Task<IReadOnlyList<Observation>> ReadAllAsync() =>
        Store.ReadAsync(Patient, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1000, Cancel);
}
