using Hl7.Fhir.Model;
using TeleSuivi.Server.Storage;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Storage;

/// <summary>
/// What every <see cref="IObservationStore"/> promises, run against each implementation by a subclass that gives it
/// a fresh, empty store.
/// </summary>
public abstract class ObservationStoreContract : IAsyncLifetime
{
    private const string Patient = "Patient/contract-1";
    private static readonly int[] Shuffled = [3, 0, 4, 1, 2];
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

    private static decimal ValueOf(Observation observation) => ((Quantity)observation.Value!).Value!.Value;

    private static Observation With(Observation observation, Action<Observation> change)
    {
        change(observation);
        return observation;
    }

    private Task<IReadOnlyList<Observation>> ReadAllAsync() =>
        Store.ReadAsync(Patient, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1000, Cancel);
}
