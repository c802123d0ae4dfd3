using TeleSuivi.Server.Fhir;

namespace TeleSuivi.Tests.Fhir;

/// <summary>The search value syntax on its own: date windows to the millisecond, tokens, references, _count, page tokens.</summary>
public sealed class FhirSearchValuesTests
{
    public static TheoryData<string[], string, string> Windows => new()
    {
        { ["2026"], "2026-01-01T00:00:00.000", "2026-12-31T23:59:59.999" },
        { ["2024-02"], "2024-02-01T00:00:00.000", "2024-02-29T23:59:59.999" },
        { ["2026-01-15"], "2026-01-15T00:00:00.000", "2026-01-15T23:59:59.999" },
        { ["2026-01-15T08:30"], "2026-01-15T08:30:00.000", "2026-01-15T08:30:59.999" },
        { ["2026-01-15T08:30:05"], "2026-01-15T08:30:05.000", "2026-01-15T08:30:05.999" },
        { ["2026-01-15T08:30:05.1"], "2026-01-15T08:30:05.100", "2026-01-15T08:30:05.199" },
        { ["2026-01-15T08:30:05.123"], "2026-01-15T08:30:05.123", "2026-01-15T08:30:05.123" },
        { ["2026-01-15T08:30:05.1234"], "9999-12-31T23:59:59.999", "0001-01-01T00:00:00.000" }, // finer than a millisecond: no stored time fits
        { ["2026-01-15T09:30:00+01:00"], "2026-01-15T08:30:00.000", "2026-01-15T08:30:00.999" },
        { ["2026-01-15T06:30:00-02:00"], "2026-01-15T08:30:00.000", "2026-01-15T08:30:00.999" },
        { ["ge2026-01-15"], "2026-01-15T00:00:00.000", "9999-12-31T23:59:59.999" },
        { ["lt2026-01-15"], "0001-01-01T00:00:00.000", "2026-01-14T23:59:59.999" },
        { ["gt2026-01-15T08:00:00.000Z"], "2026-01-15T08:00:00.001", "9999-12-31T23:59:59.999" },
        { ["gt2026-01-15", "lt2026-01-18"], "2026-01-16T00:00:00.000", "2026-01-17T23:59:59.999" },
        { ["ge2026-01-15", "le2026-01-15"], "2026-01-15T00:00:00.000", "2026-01-15T23:59:59.999" },
        { ["ge2026-01-15T08:00:00Z", "le2026-01-15T09:00:00Z"], "2026-01-15T08:00:00.000", "2026-01-15T09:00:00.999" },
        { ["9999"], "9999-01-01T00:00:00.000", "9999-12-31T23:59:59.999" },
        { [], "0001-01-01T00:00:00.000", "9999-12-31T23:59:59.999" },
    };

    [Theory]
    [MemberData(nameof(Windows))]
    public void Window_Dates_GiveTheMillisecondsTheyAllow(string[] values, string from, string through)
    {
        var (start, end) = FhirDateSearch.Window(values);

        Assert.Equal((from, through), (Format(start), Format(end)));
    }

    [Theory]
    [InlineData("2026-1")]
    [InlineData("2026-01-15T08")]
    [InlineData("2026-01-15 08:00")]
    [InlineData("2026-00")]
    [InlineData("2026-02-29")]
    [InlineData("2026-01-15T24:00")]
    [InlineData("2026-01-15T08:00+1")]
    [InlineData("xx2026")]
    public void Window_NotADate_IsRefused(string value)
    {
        var error = Assert.Throws<FhirRequestException>(() => FhirDateSearch.Window([value]));

        Assert.Equal(400, error.StatusCode);
    }

    [Theory]
    [InlineData("http://loinc.org|8867-4", "http://loinc.org", "8867-4")]
    [InlineData("8867-4", null, "8867-4")]
    [InlineData("|8867-4", "", "8867-4")]
    [InlineData("http://loinc.org|", "http://loinc.org", null)]
    [InlineData(@"urn:x|a\|b", "urn:x", "a|b")]
    public void Token_Forms_AreRead(string value, string? system, string? code)
    {
        Assert.Equal(new FhirToken(system, code), FhirSearchValues.Token("code", value));
    }

    [Theory]
    [InlineData("a|b|c")]
    [InlineData("|")]
    [InlineData("")]
    public void Token_Malformed_IsRefused(string value)
    {
        Assert.Throws<FhirRequestException>(() => FhirSearchValues.Token("code", value));
    }

    [Fact]
    public void SplitList_EscapedComma_StaysInTheValue()
    {
        Assert.Equal(["a,b", "c", @"d\e"], FhirSearchValues.SplitList(@"a\,b,c,d\\e"));
    }

    [Theory]
    [InlineData(null, 50)]
    [InlineData("1", 1)]
    [InlineData("1000", 1000)]
    [InlineData("1001", 1000)]
    [InlineData("99999999999999999999", 1000)]
    public void Count_Values_AreBounded(string? value, int expected)
    {
        Assert.Equal(expected, FhirSearchValues.Count(value));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("5.5")]
    [InlineData("")]
    public void Count_NotAPositiveWholeNumber_IsRefused(string value)
    {
        Assert.Throws<FhirRequestException>(() => FhirSearchValues.Count(value));
    }

    [Theory]
    [InlineData("Patient/p1", "Patient/p1")]
    [InlineData("p1", "Patient/p1")]
    [InlineData("http://h:1/fhir/Patient/p1", "Patient/p1")]
    [InlineData("Location/75011", "Location/75011")]
    public void Reference_Forms_AreNormalised(string value, string expected)
    {
        Assert.Equal(expected, FhirSearchValues.Reference("subject", value, "Patient", ["Patient", "Location"], "http://h:1/fhir"));
    }

    [Theory]
    [InlineData("Group/g1")]
    [InlineData("Patient/a/b")]
    [InlineData("Patient/a b")]
    [InlineData("http://elsewhere/fhir/Patient/p1")]
    public void Reference_NotAllowed_IsRefused(string value)
    {
        Assert.Throws<FhirRequestException>(() => FhirSearchValues.Reference("subject", value, "Patient", ["Patient", "Location"], "http://h:1/fhir"));
    }

    [Fact]
    public void PageToken_RoundTrip_KeepsItsPositionAndRefusesOtherSearches()
    {
        var print = FhirPageToken.FingerprintOf("subject=Patient/p1", "_sort=date");
        var token = new FhirPageToken(false, 1_768_464_000_123_937_795, "obs-1", print);

        var read = FhirPageToken.Decode(token.Encode(), print);

        Assert.Equal(token, read);
        Assert.Matches("^[A-Za-z0-9_-]+$", token.Encode());
        Assert.Throws<FhirRequestException>(() => FhirPageToken.Decode(token.Encode(), FhirPageToken.FingerprintOf("subject=Patient/p2", "_sort=date")));
        Assert.Throws<FhirRequestException>(() => FhirPageToken.Decode("not-a-token", print));
        Assert.Throws<FhirRequestException>(() => FhirPageToken.Decode(token.Encode()[..^2], print));
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
}
