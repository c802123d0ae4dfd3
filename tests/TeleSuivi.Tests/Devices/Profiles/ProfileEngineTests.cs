using System.Text;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Profiles;

namespace TeleSuivi.Tests.Devices.Profiles;

/// <summary>The profile language, feature by feature, on small inline profiles.</summary>
public sealed class ProfileEngineTests
{
    private static readonly DecodeContext Context = new("dev-1", new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.Zero));

    [Theory]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"w","meassure":"body-weight","unit":"kg"}]}""",
        "profile.json is invalid at $.values[0].meassure")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"blood-sugar","unit":"kg"}]}""",
        "acme: values[0]: 'blood-sugar' is not a measure of the catalogue")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"p","measure":"heart-rate","unit":"kg"}]}""",
        "acme: values[0]: heart-rate: unit 'kg' (mass) cannot be converted to '/min' (count per time)")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"lbs"}]}""",
        "acme: values[0].unit 'lbs' is neither a UCUM unit TeleSuivi converts nor an alias of \"units\"")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight"}]}""",
        "acme: values[0]: 'body-weight' needs a unit (\"unit\" or \"unitField\"); its canonical unit is 'kg'")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"bp","measure":"blood-pressure","unit":"mm[Hg]"}]}""",
        "acme: values[0]: 'blood-pressure' is a panel; map its components")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"field":"t","format":"local","zone":"Europe/Atlantis"},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""",
        "acme: time.zone 'Europe/Atlantis' is not an IANA time zone")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"field":"t","format":"unix"},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""",
        "acme: time.format is 'unix', expected epoch-s, epoch-ms, iso-8601 or local")]
    [InlineData("""{"manufacturer":"other","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""",
        "acme: \"manufacturer\" is 'other' but the folder is 'acme'")]
    [InlineData("""{"manufacturer":"acme","format":"json","records":"$.r[*]","time":{"optional":true},"values":[{"field":"^.w","measure":"body-weight","unit":"kg"}]}""",
        "acme: values[0].field: '^.w' goes up 1 level(s) but only 0 enclosing element(s) exist here")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"a[*].w","measure":"body-weight","unit":"kg"}]}""",
        "acme: values[0].field: 'a[*].w' has [*]")]
    [InlineData("""{"manufacturer":"acme","format":"csv","csv":{"delimiter":";"},"time":{"optional":true},"values":[{"field":1,"measure":"body-weight","unit":"kg"}]}""",
        "acme: a CSV profile without a header line must give csv.columns")]
    [InlineData("""{"manufacturer":"acme","format":"csv","csv":{"delimiter":";","columns":2},"time":{"optional":true},"values":[{"field":"Weight","measure":"body-weight","unit":"kg"}]}""",
        "acme: values[0].field: column 'Weight' is a header name, but csv.header is false")]
    [InlineData("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"v","measureField":"t","measureMap":{"1":{"measure":"body-weight","unit":"kg","ignore":true}}}]}""",
        "acme: values[0].measureMap.1: an ignored entry has no measure or unit")]
    [InlineData("""{"manufacturer":"acme","format":"json","values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""",
        "acme: \"time\" is required")]
    public void Compile_InvalidProfile_FailsWithPreciseReason(string profile, string expected)
    {
        var exception = Assert.Throws<ProfileException>(() => ProfileRegistry.Compile("acme", Encoding.UTF8.GetBytes(profile)));

        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_BadManufacturerName_IsRejected()
    {
        var exception = Assert.Throws<ProfileException>(() => ProfileRegistry.Compile("A&D", "{}"u8));

        Assert.Contains("lowercase letters, digits and '-' only", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingDirectory_Throws()
    {
        Assert.Throws<ProfileException>(() => ProfileRegistry.Load(Path.Combine(Path.GetTempPath(), "no-such-ingest-" + Guid.NewGuid())));
    }

    [Fact]
    public void Load_DirectoryWithInvalidProfiles_ListsEveryReason()
    {
        var directory = Directory.CreateTempSubdirectory("ingest-");
        try
        {
            WriteProfile(directory.FullName, "good", """{"manufacturer":"good","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");
            WriteProfile(directory.FullName, "bad-one", """{"manufacturer":"bad-one","format":"xml"}""");
            WriteProfile(directory.FullName, "bad-two", """{"manufacturer":"bad-two","format":"json","time":{"optional":true},"values":[]}""");
            Directory.CreateDirectory(Path.Combine(directory.FullName, "docs-only"));

            var exception = Assert.Throws<ProfileException>(() => ProfileRegistry.Load(directory.FullName));

            Assert.Contains("2 invalid profile(s)", exception.Message, StringComparison.Ordinal);
            Assert.Contains("bad-one: \"format\" is 'xml'", exception.Message, StringComparison.Ordinal);
            Assert.Contains("bad-two: \"values\" is required", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Load_ValidDirectory_FindsEveryManufacturer()
    {
        var directory = Directory.CreateTempSubdirectory("ingest-");
        try
        {
            WriteProfile(directory.FullName, "scale-b", """{"manufacturer":"scale-b","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");
            WriteProfile(directory.FullName, "scale-a", """{"manufacturer":"scale-a","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");

            var registry = ProfileRegistry.Load(directory.FullName);

            Assert.Equal(["scale-a", "scale-b"], registry.Manufacturers);
            Assert.True(registry.TryGet("scale-a", out var decoder));
            Assert.Equal("scale-a", decoder.Name);
            Assert.False(registry.TryGet("scale-c", out _));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("""{"w": 72.5,}""", "acme: invalid JSON at byte 11: ")]
    [InlineData("{\n  \"w\": 72.5\n  \"x\": 1\n}", "acme: invalid JSON at line 3, byte 2: ")]
    [InlineData("", "acme: the payload is empty")]
    [InlineData("""{"x": 1}""", "acme: w is missing")]
    [InlineData("""{"w": "heavy"}""", "acme: w 'heavy' is not a number")]
    [InlineData("""{"w": 1e999}""", "acme: w '1e999' is not a number")]
    [InlineData("""[1, 2]""", "acme: w is missing")]
    public void Decode_BadPayload_FailsWithLocation(string payload, string expected)
    {
        var decoder = Compile("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");

        var outcome = decoder.Decode(Encoding.UTF8.GetBytes(payload), Context);

        Assert.False(outcome.Succeeded);
        Assert.StartsWith(expected, outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ScaledByATenth_IsExact()
    {
        var decoder = Compile("""{"manufacturer":"acme","format":"json","time":{"optional":true},"values":[{"field":"t","measure":"body-temperature","unit":"Cel","scale":0.1}]}""");

        var reading = Single(decoder.Decode("""{"t": 368}"""u8.ToArray(), Context));

        Assert.Equal(36.8, reading.Values[0].Value);
        Assert.Null(reading.Time);
    }

    [Fact]
    public void Decode_SelectorsFromRootParentsAndQuotedNames_ReadTheRightElements()
    {
        var decoder = Compile("""
            {
              "manufacturer": "acme", "format": "json",
              "records": "$.patients[*].visits[*].vitals[*]",
              "time": { "field": "^.at", "format": "epoch-s" },
              "qualifiers": {
                "user-id": { "field": "^^.id" },
                "battery-percent": { "field": "$.hub['battery.level']" },
                "sequence-number": { "field": "^.seq[1]" }
              },
              "values": [ { "field": "value", "measureField": "kind", "measureMap": { "hr": { "measure": "heart-rate", "unit": "/min" } } } ]
            }
            """);
        var payload = """
            {"hub":{"battery.level":77},"patients":[
              {"id":"p1","visits":[{"at":1768460400,"seq":[5,6],"vitals":[{"kind":"hr","value":61}]}]},
              {"id":"p2","visits":[{"at":1768461000,"seq":[7,8],"vitals":[{"kind":"hr","value":62}]}]}]}
            """u8.ToArray();

        var readings = Succeed(decoder.Decode(payload, Context));

        Assert.Equal(2, readings.Count);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1768461000), readings[1].Time);
        Assert.Equal("p2", readings[1].Qualifiers![QualifierKeys.UserId]);
        Assert.Equal("77", readings[1].Qualifiers![QualifierKeys.BatteryPercent]);
        Assert.Equal("8", readings[1].Qualifiers![QualifierKeys.SequenceNumber]);
        Assert.Equal(62, readings[1].Values[0].Value);
    }

    [Fact]
    public void Decode_ItemsOfPlainNumbers_ReadEachWithTheCurrentSelector()
    {
        var decoder = Compile("""
            {"manufacturer":"acme","format":"json","records":"$.days[*]","time":{"field":"d","format":"iso-8601"},
             "values":[{"items":"weights[*]","field":"@","measure":"body-weight","unit":"kg"}]}
            """);

        var outcome = decoder.Decode("""{"days":[{"d":"2026-01-15T07:00:00Z","weights":[72.4,72.6]}]}"""u8.ToArray(), Context);

        Assert.Equal("acme: days[0] has body-weight twice", outcome.Error);
    }

    [Fact]
    public void Decode_ArrayOrSingleObject_BothAccepted()
    {
        var decoder = Compile("""{"manufacturer":"acme","format":"json","records":"$[*]","time":{"field":"t","format":"epoch-ms"},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");

        Assert.Equal(2, Succeed(decoder.Decode("""[{"t":1768460400000,"w":70},{"t":1768460460000,"w":70.2}]"""u8.ToArray(), Context)).Count);
        Assert.Single(Succeed(decoder.Decode("""{"t":1768460400000,"w":70}"""u8.ToArray(), Context)));
        Assert.Equal("acme: the payload has no reading", decoder.Decode("[]"u8.ToArray(), Context).Error);
    }

    [Fact]
    public void Decode_IsoTimeWithoutOffset_IsRejected()
    {
        var decoder = Compile("""{"manufacturer":"acme","format":"json","time":{"field":"t","format":"iso-8601"},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");

        var outcome = decoder.Decode("""{"t":"2026-01-15T08:00:00","w":70}"""u8.ToArray(), Context);

        Assert.Equal("acme: t '2026-01-15T08:00:00' is not an ISO-8601 time with a UTC offset", outcome.Error);
    }

    [Theory]
    // In the autumn repeated hour the first pass (summer time, +02:00) is taken.
    [InlineData("2026-10-25 02:30", "2026-10-25T00:30:00+00:00")]
    [InlineData("2026-07-01 12:00", "2026-07-01T10:00:00+00:00")]
    [InlineData("2026-01-15 12:00", "2026-01-15T11:00:00+00:00")]
    public void Decode_LocalTimeInZone_GivesTheRightInstant(string local, string expectedUtc)
    {
        var decoder = Compile("""{"manufacturer":"acme","format":"json","time":{"field":"t","format":"local","zoneField":"tz"},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""");

        var reading = Single(decoder.Decode(Encoding.UTF8.GetBytes($$"""{"t":"{{local}}","tz":"Europe/Paris","w":70}"""), Context));

        Assert.Equal(DateTimeOffset.Parse(expectedUtc, System.Globalization.CultureInfo.InvariantCulture), reading.Time);
    }

    [Fact]
    public void Decode_CsvWithTitleCommentsAndQuotes_ReadsTheDataLines()
    {
        var decoder = Compile("""
            {"manufacturer":"acme","format":"csv","csv":{"delimiter":";","header":true,"skipLines":1,"comment":"#","decimalSeparator":","},
             "time":{"field":"When","format":"iso-8601"},
             "qualifiers":{"method":{"field":"Note"}},
             "values":[{"field":"Kg","measure":"body-weight","unit":"kg"}]}
            """);
        var payload = "Export of scale \"S1\"\n# generated\nWhen;Kg;Note\n2026-01-15T07:00:00Z;72,4;\"after breakfast; dressed\"\n\n2026-01-15T07:05:00Z;72,1;\"said \"\"no shoes\"\"\"\n";

        var readings = Succeed(decoder.Decode(Encoding.UTF8.GetBytes(payload), Context));

        Assert.Equal([72.4, 72.1], readings.Select(r => r.Values[0].Value));
        Assert.Equal("after breakfast; dressed", readings[0].Qualifiers!["method"]);
        Assert.Equal("said \"no shoes\"", readings[1].Qualifiers!["method"]);
    }

    [Fact]
    public void Decode_CsvHeaderWithoutAColumn_IsRejected()
    {
        var decoder = Compile("""{"manufacturer":"acme","format":"csv","csv":{"delimiter":",","header":true},"time":{"optional":true},"values":[{"field":"Kg","measure":"body-weight","unit":"kg"}]}""");

        var outcome = decoder.Decode("Date,Pounds\n2026-01-15,160\n"u8.ToArray(), Context);

        Assert.Equal("acme: the CSV header has no column 'Kg' (it has: Date, Pounds)", outcome.Error);
    }

    [Fact]
    public void Decode_SkippedRecordsOnly_IsRejectedUnlessEmptyIsAllowed()
    {
        const string Profile = """{"manufacturer":"acme","format":"json","records":"$[*]",ALLOW"skip":[{"field":"kind","in":["Goal"]}],"time":{"optional":true},"values":[{"field":"w","measure":"body-weight","unit":"kg"}]}""";
        var payload = """[{"kind":"goal","w":65}]"""u8.ToArray();

        var strict = Compile(Profile.Replace("ALLOW", string.Empty, StringComparison.Ordinal));
        var lenient = Compile(Profile.Replace("ALLOW", "\"allowEmpty\":true,", StringComparison.Ordinal));

        Assert.Equal("acme: the payload has no reading (1 record(s) skipped by the profile's skip rules)", strict.Decode(payload, Context).Error);
        Assert.Empty(Succeed(lenient.Decode(payload, Context)));
    }

    [Fact]
    public void Decode_EntryOffsetAndScale_ApplyAfterTheValueScale()
    {
        var decoder = Compile("""
            {"manufacturer":"acme","format":"json","records":"$[*]","time":{"optional":true},
             "values":[{"field":"v","measureField":"k","scale":0.5,"measureMap":{"grade":{"measure":"mrc-breathlessness-grade","offset":1},"w":{"measure":"body-weight","unit":"g","scale":10}}}]}
            """);

        var readings = Succeed(decoder.Decode("""[{"k":"grade","v":4},{"k":"w","v":14500}]"""u8.ToArray(), Context));

        Assert.Equal(3, readings[0].Values[0].Value);
        Assert.Equal("{grade}", readings[0].Values[0].Unit);
        Assert.Equal(72500, readings[1].Values[0].Value);
        Assert.Equal("g", readings[1].Values[0].Unit);
    }

    private static IPayloadDecoder Compile(string profile) => ProfileRegistry.Compile("acme", Encoding.UTF8.GetBytes(profile));

    private static IReadOnlyList<DecodedReading> Succeed(DecodeOutcome outcome)
    {
        Assert.True(outcome.Succeeded, outcome.Error);
        return outcome.Readings;
    }

    private static DecodedReading Single(DecodeOutcome outcome) => Assert.Single(Succeed(outcome));

    private static void WriteProfile(string root, string name, string json)
    {
        Directory.CreateDirectory(Path.Combine(root, name));
        File.WriteAllText(Path.Combine(root, name, ProfileRegistry.ProfileFileName), json);
    }
}
