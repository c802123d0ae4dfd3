using System.Globalization;
using Hl7.Fhir.Model;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Server.Storage.Shapes;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Storage;

/// <summary>
/// The split both stores write through, and the two shortcuts it takes on the write path: shapes met before are
/// recognised without serialising them, and dateTimes written to the second are read without Firely's parser. Both
/// must give exactly what the slow way gives.
/// </summary>
public sealed class ObservationShapesTests
{
    private const string Patient = "Patient/shapes-1";

    /// <summary>One number in three spellings, the first twice.</summary>
    private static readonly decimal[] DecimalsOfOneValue = [60.0m, 60m, 60.00m, 60.0m];

    [Fact]
    public void Split_ShapeMetBefore_GivesTheTextAndIdOfItsSerialisedTemplate()
    {
        // Another code than the other tests', so that the first split here is the first of this shape in the process.
        var first = With(HeartRate(Patient, Morning, 61), o => o.Code.Coding[0].Code = "shapes-test-known");
        var second = With(HeartRate(Patient, Morning.AddMinutes(1), 62), o => o.Code.Coding[0].Code = "shapes-test-known");

        var splits = new[] { ObservationShapes.Split(first), ObservationShapes.Split(second), ObservationShapes.Split(first) };

        var shape = splits[0].Shape;
        Assert.NotNull(shape);
        Assert.All(splits, split => Assert.Equal(shape, split.Shape));
        Assert.All(splits, split => Assert.Equal(unchecked((long)ObservationPoint.Fnv1a(shape)), split.ShapeId));
        Assert.Equal(Json(second), Json(ObservationShapes.Rebuild(splits[1].Shape!, splits[1].Parts!)));
    }

    /// <summary>Firely's IsExactly, which recognises known shapes, finds 60.0 and 60 equal; their JSON differs.</summary>
    [Fact]
    public void Split_ShapesThatDifferOnlyInTheScaleOfADecimal_KeepEachItsOwnShape()
    {
        var readings = DecimalsOfOneValue.Select((low, i) => With(
            HeartRate(Patient, Morning.AddMinutes(i), 70),
            o =>
            {
                o.Code.Coding[0].Code = "shapes-test-decimal";
                o.ReferenceRange.Add(new Observation.ReferenceRangeComponent { Low = new Quantity(low, "/min") });
            })).ToList();

        Assert.Equal(3, DistinctShapesOfExactRebuilds(readings));
    }

    /// <summary>Two instants of one moment in two offsets are written apart: IsExactly must keep telling them apart.</summary>
    [Fact]
    public void Split_ShapesThatDifferOnlyInTheOffsetOfAnInstant_KeepEachItsOwnShape()
    {
        var moment = new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.FromHours(1));
        var readings = new[] { moment, moment.ToUniversalTime(), moment }.Select((at, i) => With(
            HeartRate(Patient, Morning.AddMinutes(i), 70),
            o =>
            {
                o.Code.Coding[0].Code = "shapes-test-instant";
                o.AddExtension("https://telesuivi.org/fhir/test/calibrated-at", new Instant(at));
            })).ToList();

        Assert.Equal(2, DistinctShapesOfExactRebuilds(readings));
    }

    [Theory]
    [InlineData("2026-01-15T08:00:00Z")]
    [InlineData("2026-01-15T08:00:00.1Z")]
    [InlineData("2026-01-15T08:00:00.123Z")]
    [InlineData("2026-01-15T08:00:00.1234567Z")]
    [InlineData("2026-01-15T08:00:00+01:00")]
    [InlineData("2026-01-15T08:00:00.999-09:30")]
    [InlineData("2026-01-15T08:00:00-00:00")]
    [InlineData("2024-02-29T23:59:59+14:00")]
    [InlineData("1969-12-31T23:59:59.9995Z")]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T23:59:59Z")]
    public void FullDateTime_DateTimeToTheSecondWithAnOffset_IsFirelysInstantAndOffset(string text) =>
        Assert.Equal(Firely(text), Exactly(ObservationKeys.FullDateTime(text)));

    [Theory]
    [InlineData("2026")]
    [InlineData("2026-01-15")]
    [InlineData("2026-01-15T08:00:00")]
    [InlineData("2026-01-15T08:00Z")]
    [InlineData("2026-01-15T08:00:00.12345678Z")]
    [InlineData("2026-01-15T08:00:00.Z")]
    [InlineData("2026-01-15T24:00:00Z")]
    [InlineData("2026-01-15T08:00:60Z")]
    [InlineData("2025-02-29T08:00:00Z")]
    [InlineData("2026-13-01T08:00:00Z")]
    [InlineData("2026-01-15T08:00:00+14:30")]
    [InlineData("2026-01-15T08:00:00+0100")]
    [InlineData("2026-01-15t08:00:00Z")]
    [InlineData("2026-01-15T08:00:00Z ")]
    [InlineData("0000-01-01T00:00:00Z")]
    [InlineData("２026-01-15T08:00:00Z")]
    public void FullDateTime_AnyOtherSpelling_LeavesItToFirely(string text) =>
        Assert.Null(ObservationKeys.FullDateTime(text));

    /// <summary>Random dateTimes of every shape the shortcut reads: it agrees with Firely on each.</summary>
    [Fact]
    public void FullDateTime_RandomDateTimes_AgreeWithFirely()
    {
        var random = new Random(20261124);
        for (var i = 0; i < 5_000; i++)
        {
            var at = new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks), DateTimeKind.Unspecified);
            var fraction = random.Next(0, 8) is var digits and > 0 ? "." + at.ToString(new string('f', digits), CultureInfo.InvariantCulture) : string.Empty;
            var offsetMinutes = random.Next(-14 * 60, (14 * 60) + 1);
            var offset = random.Next(3) == 0 ? "Z" : $"{(offsetMinutes < 0 ? '-' : '+')}{Math.Abs(offsetMinutes) / 60:D2}:{Math.Abs(offsetMinutes) % 60:D2}";
            var text = at.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture) + fraction + offset;
            var (expected, actual) = (Firely(text), Exactly(ObservationKeys.FullDateTime(text)));
            Assert.True(expected == actual, $"'{text}': Firely reads {expected}, the shortcut {actual}");
        }
    }

    /// <summary>Splits each reading, checks that it is rebuilt exactly, and counts the shapes they were split into.</summary>
    private static int DistinctShapesOfExactRebuilds(List<Observation> readings)
    {
        var splits = readings.Select(ObservationShapes.Split).ToList();
        for (var i = 0; i < readings.Count; i++)
        {
            Assert.Equal(Json(readings[i]), Json(ObservationShapes.Rebuild(splits[i].Shape!, splits[i].Parts!)));
        }

        return splits.Select(s => s.Shape).Distinct().Count();
    }

    /// <summary>
    /// Firely caches its parse in the element without a lock, and the pipeline hands one Observation to the store, the
    /// alert engine and the risk scorer at once (two threads parsing one element can see the cache emptied under them:
    /// a NullReferenceException in <c>demo</c>). Reading the effective time must leave the shared element unparsed, also
    /// for the spellings Firely reads.
    /// </summary>
    [Theory]
    [InlineData("2026-01-15T08:00:00.12345678Z")]
    [InlineData("2026-01-15T08:00:00Z")]
    public void EffectiveTime_AnySpelling_LeavesTheSharedElementUnparsed(string text)
    {
        var effective = new FhirDateTime(text);
        var observation = new Observation { Effective = effective };
        var cache = typeof(FhirDateTime).GetField("_parsedValue", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);
        Assert.True(cache is not null, "Firely's FhirDateTime has no _parsedValue any more: check whether its parse is still cached unsynchronised, then update this test");

        var time = ObservationKeys.EffectiveTime(observation);

        Assert.Equal(Firely(text), Exactly(time));
        Assert.Null(cache.GetValue(effective));
    }

    /// <summary>Firely's reading of <paramref name="text"/>: the instant and the offset (DateTimeOffset equality ignores the offset).</summary>
    private static (long UtcTicks, TimeSpan Offset)? Firely(string text) =>
        new FhirDateTime(text).TryToDateTimeOffset(out var value) ? (value.UtcTicks, value.Offset) : null;

    private static (long UtcTicks, TimeSpan Offset)? Exactly(DateTimeOffset? value) => value is { } v ? (v.UtcTicks, v.Offset) : null;

    /// <summary>Readings as the pipeline hands them over: parsed from FHIR JSON (the API, a replay) or made by the normaliser.</summary>
    public static TheoryData<string> SharedReadings => [.. SharedReading.Keys];

    /// <summary>Those the split takes apart (an effectiveInstant keeps its own JSON).</summary>
    public static TheoryData<string> SplitReadings => [.. SharedReading.Keys.Where(k => !k.StartsWith("effectiveInstant", StringComparison.Ordinal))];

    private static readonly Dictionary<string, Func<Observation>> SharedReading = new()
    {
        ["heart rate, parsed"] = () => ObservationKeys.Parse(Json(HeartRate(Patient, Morning, 61))),
        ["blood pressure, parsed"] = () => ObservationKeys.Parse(Json(BloodPressure(Patient, Morning, 120, 80, 93))),
        ["weight without identifier, issued or subject, parsed"] = () => ObservationKeys.Parse(Json(With(
            BodyWeight(Patient, Morning, 70.5m), o => (o.Identifier, o.IssuedElement, o.Subject) = ([], null, null)))),
        ["effectiveInstant, parsed"] = () => ObservationKeys.Parse(Json(With(
            HeartRate(Patient, Morning, 61), o => o.Effective = new Instant(Morning)))),
        ["blood pressure with a device status, normalised"] = () => Normalised(new DecodedReading(
            "blood-pressure", Morning, [new DecodedValue("systolic-pressure", 120, "mm[Hg]"), new DecodedValue("diastolic-pressure", 80, "mm[Hg]")])
        {
            Qualifiers = new Dictionary<string, string> { [QualifierKeys.DeviceStatus] = "irregular-pulse", [QualifierKeys.BatteryPercent] = "15" },
        }),
        ["heart rate, normalised"] = () => Normalised(DecodedReading.OfValue("heart-rate", Morning, 72, "/min")),
    };

    private static Observation Normalised(DecodedReading reading) =>
        new ObservationFactory().Normalise(reading, new ObservationContext("shapes-dev-1", "shapes-1", Morning.AddSeconds(5), "gatt/2a35")).Value!.ToObservation();

    /// <summary>
    /// The pipeline hands one Observation to the store, the alert engine and the risk scorer at once, so the write path
    /// may only read it. Firely's getters write on first read: list properties create their list, an instant parses
    /// or spells its value into the element. Besides the race, on a reading that has outlived a garbage collection each
    /// such write is a young object held by an old one (most of the SQLite benchmark's GC pauses before this).
    /// </summary>
    [Theory]
    [MemberData(nameof(SharedReadings))]
    public async System.Threading.Tasks.Task WritePath_SharedReading_LeavesEveryFieldOfItAsItWas(string reading)
    {
        var observation = SharedReading[reading]();
        var before = ElementGraph.Snapshot(observation);

        // Twice: a shape met for the first time is serialised, a known one compared with the reading's template.
        ObservationShapes.Split(observation);
        ObservationShapes.Split(observation);
        _ = ObservationKeys.NumericFields(observation).ToList();
        _ = (ObservationKeys.EffectiveTime(observation), ObservationKeys.CodeToken(observation), ObservationKeys.UnitOf(observation));
        var directory = Directory.CreateTempSubdirectory("telesuivi-shared-reading-");
        try
        {
            using var store = new SqliteObservationStore(Path.Combine(directory.FullName, "store.db"));
            await store.InitializeAsync(TestContext.Current.CancellationToken);
            await store.WriteAsync([observation], TestContext.Current.CancellationToken);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }

        var changes = ElementGraph.Changes(before, ElementGraph.Snapshot(observation));
        Assert.True(changes.Count == 0, $"The write path wrote into the reading: {string.Join(", ", changes)}");
    }

    /// <summary>The split tells the spelling of a time without writing it: it must agree with Spell on every millisecond.</summary>
    [Theory]
    [InlineData("2026-01-15T08:00:00Z")]
    [InlineData("1969-12-31T23:59:59Z")]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T23:59:58Z")]
    public void IsSpelled_EveryMillisecondOfASecond_AgreesWithSpellAndRefusesOtherSpellings(string second)
    {
        var start = DateTimeOffset.Parse(second, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        for (var milliseconds = start; milliseconds < start + 1000; milliseconds++)
        {
            foreach (var style in new[] { EffectiveStyle.UtcZ, EffectiveStyle.Firely })
            {
                var other = style == EffectiveStyle.UtcZ ? EffectiveStyle.Firely : EffectiveStyle.UtcZ;
                var text = ObservationShapes.Spell(milliseconds, style);
                Assert.True(ObservationShapes.IsSpelled(text, milliseconds, style), $"{text} as {style}");
                Assert.False(ObservationShapes.IsSpelled(text, milliseconds + 1, style), $"{text} as {style} one millisecond later");
                Assert.Equal(text == ObservationShapes.Spell(milliseconds, other), ObservationShapes.IsSpelled(text, milliseconds, other));
                Assert.False(ObservationShapes.IsSpelled(text + "0", milliseconds, style));
                Assert.False(ObservationShapes.IsSpelled(text.AsSpan(0, text.Length - 1), milliseconds, style));
            }
        }
    }

    /// <summary>The SQLite log takes a split reading's numbers from its parts: they must be its numeric fields, in order.</summary>
    [Theory]
    [MemberData(nameof(SplitReadings))]
    public void Split_SharedReading_PartsHoldItsNumericFields(string reading)
    {
        var observation = SharedReading[reading]();

        var parts = ObservationShapes.Split(observation).Parts;

        Assert.NotNull(parts);
        var fromParts = parts.Value is { } value ? [(ObservationKeys.ValueField, value), .. parts.Components] : parts.Components.ToList();
        Assert.Equal(ObservationKeys.NumericFields(observation).ToList(), fromParts);
    }

    /// <summary>What the test above relies on: a getter that creates a list on first read is seen as a change.</summary>
    [Fact]
    public void ElementGraph_ListPropertyReadForTheFirstTime_IsSeenAsAChange()
    {
        var observation = SharedReading["heart rate, parsed"]();
        var before = ElementGraph.Snapshot(observation);

        _ = observation.Note.Count;

        Assert.Equal(["/Observation._Note"], ElementGraph.Changes(before, ElementGraph.Snapshot(observation)));
    }

    private static Observation With(Observation observation, Action<Observation> change)
    {
        change(observation);
        return observation;
    }
}
