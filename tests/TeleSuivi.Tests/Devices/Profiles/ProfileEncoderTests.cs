using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Devices.Profiles;

namespace TeleSuivi.Tests.Devices.Profiles;

/// <summary>
/// The encoder as the inverse of every profile of ingest/ (discovered at test time, so a new folder is covered with no
/// change here): random realistic readings → encode → decode with the real decoder → normalise → the same measures,
/// values (at the precision of the input) and times (at the precision of the format).
/// </summary>
public sealed class ProfileEncoderTests
{
    private const int Iterations = 25;
    private const string DeviceId = "sim-device";
    private static readonly Lazy<ProfileEncoderRegistry> LoadedEncoders = new(() => ProfileEncoderRegistry.Load(IngestExamples.IngestDirectory));
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    /// <summary>Zones a device may be set to: DST north and south, a half-hour offset without DST, DST at midnight.</summary>
    private static readonly string[] DeviceZones = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Santiago", "Europe/London"];

    /// <summary>
    /// Realistic values per measure in the canonical unit, with the decimals a device shows. Measures the table
    /// lacks (a new catalogue entry) get a value inside the catalogue's range with one decimal.
    /// </summary>
    private static readonly Dictionary<string, (double Min, double Max, int Decimals)> Realistic = new(StringComparer.Ordinal)
    {
        ["diastolic-pressure"] = (55, 100, 0),
        ["heart-rate"] = (45, 140, 0),
        ["ecg-heart-rate"] = (45, 140, 0),
        ["oxygen-saturation"] = (85, 100, 0),
        ["body-temperature"] = (35.5, 39.5, 1),
        ["body-weight"] = (40, 150, 1),
        ["body-height"] = (150, 195, 1),
        ["bmi"] = (17, 40, 1),
        ["respiratory-rate"] = (10, 30, 0),
        ["body-fat-percentage"] = (10, 45, 1),
        ["fat-mass"] = (5, 50, 1),
        ["fat-free-mass"] = (35, 80, 1),
        ["muscle-mass"] = (25, 70, 1),
        ["body-water-mass"] = (25, 55, 1),
        ["body-water-percentage"] = (40, 65, 1),
        ["bone-mass"] = (1.8, 4, 1),
        ["glucose"] = (3.5, 20, 1),
        ["peak-expiratory-flow"] = (150, 650, 0),
        ["fev1"] = (0.6, 4.5, 2),
        ["fvc"] = (1, 5.5, 2),
        ["rr-interval"] = (400, 1300, 0),
        ["pulse-amplitude-index"] = (0.2, 15, 1),
        ["steps"] = (0, 20000, 0),
        ["sleep-duration"] = (3, 10, 2),
        ["energy-expended"] = (1200, 3500, 0),
        ["oxygen-flow-rate"] = (0.5, 5, 1),
        ["cpap-usage"] = (0, 9, 2),
        ["apnea-hypopnea-index"] = (0, 30, 1),
        ["cat-score"] = (0, 40, 0),
        ["mrc-breathlessness-grade"] = (1, 5, 0),
        ["medication-dose-taken"] = (0, 1, 0),
        ["hf-breathless-at-rest"] = (0, 1, 0),
        ["hf-orthopnea"] = (0, 1, 0),
        ["hf-ankle-swelling"] = (0, 1, 0),
        ["indoor-co2"] = (400, 2500, 0),
        ["indoor-pm25"] = (0, 80, 1),
        ["indoor-temperature"] = (15, 28, 1),
        ["indoor-humidity"] = (20, 80, 0),
        ["cuff-pressure"] = (0, 300, 0),
    };

    private static ProfileEncoderRegistry Encoders => LoadedEncoders.Value;

    public static TheoryData<string> Manufacturers() => [.. IngestExamples.Registry.Manufacturers];

    public static TheoryData<string, string> EncodableMeasures()
    {
        var data = new TheoryData<string, string>();
        foreach (var manufacturer in Encoders.Manufacturers)
        {
            foreach (var measure in Encoders.EncodableMeasures(manufacturer))
            {
                data.Add(manufacturer, measure);
            }
        }

        return data;
    }

    public static TheoryData<string> LocalTimeManufacturers() =>
        [.. Encoders.Manufacturers.Where(m => Encoders.Get(m).Time.Format == "local")];

    [Fact]
    public void Load_IngestDirectory_HasAnEncoderForEveryDecoder()
    {
        Assert.Equal(IngestExamples.Registry.Manufacturers, Encoders.Manufacturers);
    }

    [Theory]
    [MemberData(nameof(Manufacturers))]
    public void EncodableMeasures_EveryManufacturer_HasAtLeastOne(string manufacturer)
    {
        var encoder = Encoders.Get(manufacturer);

        Assert.True(encoder.EncodableMeasures.Count > 0, $"{manufacturer} encodes nothing: " +
            string.Join("; ", MeasureCatalog.All.Where(d => !d.IsPanel).Select(d => encoder.WhyNot(d.Key)).Where(w => w is not null && !w.StartsWith("no value", StringComparison.Ordinal))));
        Assert.All(encoder.EncodableMeasures, measure => Assert.True(encoder.CanEncode(measure)));
        TestContext.Current.TestOutputHelper?.WriteLine($"{manufacturer}: {string.Join(", ", encoder.Measures.Select(m => $"{m.Measure} [{string.Join("|", m.Units)}]{(m.Required ? " (required)" : string.Empty)}"))}; time {encoder.Time.Format} to {encoder.Time.Precision}");
    }

    [Theory]
    [MemberData(nameof(EncodableMeasures))]
    public void Encode_RandomReadingsOfOneMeasure_DecodeToTheSameValuesAndTimes(string manufacturer, string measure)
    {
        var encoder = Encoders.Get(manufacturer);
        var random = new Random(StableSeed(manufacturer + "/" + measure));
        for (var i = 0; i < Iterations; i++)
        {
            var reading = RandomReading(encoder, [measure], RandomTime(random), random);
            RoundTrip(encoder, [reading], RandomOptions(random));
        }
    }

    [Theory]
    [MemberData(nameof(Manufacturers))]
    public void EncodeMessages_RandomBatchesOfSeveralMeasures_DecodeToTheSameReadings(string manufacturer)
    {
        var encoder = Encoders.Get(manufacturer);
        var random = new Random(StableSeed(manufacturer + "/batch"));
        for (var i = 0; i < Iterations; i++)
        {
            var start = RandomTime(random);
            var readings = Enumerable.Range(0, random.Next(1, 6))
                .Select(n => RandomReading(encoder, [.. encoder.EncodableMeasures.Where(_ => random.Next(3) == 0)], start.AddMinutes(n * random.Next(1, 90)), random))
                .ToList();
            RoundTrip(encoder, readings, RandomOptions(random));
        }
    }

    [Theory]
    [MemberData(nameof(LocalTimeManufacturers))]
    public void Encode_TimesAcrossDaylightSavingChanges_DecodeToTheSameInstantOrAreRefused(string manufacturer)
    {
        var encoder = Encoders.Get(manufacturer);
        var random = new Random(StableSeed(manufacturer + "/dst"));
        var zones = encoder.Time.Zone is { } fixedZone ? [fixedZone] : DeviceZones.Select(TimeZoneInfo.FindSystemTimeZoneById).ToArray();
        var (accepted, refused) = (0, 0);
        foreach (var zone in zones)
        {
            foreach (var change in ClockChanges(zone, 2026))
            {
                for (var minutes = -150; minutes <= 150; minutes += random.Next(3, 12))
                {
                    var time = change.AddMinutes(minutes).AddSeconds(random.Next(60)).ToOffset(TimeSpan.Zero);
                    var reading = RandomReading(encoder, [encoder.EncodableMeasures[random.Next(encoder.EncodableMeasures.Count)]], time, random);
                    _ = RoundTrip(encoder, [reading], new EncodeOptions { Zone = zone, Random = new Random(random.Next()) }) ? accepted++ : refused++;
                }
            }
        }

        // Whole days have no repeated hour; times of day do, so some readings must have been refused with the reason.
        Assert.True(accepted > 50, $"only {accepted} readings around the clock changes");
        Assert.True(encoder.Time.Precision >= TimeSpan.FromDays(1) || refused > 0, "no time fell in a repeated hour");
    }

    [Theory]
    [MemberData(nameof(Manufacturers))]
    public void Encode_MeasureTheProfileCannotCarry_FailsWithTheManufacturerAndMeasure(string manufacturer)
    {
        var encoder = Encoders.Get(manufacturer);
        var measure = MeasureCatalog.All.First(d => !d.IsPanel && !encoder.CanEncode(d.Key)).Key;

        Assert.False(Encoders.CanEncode(manufacturer, measure));
        Assert.NotNull(encoder.WhyNot(measure));
        var exception = Assert.Throws<ProfileEncodingException>(() => Encoders.Encode(manufacturer, ReadingToEncode.Of(measure, 1, DateTimeOffset.UnixEpoch)));
        Assert.Contains($"{manufacturer} cannot encode {measure}", exception.Message, StringComparison.Ordinal);
        Assert.Contains("it encodes " + encoder.EncodableMeasures[0], exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_OmronBloodPressure_IsTheManufacturersJsonBatch()
    {
        var time = new DateTimeOffset(2026, 1, 15, 8, 5, 0, TimeSpan.FromHours(1));
        var reading = new ReadingToEncode(time, Values(("systolic-pressure", 138), ("diastolic-pressure", 86), ("heart-rate", 74)),
            new Dictionary<string, string> { ["device-status"] = "irregular-pulse", ["user-id"] = "1" });

        var payload = Encoders.Encode("omron", reading);

        Assert.Equal("""{"readings":[{"measuredAt":"2026-01-15T08:05:00+01:00","sys":138,"dia":86,"pulse":74,"indicator":"IHB","user":"1"}]}""", Encoding.UTF8.GetString(payload));
    }

    [Fact]
    public void Encode_WithingsWeightAndFat_IsMeasureGroupWithExponents()
    {
        var reading = new ReadingToEncode(DateTimeOffset.FromUnixTimeSeconds(1768460311), Values(("body-weight", 72.5), ("body-fat-percentage", 23.15)));

        var payload = Encoders.Encode("withings", reading);

        Assert.Equal("""{"measuregrps":[{"date":1768460311,"measures":[{"type":1,"value":725,"unit":-1},{"type":6,"value":2315,"unit":-2}]}]}""", Encoding.UTF8.GetString(payload));
    }

    [Fact]
    public void Encode_GlucoseInAccuChekExport_IsCsvWithHeaderLocalDateAndTime()
    {
        var reading = new ReadingToEncode(new DateTimeOffset(2026, 1, 15, 6, 2, 0, TimeSpan.Zero), Values(("glucose", 6.2)),
            new Dictionary<string, string> { ["specimen"] = "capillary-whole-blood" });

        var payload = Encoders.Encode("rochediabetes", reading);

        Assert.Equal("Date,Time,Glucose,Unit,Sample\n15/01/2026,07:02,111.7,mg/dl,blood\n", Encoding.UTF8.GetString(payload));
    }

    [Fact]
    public void Encode_SecondPassOfTheRepeatedHour_IsRefusedWithTheReason()
    {
        // 01:30 UTC on 25 October 2026 is 02:30 CET, after 02:30 CEST: a local time without offset names the first.
        var reading = new ReadingToEncode(new DateTimeOffset(2026, 10, 25, 1, 30, 0, TimeSpan.Zero), Values(("systolic-pressure", 130), ("diastolic-pressure", 80)));

        var exception = Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("and", reading));

        Assert.Contains("and: 2026-10-25T01:30:00.0000000+00:00 is 2026-10-25 02:30:00 in Europe/Paris, the second pass of the hour repeated", exception.Message, StringComparison.Ordinal);
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero), Encoders.Get("and").ReadBackTime(reading.Time.AddHours(-1)));
    }

    [Fact]
    public void Encode_ValueWithoutTheRequiredCompanion_SaysWhatEveryReadingNeeds()
    {
        var exception = Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("omron", ReadingToEncode.Of("heart-rate", 70, DateTimeOffset.UnixEpoch)));

        Assert.Contains("omron: cannot write heart-rate: every record needs systolic-pressure", exception.Message, StringComparison.Ordinal);
        Assert.Contains("every reading must carry systolic-pressure, diastolic-pressure", exception.Message, StringComparison.Ordinal);
        Assert.Equal(["systolic-pressure", "diastolic-pressure"], Encoders.Get("omron").RequiredMeasures);
    }

    [Fact]
    public void Encode_QualifierTheProfileCannotWrite_FailsWithWhatItCarries()
    {
        var time = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);

        var unknownKey = Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("withings", ReadingToEncode.Of("body-weight", 70, time) with { Qualifiers = new Dictionary<string, string> { ["user-id"] = "2" } }));
        var unmapped = Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("nonin", new ReadingToEncode(time, Values(("oxygen-saturation", 95)), new Dictionary<string, string> { ["body-site"] = "forehead" })));
        var fixedValue = Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("and", new ReadingToEncode(time, Values(("systolic-pressure", 130), ("diastolic-pressure", 80)), new Dictionary<string, string> { ["body-site"] = "wrist" })));

        Assert.Equal("withings: the profile cannot carry the qualifier user-id (it has no qualifiers)", unknownKey.Message);
        Assert.Equal("nonin: body-site 'forehead' cannot be written: ^.sensorSite maps only to 'finger', 'ear', 'toe'", unmapped.Message);
        Assert.Equal("and: the profile sets body-site to 'upper-arm' for every reading, not 'wrist'", fixedValue.Message);
    }

    [Fact]
    public void Encode_PanelKeyOrUnknownManufacturer_FailsClearly()
    {
        var time = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);

        Assert.True(Encoders.CanEncode("omron", "blood-pressure"));
        Assert.False(Encoders.CanEncode("nonin", "blood-pressure"));
        Assert.False(Encoders.CanEncode("no-such-maker", "heart-rate"));
        Assert.Contains("blood-pressure is a panel: give its components", Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("omron", ReadingToEncode.Of("blood-pressure", 120, time))).Message, StringComparison.Ordinal);
        Assert.Contains("a blood-pressure reading needs diastolic-pressure too", Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("omron", ReadingToEncode.Of("systolic-pressure", 120, time))).Message, StringComparison.Ordinal);
        Assert.Contains("'no-such-maker' is not a manufacturer", Assert.Throws<ProfileEncodingException>(() => Encoders.Encode("no-such-maker", ReadingToEncode.Of("heart-rate", 70, time))).Message, StringComparison.Ordinal);
        Assert.Contains("omron", Encoders.ManufacturersEncoding("blood-pressure"));
    }

    [Fact]
    public void Encode_SameRandomSeed_GivesTheSameBytes()
    {
        var readings = new[] { new ReadingToEncode(new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero), Values(("body-weight", 81.3), ("muscle-mass", 55.2), ("bone-mass", 3.1))) };

        var first = Encoders.Get("ihealth").Encode(readings, new EncodeOptions { Random = new Random(7) });
        var second = Encoders.Get("ihealth").Encode(readings, new EncodeOptions { Random = new Random(7) });

        Assert.Equal(first, second);
    }

    [Fact]
    public void Encode_SingleRecordProfileWithSeveralReadings_NeedsSeveralMessages()
    {
        var encoder = Encoders.Get("airthings");
        var time = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        ReadingToEncode[] readings = [ReadingToEncode.Of("indoor-co2", 800, time), ReadingToEncode.Of("indoor-co2", 850, time.AddMinutes(5))];

        Assert.False(encoder.Batches);
        Assert.Equal(2, encoder.EncodeMessages(readings).Count);
        Assert.Contains("need 2 payloads (the profile holds one record per payload)", Assert.Throws<ProfileEncodingException>(() => encoder.Encode(readings)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""
        {"manufacturer":"acme","format":"json","records":"$.series[*].values[*]","time":{"field":"^.start","format":"epoch-s"},
         "qualifiers":{"user-id":{"field":"$.user"}},"values":[{"field":"@","measure":"heart-rate","unit":"/min"}]}
        """)]
    [InlineData("""
        {"manufacturer":"acme","format":"json","time":{"optional":true},
         "values":[{"field":"t","measure":"body-temperature","unit":"[degF]","scale":0.1},{"field":"w","measure":"body-weight","unit":"g","offset":-100,"optional":true}]}
        """)]
    [InlineData("""
        {"manufacturer":"acme","format":"json","records":"$[*]","units":{"dg":{"unit":"g","factor":10}},"time":{"field":"at","format":"local","zone":"America/New_York"},
         "values":[{"items":"m[*]","measureField":"k","field":"v","exponentField":"e","unitField":"u","measureMap":{"w":"body-weight","h":{"measure":"body-height","unit":"[in_i]"},"x":{"ignore":true}}},
                   {"field":"g","measure":"glucose","unit":"mg/dL","valueMap":{"HI":33.3,"LO":1.1},"optional":true}]}
        """)]
    [InlineData("""
        {"manufacturer":"acme","format":"csv","csv":{"delimiter":";","header":true,"decimalSeparator":",","skipLines":2,"comment":"#","columns":7},
         "units":{"F":"[degF]"},"skip":[{"field":"kind","in":["note"]}],
         "time":{"field":2,"timeOfDayField":"Heure","format":"local","pattern":"d MMM yyyy HH.mm","zoneField":"Fuseau"},
         "values":[{"field":"Valeur","measureField":"kind","unitField":"U","exponentField":"Exp","measureMap":{"temp":"body-temperature","note":{"ignore":true}}}]}
        """)]
    [InlineData("""
        {"manufacturer":"acme","format":"json","records":"$.data","time":{"field":"ts","format":"epoch-ms"},
         "values":[{"field":"spo2","measure":"oxygen-saturation","unit":"%","noDataValues":[127]},{"field":"pr","measure":"heart-rate","unit":"/min","noDataValues":[255]},
                   {"field":"kind","measureField":"kind","measureMap":{"none":{"ignore":true},"a":"hf-orthopnea"},"valueMap":{"oui":1,"non":0}}]}
        """)]
    [InlineData("""
        {"manufacturer":"acme","format":"json","records":"$.days[*].summary","time":{"field":"^.date","format":"local","pattern":"yyyy-MM-dd","zone":"Europe/Paris"},
         "values":[{"field":"['steps.count']","measure":"steps","unit":"/d"},{"field":"$.meta.o2","measure":"oxygen-flow-rate","unit":"L/min","optional":true}]}
        """)]
    [InlineData("""
        {"manufacturer":"acme","format":"json","records":"$['sensor data'][1].values[*]","time":{"field":"at[0]","format":"iso-8601"},
         "qualifiers":{"body-site":{"field":"$.site","map":{"L":"wrist","C":"chest"}},"method":{"value":"ppg"}},
         "values":[{"field":"v.hr","measure":"heart-rate","unit":"{beats}/min","optional":true},{"field":"v.rr","measure":"respiratory-rate","unit":"/h","optional":true}]}
        """)]
    public void Encode_LanguageConstructsNotInIngest_RoundTrip(string profileJson)
    {
        var encoder = ProfileEncoder.Compile("acme", Encoding.UTF8.GetBytes(profileJson));
        var decoder = ProfileRegistry.Compile("acme", Encoding.UTF8.GetBytes(profileJson));
        var random = new Random(StableSeed(profileJson));
        Assert.NotEmpty(encoder.EncodableMeasures);
        for (var i = 0; i < Iterations; i++)
        {
            var measures = encoder.EncodableMeasures.Where(_ => random.Next(2) == 0).ToList();
            var readings = Enumerable.Range(0, random.Next(1, 4)).Select(n => RandomReading(encoder, measures, RandomTime(random).AddHours(n), random)).ToList();
            RoundTrip(encoder, readings, RandomOptions(random), decoder);
        }
    }

    [Fact]
    public void Encode_ProfileWithoutTime_TakesTheReceiveTime()
    {
        var encoder = ProfileEncoder.Compile("acme", """{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}"""u8);

        Assert.Equal(new TimeEncoding("none", TimeSpan.Zero, null, false), encoder.Time);
        Assert.Null(encoder.ReadBackTime(DateTimeOffset.UnixEpoch));
        Assert.Equal("""{"w":70.2}""", Encoding.UTF8.GetString(encoder.Encode(ReadingToEncode.Of("body-weight", 70.2, DateTimeOffset.UnixEpoch))));
    }

    [Fact]
    public void Encode_NoDataCode_IsRefused()
    {
        var encoder = ProfileEncoder.Compile("acme", """{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"pr","measure":"heart-rate","unit":"/min","noDataValues":[255]}]}"""u8);

        var exception = Assert.Throws<ProfileEncodingException>(() => encoder.Encode(ReadingToEncode.Of("heart-rate", 255, DateTimeOffset.UnixEpoch)));

        Assert.Equal("acme: heart-rate 255 would be written 255, the device's no-data code", exception.Message);
    }

    /// <summary>
    /// Encodes, decodes with the real decoder, normalises, and compares with the readings. Returns false when the
    /// encoder refused a time the format cannot represent (the second pass of a repeated hour, a time that does not
    /// exist), which the test's own reading of the README must predict.
    /// </summary>
    private static bool RoundTrip(ProfileEncoder encoder, IReadOnlyList<ReadingToEncode> readings, EncodeOptions options, IPayloadDecoder? decoder = null)
    {
        var receivedAt = readings.Max(r => r.Time).AddMinutes(1);
        var expectedTimes = readings.Select(r => ExpectedTime(encoder, r.Time, options, receivedAt)).ToList();
        if (expectedTimes.Any(t => t is null))
        {
            var refused = Assert.Throws<ProfileEncodingException>(() => encoder.EncodeMessages(readings, options));
            Assert.Matches("second pass of the hour repeated|does not exist", refused.Message);
            return false;
        }

        if (decoder is null)
        {
            Assert.True(IngestExamples.Registry.TryGet(encoder.Manufacturer, out decoder));
        }

        var payloads = encoder.EncodeMessages(readings, options);
        var actual = new List<(string Measure, decimal Value, DateTimeOffset Time)>();
        var decoded = new List<DecodedReading>();
        foreach (var payload in payloads)
        {
            var text = Encoding.UTF8.GetString(payload);
            var outcome = decoder.Decode(payload, new DecodeContext(DeviceId, receivedAt));
            Assert.True(outcome.Succeeded, $"{outcome.Error}\n{text}");
            decoded.AddRange(outcome.Readings);
            var normalized = new ObservationFactory().CreateAll(outcome.Readings, new ObservationContext(DeviceId, "sim-patient", receivedAt, encoder.Manufacturer));
            Assert.True(normalized.Rejections.Count == 0, string.Join("\n", normalized.Rejections) + "\n" + text);
            actual.AddRange(normalized.Observations.SelectMany(Flatten));
        }

        var expected = readings.SelectMany((r, i) => r.Values.Select(v => (Measure: v.Key, v.Value, Time: expectedTimes[i]!.Value))).ToList();
        var context = $"{encoder.Manufacturer}, payloads:\n{string.Join("\n", payloads.Select(p => Encoding.UTF8.GetString(p)))}";
        Assert.True(expected.Count == actual.Count, $"expected {expected.Count} values, got {actual.Count}: {context}");
        foreach (var (measure, value, time) in expected)
        {
            // The value at the precision of the input, or at the Observation's own when the profile's unit makes the
            // normaliser round coarser (a whole number of inches is a whole number of centimetres: 70 in → 178 cm).
            var match = actual.FindIndex(a => a.Measure == measure && a.Time == time
                && Math.Abs((double)a.Value - value) <= (0.5 * Math.Pow(10, -Math.Min(QuantityPrecision.DecimalsOf(value), a.Value.Scale))) + 1e-9);
            Assert.True(match >= 0, FormattableString.Invariant(
                $"{measure} {value} at {time:O} not found among {string.Join("; ", actual.Select(a => $"{a.Measure} {a.Value} at {a.Time:O}"))}: {context}"));
            actual.RemoveAt(match);
        }

        foreach (var reading in readings.Where(r => r.Qualifiers is not null))
        {
            var ofReading = decoded.Where(d => d.Values.Any(v => reading.Values.ContainsKey(v.Measure))).ToList();
            Assert.All(reading.Qualifiers!, q => Assert.Contains(ofReading, d => d.Qualifiers?.GetValueOrDefault(q.Key) == q.Value));
        }

        return true;
    }

    /// <summary>
    /// The time the Observation must carry, from ingest/README.md: epoch and ISO-8601 times to the millisecond; a local
    /// time to the pattern's precision in the device's zone, where a time in the spring-forward gap does not exist and
    /// the repeated autumn hour is read as its first pass (null: the format cannot say this time).
    /// </summary>
    private static DateTimeOffset? ExpectedTime(ProfileEncoder encoder, DateTimeOffset time, EncodeOptions options, DateTimeOffset receivedAt)
    {
        switch (encoder.Time.Format)
        {
            case "none":
                return receivedAt;
            case "local":
                var zone = encoder.Time.Zone ?? options.Zone ?? Paris;
                var local = TimeZoneInfo.ConvertTime(time, zone).DateTime;
                var truncated = new DateTime(local.Ticks - (local.Ticks % encoder.Time.Precision.Ticks), DateTimeKind.Unspecified);
                if (zone.IsInvalidTime(truncated))
                {
                    return null;
                }

                if (zone.IsAmbiguousTime(truncated))
                {
                    var first = zone.GetAmbiguousTimeOffsets(truncated).Max();
                    return zone.GetUtcOffset(time) == first ? new DateTimeOffset(truncated, first) : null;
                }

                return new DateTimeOffset(truncated, zone.GetUtcOffset(truncated));
            default:
                Assert.Equal(TimeSpan.FromMilliseconds(1), encoder.Time.Precision);
                return DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
        }
    }

    /// <summary>The (measure, value, time) of an Observation, or of each component of a panel.</summary>
    private static IEnumerable<(string Measure, decimal Value, DateTimeOffset Time)> Flatten(Observation observation)
    {
        var time = DateTimeOffset.Parse(((FhirDateTime)observation.Effective!).Value!, CultureInfo.InvariantCulture);
        if (observation.Component.Count > 0)
        {
            return observation.Component.Select(c => (MeasureOf(c.Code), ValueOf(c.Value), time));
        }

        return [(MeasureOf(observation.Code), ValueOf(observation.Value), time)];
    }

    private static string MeasureOf(CodeableConcept code)
    {
        var primary = code.Coding[0].Code;
        return MeasureCatalog.All.First(d => d.Code.Code == primary || d.SpecimenVariants.Any(v => v.Code?.Code == primary)).Key;
    }

    private static decimal ValueOf(DataType? value) => value switch
    {
        Quantity quantity => quantity.Value!.Value,
        FhirBoolean boolean => boolean.Value == true ? 1 : 0,
        Integer integer => integer.Value!.Value,
        _ => throw new InvalidOperationException($"unexpected value {value?.TypeName}"),
    };

    /// <summary>
    /// A reading of <paramref name="wanted"/> plus what it needs beside it: the other required components of its panel
    /// and the measures the profile requires in every reading; sometimes a qualifier the profile can write.
    /// </summary>
    private static ReadingToEncode RandomReading(ProfileEncoder encoder, List<string> wanted, DateTimeOffset time, Random random)
    {
        var measures = new HashSet<string>(wanted.Count > 0 ? wanted : [encoder.EncodableMeasures[random.Next(encoder.EncodableMeasures.Count)]], StringComparer.Ordinal);
        measures.UnionWith(encoder.RequiredMeasures);
        if (measures.Any(m => m.EndsWith("-pressure", StringComparison.Ordinal) && m != "cuff-pressure"))
        {
            measures.UnionWith(["systolic-pressure", "diastolic-pressure"]);
        }

        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var measure in measures)
        {
            values[measure] = RandomValue(measure, random);
        }

        if (values.TryGetValue("diastolic-pressure", out var diastolic))
        {
            values["systolic-pressure"] = diastolic + random.Next(25, 71);
            if (values.ContainsKey("mean-arterial-pressure"))
            {
                values["mean-arterial-pressure"] = Math.Round(diastolic + ((values["systolic-pressure"] - diastolic) / 3));
            }
        }

        Dictionary<string, string>? qualifiers = null;
        var carried = encoder.Qualifiers.Where(q => q.Value is null || q.Value.Any(v => !v.Contains("control", StringComparison.Ordinal))).ToList();
        if (carried.Count > 0 && random.Next(2) == 0)
        {
            var (key, allowed) = carried[random.Next(carried.Count)];
            var choices = allowed?.Where(v => !v.Contains("control", StringComparison.Ordinal)).ToList();
            qualifiers = new Dictionary<string, string> { [key] = choices is null ? random.Next(1, 100).ToString(CultureInfo.InvariantCulture) : choices[random.Next(choices.Count)] };
        }

        return new ReadingToEncode(time, values, qualifiers);
    }

    private static double RandomValue(string measure, Random random)
    {
        var definition = MeasureCatalog.Get(measure);
        var (min, max, decimals) = Realistic.TryGetValue(measure, out var realistic)
            ? realistic
            : definition.Range is { } range ? (range.Min + ((range.Max - range.Min) * 0.25), range.Min + ((range.Max - range.Min) * 0.75), 1) : (1, 10, 1);
        Assert.True(definition.Range is null || (definition.Range.Contains(min) && definition.Range.Contains(max)), $"the realistic range of {measure} is not plausible");
        return Math.Round(min + (random.NextDouble() * (max - min)), decimals, MidpointRounding.AwayFromZero);
    }

    /// <summary>A time in 2026 with a random offset: whole minutes, whole seconds or milliseconds.</summary>
    private static DateTimeOffset RandomTime(Random random)
    {
        var utc = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(random.Next(365 * 24 * 60));
        utc = random.Next(3) switch
        {
            0 => utc,
            1 => utc.AddSeconds(random.Next(60)),
            _ => utc.AddMilliseconds(random.Next(60_000)),
        };
        return utc.ToOffset(TimeSpan.FromMinutes(random.Next(-9, 11) * 60 + (random.Next(4) == 0 ? 30 : 0)));
    }

    private static EncodeOptions RandomOptions(Random random) => new()
    {
        Zone = random.Next(3) == 0 ? null : TimeZoneInfo.FindSystemTimeZoneById(DeviceZones[random.Next(DeviceZones.Length)]),
        Random = random.Next(4) == 0 ? null : new Random(random.Next()),
    };

    /// <summary>The instants of the year when the zone's offset changes.</summary>
    private static IEnumerable<DateTimeOffset> ClockChanges(TimeZoneInfo zone, int year)
    {
        var previous = zone.GetUtcOffset(new DateTimeOffset(year, 1, 1, 0, 0, 0, TimeSpan.Zero));
        for (var time = new DateTimeOffset(year, 1, 1, 0, 15, 0, TimeSpan.Zero); time.Year == year; time = time.AddMinutes(15))
        {
            var offset = zone.GetUtcOffset(time);
            if (offset != previous)
            {
                yield return time;
                previous = offset;
            }
        }
    }

    private static Dictionary<string, double> Values(params (string Measure, double Value)[] values) =>
        values.ToDictionary(v => v.Measure, v => v.Value, StringComparer.Ordinal);

    /// <summary>A seed that does not change between runs (string.GetHashCode does).</summary>
    private static int StableSeed(string text)
    {
        var hash = 17;
        foreach (var c in text)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }
}
