using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Tests.Storage.Influx;

public sealed class LineProtocolWriterTests
{
    [Fact]
    public void End_WithTagsAndEachFieldType_WritesOneLine()
    {
        using var writer = new LineProtocolWriter(TimePrecision.Milliseconds);

        writer.Measurement("vitals").Tag("code", "8867-4").Tag("patient", "Patient/1")
            .Field("value", 72.5).Field("count", 3L).Field("ok", true).Field("unit", "/min")
            .End(1_768_464_000_123);

        Assert.Equal("vitals,code=8867-4,patient=Patient/1 value=72.5,count=3i,ok=true,unit=\"/min\" 1768464000123\n", writer.ToString());
        Assert.Equal(1, writer.PointCount);
        Assert.Equal(writer.ToString().Length, writer.Length);
    }

    [Fact]
    public void End_SeveralPoints_WritesOneLineEach()
    {
        using var writer = new LineProtocolWriter(TimePrecision.Seconds);

        writer.Measurement("m").Field("x", 1.0).End(1);
        writer.Measurement("m").Field("x", false).End();

        Assert.Equal("m x=1 1\nm x=false\n", writer.ToString());
        Assert.Equal(2, writer.PointCount);
    }

    [Theory]
    [InlineData("with space", @"with\ space")]
    [InlineData("comma,inside", @"comma\,inside")]
    [InlineData("equals=stays", "equals=stays")]
    [InlineData("quote\"stays", "quote\"stays")]
    [InlineData(@"back\slash", @"back\slash")]
    [InlineData("ünï€𝄞", "ünï€𝄞")]
    public void Measurement_WithSpecialCharacters_EscapesCommasAndSpacesOnly(string name, string expected)
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement(name).Field("x", 1L).End(5);

        Assert.Equal($"{expected} x=1i 5\n", writer.ToString());
    }

    [Theory]
    [InlineData("a b", @"a\ b")]
    [InlineData("a,b", @"a\,b")]
    [InlineData("a=b", @"a\=b")]
    [InlineData(" ,=", @"\ \,\=")]
    [InlineData("quote\"", "quote\"")]
    [InlineData(@"back\slash", @"back\slash")]
    [InlineData(@"two\\backslashes", @"two\\backslashes")]
    [InlineData("tab\tinside", "tab\tinside")]
    [InlineData("ünï€𝄞", "ünï€𝄞")]
    public void Tag_WithSpecialCharacters_EscapesCommasEqualsAndSpacesInKeyAndValue(string text, string expected)
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement("m").Tag(text, text).Field(text, 1L).End(5);

        Assert.Equal($"m,{expected}={expected} {expected}=1i 5\n", writer.ToString());
    }

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData(@"C:\path\", "\"C:\\\\path\\\\\"")]
    [InlineData("a, b=c", "\"a, b=c\"")]
    [InlineData("line1\nline2", "\"line1\nline2\"")]
    [InlineData("", "\"\"")]
    public void Field_String_EscapesDoubleQuotesAndBackslashesOnly(string value, string expected)
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement("m").Field("s", value).End(1);

        Assert.Equal($"m s={expected} 1\n", writer.ToString());
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(72.0, "72")]
    [InlineData(-0.0, "-0")]
    [InlineData(1e-7, "1E-07")]
    [InlineData(1.5e300, "1.5E+300")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    public void Field_Double_WritesShortestRoundTripText(double value, string expected)
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement("m").Field("x", value).End(1);

        Assert.Equal($"m x={expected} 1\n", writer.ToString());
    }

    [Fact]
    public void Field_Integer_WritesSuffixI()
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement("m").Field("min", long.MinValue).Field("max", long.MaxValue).End(1);

        Assert.Equal("m min=-9223372036854775808i,max=9223372036854775807i 1\n", writer.ToString());
    }

    [Theory]
    [InlineData(TimePrecision.Nanoseconds, "1768464000123456700")]
    [InlineData(TimePrecision.Milliseconds, "1768464000123")]
    [InlineData(TimePrecision.Seconds, "1768464000")]
    public void End_DateTimeOffset_WritesTimeInThePrecision(TimePrecision precision, string expected)
    {
        using var writer = new LineProtocolWriter(precision);
        var time = new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.FromHours(1)).AddTicks(1_234_567);

        writer.Measurement("m").Field("x", 1L).End(time);

        Assert.Equal($"m x=1i {expected}\n", writer.ToString());
    }

    [Fact]
    public void End_DateTimeOffsetBefore1970_RoundsDown()
    {
        using var writer = new LineProtocolWriter(TimePrecision.Milliseconds);

        writer.Measurement("m").Field("x", 1L).End(DateTimeOffset.UnixEpoch.AddTicks(-1));

        Assert.Equal("m x=1i -1\n", writer.ToString());
    }

    [Fact]
    public void End_NanosecondTimeBeyond2262_ThrowsAndDropsThePoint()
    {
        using var writer = new LineProtocolWriter(TimePrecision.Nanoseconds);

        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Measurement("m").Field("x", 1L).End(new DateTimeOffset(2263, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        Assert.Equal(0, writer.Length);
    }

    [Fact]
    public void Tag_NullOrEmptyValue_LeavesTheTagOut()
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement("m").Tag("a", null).Tag("b", string.Empty).Tag("c", "1").Field("x", 1L).End(1);

        Assert.Equal("m,c=1 x=1i 1\n", writer.ToString());
    }

    [Theory]
    [InlineData("b", "a")]
    [InlineData("a", "a")]
    [InlineData("B", "A")]
    [InlineData("a", "B")]
    [InlineData("😀", "\uFFFD")]
    public void Tag_KeyNotAfterThePreviousOne_Throws(string first, string second)
    {
        using var writer = new LineProtocolWriter();

        writer.Measurement("m").Tag(first, "1");

        Assert.Throws<ArgumentException>(() => writer.Tag(second, "2"));
    }

    [Fact]
    public void Tag_KeysInUtf8ByteOrder_AreAccepted()
    {
        using var writer = new LineProtocolWriter();

        // UTF-16 order puts the emoji (a surrogate pair, 0xD83D...) before U+FFFD; UTF-8 byte order, InfluxDB's, after.
        writer.Measurement("m").Tag("A", "1").Tag("a", "2").Tag("\uFFFD", "3").Tag("😀", "4").Field("x", 1L).End(1);

        Assert.Equal("m,A=1,a=2,\uFFFD=3,😀=4 x=1i 1\n", writer.ToString());
    }

    public static TheoryData<string> UncarriableNames => new()
    {
        "line\nbreak",
        "carriage\rreturn",
        "ends with backslash\\",
        "backslash\\,comma",
        "backslash\\=equals",
        "backslash\\ space",
        "backslash\\\"quote",
    };

    [Theory]
    [MemberData(nameof(UncarriableNames))]
    public void Tag_ValueLineProtocolCannotCarry_ThrowsAndDropsThePoint(string value)
    {
        using var writer = new LineProtocolWriter();
        writer.Measurement("m").Field("x", 1L).End(1);

        Assert.Throws<ArgumentException>(() => writer.Measurement("m").Tag("t", value).Field("x", 1L).End(2));

        Assert.Equal("m x=1i 1\n", writer.ToString());
        writer.Measurement("m").Field("x", 3L).End(3);
        Assert.Equal("m x=1i 1\nm x=3i 3\n", writer.ToString());
    }

    [Theory]
    [MemberData(nameof(UncarriableNames))]
    public void Measurement_NameLineProtocolCannotCarry_Throws(string name)
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<ArgumentException>(() => writer.Measurement(name));

        Assert.Equal(string.Empty, writer.ToString());
    }

    [Theory]
    [MemberData(nameof(UncarriableNames))]
    public void Field_KeyLineProtocolCannotCarry_Throws(string key)
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<ArgumentException>(() => writer.Measurement("m").Field(key, 1L));

        Assert.Equal(0, writer.Length);
    }

    [Fact]
    public void Measurement_StartingWithHash_Throws()
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<ArgumentException>(() => writer.Measurement("#comment"));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Field_NonFiniteDouble_Throws(double value)
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<ArgumentException>(() => writer.Measurement("m").Field("x", value));

        Assert.Equal(0, writer.Length);
    }

    [Fact]
    public void Field_KeyTime_Throws()
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<ArgumentException>(() => writer.Measurement("m").Field("time", 1L));
        Assert.Throws<ArgumentException>(() => writer.Measurement("m").Tag("time", "1"));
    }

    [Fact]
    public void Field_LoneSurrogate_Throws()
    {
        using var writer = new LineProtocolWriter();

        Assert.ThrowsAny<ArgumentException>(() => writer.Measurement("m").Field("s", "bad \uD800 text"));

        Assert.Equal(0, writer.Length);
    }

    [Fact]
    public void End_WithoutField_Throws()
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<InvalidOperationException>(() => writer.Measurement("m").Tag("t", "1").End(1));

        Assert.Equal(0, writer.Length);
    }

    [Fact]
    public void Tag_AfterField_Throws()
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<InvalidOperationException>(() => writer.Measurement("m").Field("x", 1L).Tag("t", "1"));
    }

    [Fact]
    public void Measurement_BeforePreviousPointEnded_Throws()
    {
        using var writer = new LineProtocolWriter();

        Assert.Throws<InvalidOperationException>(() => writer.Measurement("m").Field("x", 1L).Measurement("n"));

        Assert.Equal(0, writer.PointCount);
    }

    [Fact]
    public void Chunks_UnderTheLimit_SplitAtPointBoundaries()
    {
        using var writer = new LineProtocolWriter();
        for (var i = 0; i < 10; i++)
        {
            writer.Measurement("m").Field("x", (long)i).End(i); // "m x=Ni N\n": 9 bytes each
        }

        var chunks = writer.Chunks(30).ToList();

        Assert.Equal([(0, 3), (3, 3), (6, 3), (9, 1)], chunks);
        Assert.Equal("m x=3i 3\nm x=4i 4\nm x=5i 5\n", System.Text.Encoding.UTF8.GetString(writer.Slice(3, 3).Span));
    }

    [Fact]
    public void Chunks_PointLongerThanTheLimit_GoesAlone()
    {
        using var writer = new LineProtocolWriter();
        writer.Measurement("m").Field("x", 1L).End(1);
        writer.Measurement("m").Field("s", new string('a', 100)).End(2);
        writer.Measurement("m").Field("x", 3L).End(3);

        Assert.Equal([(0, 1), (1, 1), (2, 1)], writer.Chunks(20).ToList());
    }

    [Fact]
    public void Clear_AfterPoints_StartsAgainEmpty()
    {
        using var writer = new LineProtocolWriter(initialCapacity: 8);
        for (var i = 0; i < 1000; i++)
        {
            writer.Measurement("grow").Tag("t", "value").Field("x", (long)i).End(i);
        }

        writer.Clear();
        writer.Measurement("m").Field("x", 1L).End(1);

        Assert.Equal("m x=1i 1\n", writer.ToString());
        Assert.Equal(1, writer.PointCount);
    }
}
