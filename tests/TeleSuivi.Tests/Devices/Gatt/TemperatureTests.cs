using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class TemperatureTests
{
    // Worked by hand: flags 0x06 = time stamp + temperature type, Celsius; 36.6 = 366 e-1 as FLOAT 0xFF00016E;
    // 2026-01-15 08:30:00; type 9 = tympanum.
    private const string MeasurementWithEveryField = "06 6E 01 00 FF EA 07 01 0F 08 1E 00 09";

    [Theory]
    [InlineData("2a1c", null)]
    [InlineData("2a1e", "measurement-ongoing")]
    public void Decode_CelsiusWithTimeStampAndType_ReturnsBodyTemperatureAtTheBodySite(string uuid, string? deviceStatus)
    {
        var outcome = GattDecoder.Decode(uuid, Bytes(MeasurementWithEveryField), Paris);

        var reading = Single(outcome, "body-temperature");
        Assert.Equal(SampleTimeInParis, reading.Time);
        AssertValue(Assert.Single(reading.Values), "body-temperature", 36.6, "Cel");
        Assert.Equal("tympanum", Qualifier(reading, QualifierKeys.BodySite));
        Assert.Equal(deviceStatus, Qualifier(reading, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Encode_MeasurementWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new TemperatureMeasurement(TemperatureUnit.Celsius, Ieee11073Value.FromDecimal(36.6m, -1))
        {
            TimeStamp = SampleTime,
            Type = TemperatureType.Tympanum,
        };

        Assert.Equal(Bytes(MeasurementWithEveryField), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_Fahrenheit_ReturnsDegreesFahrenheit()
    {
        // flags 0x01; 98.6 = 986 e-1 = 0xFF0003DA.
        var reading = Single(GattDecoder.Decode("2a1c", Bytes("01 DA 03 00 FF")), "body-temperature");

        AssertValue(Assert.Single(reading.Values), "body-temperature", 98.6, "[degF]");
        Assert.Null(reading.Time);
        Assert.Null(reading.Qualifiers);
    }

    [Theory]
    [InlineData(1, "armpit")]
    [InlineData(2, "body")]
    [InlineData(3, "ear")]
    [InlineData(4, "finger")]
    [InlineData(5, "gastrointestinal-tract")]
    [InlineData(6, "mouth")]
    [InlineData(7, "rectum")]
    [InlineData(8, "toe")]
    [InlineData(9, "tympanum")]
    [InlineData(0, null)]
    [InlineData(10, null)]
    [InlineData(255, null)]
    public void Decode_TemperatureType_MapsToTheBodySiteOrNoneWhenReserved(int type, string? site)
    {
        var payload = Bytes("04 6E 01 00 FF 00");
        payload[^1] = (byte)type;

        Assert.Equal(site, Qualifier(Single(GattDecoder.Decode("2a1c", payload), "body-temperature"), QualifierKeys.BodySite));
    }

    [Theory]
    [InlineData("00 FF FF 7F 00", "0x2A1C: temperature is NaN (not a number): no measurement")]
    [InlineData("00 00 00 80 00", "0x2A1C: temperature is NRes (not at this resolution): no measurement")]
    [InlineData("00 FE FF 7F 00", "0x2A1C: temperature is +INFINITY: no measurement")]
    [InlineData("00 02 00 80 00", "0x2A1C: temperature is -INFINITY: no measurement")]
    [InlineData("00 01 00 80 00", "0x2A1C: temperature is a value reserved for future use: no measurement")]
    public void Decode_SpecialTemperature_FailsNamingIt(string payload, string error)
    {
        Assert.Equal(error, GattDecoder.Decode("2a1c", Bytes(payload)).Error);
    }

    [Theory]
    [InlineData("2a1c")]
    [InlineData("2a1e")]
    public void Decode_EveryTruncationOfAFullMeasurement_NamesTheMissingField(string uuid)
    {
        AssertEveryTruncationNamesTheMissingField(uuid, Bytes(MeasurementWithEveryField),
        [
            new(1, "the flags field is mandatory"),
            new(4, "the temperature is mandatory"),
            new(7, "flags announce a time stamp"),
            new(1, "flags announce a temperature type"),
        ]);
    }

    [Fact]
    public void Decode_TrailingBytes_FailUnlessReservedFlagsAreSet()
    {
        Assert.Equal("0x2A1C: 1 unexpected byte after the last field the flags announce, from byte 5",
            GattDecoder.Decode("2a1c", Bytes("00 6E 01 00 FF 09")).Error);
        Assert.True(GattDecoder.Decode("2a1c", Bytes("08 6E 01 00 FF 09")).Succeeded);
    }

    public static TheoryData<int> ThreeFlags => FlagCombinations(3);

    [Theory]
    [MemberData(nameof(ThreeFlags))]
    public void EncodeThenDecode_EveryFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int flags)
    {
        var fahrenheit = Has(flags, 0);
        var measurement = new TemperatureMeasurement(
            fahrenheit ? TemperatureUnit.Fahrenheit : TemperatureUnit.Celsius,
            fahrenheit ? Ieee11073Value.FromDecimal(100.42m, -2) : Ieee11073Value.FromDecimal(38.01m, -2))
        {
            TimeStamp = Has(flags, 1) ? SampleTime : null,
            Type = Has(flags, 2) ? TemperatureType.Armpit : null,
        };

        var payload = GattEncoder.Encode(measurement);

        Assert.Equal(flags, payload[0]);
        Assert.Equal(5 + (Has(flags, 1) ? 7 : 0) + (Has(flags, 2) ? 1 : 0), payload.Length);
        Assert.True(TemperatureFormat.TryParse(GattCharacteristics.TemperatureMeasurement, payload, out var parsed, out var error), error);
        Assert.Equal(measurement, parsed);

        foreach (var uuid in new[] { "2a1c", "2a1e" })
        {
            var reading = Single(GattDecoder.Decode(uuid, payload, Paris), "body-temperature");
            AssertValue(Assert.Single(reading.Values), "body-temperature", fahrenheit ? 100.42 : 38.01, fahrenheit ? "[degF]" : "Cel");
            Assert.Equal(Has(flags, 1) ? SampleTimeInParis : (DateTimeOffset?)null, reading.Time);
            Assert.Equal(Has(flags, 2) ? "armpit" : null, Qualifier(reading, QualifierKeys.BodySite));
            Assert.Equal(uuid == "2a1e" ? "measurement-ongoing" : null, Qualifier(reading, QualifierKeys.DeviceStatus));
        }
    }
}
