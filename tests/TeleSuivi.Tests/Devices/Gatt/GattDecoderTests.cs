using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class GattDecoderTests
{
    // Flags 0x02 (time stamp), 120 / 80 / 93 mmHg, then the 7 time-stamp bytes under test.
    private const string BloodPressureWithTimeStampPrefix = "02 78 00 50 00 5D 00 ";

    [Theory]
    [InlineData("2a99", "unsupported GATT characteristic 0x2A99")]
    [InlineData("2A38", "unsupported GATT characteristic 0x2A38")]
    [InlineData("blood", "unsupported GATT characteristic 'blood': not a 16-bit UUID such as 2a35")]
    [InlineData("", "unsupported GATT characteristic '': not a 16-bit UUID such as 2a35")]
    [InlineData("2a355", "unsupported GATT characteristic '2a355': not a 16-bit UUID such as 2a35")]
    public void Decode_UnknownCharacteristic_FailsNamingIt(string uuid, string error)
    {
        Assert.Equal(error, GattDecoder.Decode(uuid, Bytes("00 78 00 50 00 5D 00")).Error);
    }

    [Theory]
    [InlineData("2a35")]
    [InlineData("2A35")]
    [InlineData("0x2a35")]
    [InlineData("0X2A35")]
    [InlineData(" 2a35 ")]
    public void Decode_UuidInAnyUsualSpelling_FindsTheCharacteristic(string uuid)
    {
        Assert.True(GattDecoder.Decode(uuid, Bytes("00 78 00 50 00 5D 00")).Succeeded);
    }

    public static TheoryData<int> SupportedCharacteristics()
    {
        var data = new TheoryData<int>();
        foreach (var uuid in GattCharacteristics.Supported)
        {
            data.Add(uuid);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SupportedCharacteristics))]
    public void Decode_EmptyPayload_FailsNamingTheFlagsField(int uuid)
    {
        var outcome = GattDecoder.Decode((ushort)uuid, []);

        Assert.Equal($"0x{uuid:X4}: the flags field is mandatory but the payload ends at byte 0", outcome.Error);
    }

    [Fact]
    public void Decode_NoZoneGiven_ReadsTheTimeStampAsUtc()
    {
        var reading = Single(GattDecoder.Decode("2a35", Bytes(BloodPressureWithTimeStampPrefix + "EA 07 01 0F 08 1E 00")), "blood-pressure");

        Assert.Equal(new DateTimeOffset(2026, 1, 15, 8, 30, 0, TimeSpan.Zero), reading.Time);
    }

    [Theory]
    [InlineData("EA 07 07 0F 08 1E 00", 2026, 7, 15, 8, 30, 2)]
    [InlineData("EA 07 01 0F 08 1E 00", 2026, 1, 15, 8, 30, 1)]
    public void Decode_TimeStampInTheDeviceZone_TakesThatZonesOffsetOnThatDay(string stamp, int year, int month, int day, int hour, int minute, int offsetHours)
    {
        var reading = Single(GattDecoder.Decode("2a35", Bytes(BloodPressureWithTimeStampPrefix + stamp), Paris), "blood-pressure");

        Assert.Equal(new DateTimeOffset(year, month, day, hour, minute, 0, TimeSpan.FromHours(offsetHours)), reading.Time);
        Assert.Equal(TimeSpan.FromHours(offsetHours), reading.Time!.Value.Offset);
    }

    // 2026-10-25 02:30 happens twice in Paris; 2026-03-29 02:30 never happens. Both are read with the standard offset.
    [Theory]
    [InlineData("EA 07 0A 19 02 1E 00", "2026-10-25T01:30:00Z")]
    [InlineData("EA 07 03 1D 02 1E 00", "2026-03-29T01:30:00Z")]
    public void Decode_TimeStampInADaylightSavingTransition_UsesTheStandardOffset(string stamp, string utc)
    {
        var reading = Single(GattDecoder.Decode("2a35", Bytes(BloodPressureWithTimeStampPrefix + stamp), Paris), "blood-pressure");

        Assert.Equal(DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture), reading.Time);
    }

    [Theory]
    [InlineData("00 00 00 00 00 00 00")]
    [InlineData("00 00 01 0F 08 1E 00")]
    [InlineData("EA 07 00 0F 08 1E 00")]
    [InlineData("EA 07 01 00 08 1E 00")]
    public void Decode_TimeStampWithUnknownYearMonthOrDay_HasNoTime(string stamp)
    {
        var reading = Single(GattDecoder.Decode("2a35", Bytes(BloodPressureWithTimeStampPrefix + stamp), Paris), "blood-pressure");

        Assert.Null(reading.Time);
    }

    [Theory]
    [InlineData("EA 07 02 1E 08 1E 00", "2026-02-30 08:30:00")]
    [InlineData("EA 07 0D 01 08 1E 00", "2026-13-01 08:30:00")]
    [InlineData("EA 07 01 0F 18 00 00", "2026-01-15 24:00:00")]
    [InlineData("EA 07 01 0F 08 3C 00", "2026-01-15 08:60:00")]
    [InlineData("EA 07 01 0F 08 1E 3C", "2026-01-15 08:30:60")]
    [InlineData("2D 06 01 0F 08 1E 00", "1581-01-15 08:30:00")]
    [InlineData("10 27 01 0F 08 1E 00", "10000-01-15 08:30:00")]
    public void Decode_TimeStampThatIsNoDate_FailsQuotingIt(string stamp, string quoted)
    {
        var outcome = GattDecoder.Decode("2a35", Bytes(BloodPressureWithTimeStampPrefix + stamp), Paris);

        Assert.Equal($"0x2A35: the time stamp {quoted} is not a valid date and time", outcome.Error);
    }

    [Fact]
    public void Decode_LastSecondOfTheCalendarInAZoneBehindUtc_FailsInsteadOfThrowing()
    {
        var newYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

        var outcome = GattDecoder.Decode("2a35", Bytes(BloodPressureWithTimeStampPrefix + "0F 27 0C 1F 17 3B 3B"), newYork);

        Assert.Equal("0x2A35: the time stamp 9999-12-31 23:59:59 in time zone America/New_York leaves the calendar", outcome.Error);
    }

    [Fact]
    public void Decode_GlucoseOffsetPastTheLastDay_FailsInsteadOfThrowing()
    {
        var outcome = GattDecoder.Decode("2a18", Bytes("03 01 00 0F 27 0C 1F 17 3B 00 FF 7F 5F B0 11"));

        Assert.Equal("0x2A18: the base time 9999-12-31 23:59:00 shifted by 32767 minutes leaves the calendar", outcome.Error);
    }
}
