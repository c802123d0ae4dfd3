using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class WeightTests
{
    // Worked by hand: flags 0x0E = time stamp, user ID, BMI and height, SI; 72.5 kg = 14500 × 0.005 (0x38A4);
    // 2026-01-15 08:30:00; user 2; BMI 23.7 = 237 × 0.1 (0x00ED); height 1.75 m = 1750 × 0.001 (0x06D6).
    private const string SiMeasurementWithEveryField = "0E A4 38 EA 07 01 0F 08 1E 00 02 ED 00 D6 06";

    [Fact]
    public void Decode_SiWithEveryField_ReturnsWeightBmiAndHeightForTheUser()
    {
        var outcome = GattDecoder.Decode("2a9d", Bytes(SiMeasurementWithEveryField), Paris);

        Assert.Equal(3, outcome.Readings.Count);
        var weight = Single(outcome, "body-weight");
        Assert.Equal(SampleTimeInParis, weight.Time);
        Assert.Equal("2", Qualifier(weight, QualifierKeys.UserId));
        AssertValue(Assert.Single(weight.Values), "body-weight", 72.5, "kg");
        AssertValue(Assert.Single(Single(outcome, "bmi").Values), "bmi", 23.7, "kg/m2");
        AssertValue(Assert.Single(Single(outcome, "body-height").Values), "body-height", 1.75, "m");
    }

    [Fact]
    public void Encode_SiWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new WeightMeasurement(WeightUnitSystem.SI, 72.5m) { TimeStamp = SampleTime, UserId = 2, Bmi = 23.7m, Height = 1.75m };

        Assert.Equal(Bytes(SiMeasurementWithEveryField), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_ImperialWithBmiAndHeight_ReturnsPoundsAndInches()
    {
        // flags 0x09; 160.25 lb = 16025 × 0.01 (0x3E99); BMI 23.7; 69.0 in = 690 × 0.1 (0x02B2).
        var outcome = GattDecoder.Decode("2a9d", Bytes("09 99 3E ED 00 B2 02"));

        AssertValue(Assert.Single(Single(outcome, "body-weight").Values), "body-weight", 160.25, "[lb_av]");
        AssertValue(Assert.Single(Single(outcome, "bmi").Values), "bmi", 23.7, "kg/m2");
        AssertValue(Assert.Single(Single(outcome, "body-height").Values), "body-height", 69.0, "[in_i]");
    }

    [Theory]
    [InlineData("00 01 00", 0.005)]
    [InlineData("00 FE FF", 327.67)]
    [InlineData("00 0F 00", 0.075)]
    [InlineData("00 8F 3A", 74.955)]
    public void Decode_SiWeight_IsTheExactMultipleOfFiveGrams(string payload, double kilograms)
    {
        AssertValue(Assert.Single(Single(GattDecoder.Decode("2a9d", Bytes(payload)), "body-weight").Values), "body-weight", kilograms, "kg");
    }

    [Theory]
    [InlineData("00 FF FF")]
    [InlineData("06 FF FF EA 07 01 0F 08 1E 00 01")]
    public void Decode_MeasurementUnsuccessful_Fails(string payload)
    {
        Assert.Equal("0x2A9D: weight is 0xFFFF (measurement unsuccessful): no measurement",
            GattDecoder.Decode("2a9d", Bytes(payload)).Error);
    }

    [Fact]
    public void Encode_NoWeight_SendsMeasurementUnsuccessful()
    {
        Assert.Equal(Bytes("00 FF FF"), GattEncoder.Encode(new WeightMeasurement(WeightUnitSystem.SI, null)));
    }

    [Fact]
    public void Decode_UnknownUser_SetsNoUserQualifier()
    {
        Assert.Null(Single(GattDecoder.Decode("2a9d", Bytes("04 A4 38 FF")), "body-weight").Qualifiers);
    }

    [Fact]
    public void Decode_EveryTruncationOfAFullMeasurement_NamesTheMissingField()
    {
        AssertEveryTruncationNamesTheMissingField("2a9d", Bytes(SiMeasurementWithEveryField),
        [
            new(1, "the flags field is mandatory"),
            new(2, "the weight is mandatory"),
            new(7, "flags announce a time stamp"),
            new(1, "flags announce a user ID"),
            new(2, "flags announce a BMI"),
            new(2, "flags announce a height"),
        ]);
    }

    [Fact]
    public void Decode_TrailingBytes_FailUnlessReservedFlagsAreSet()
    {
        Assert.Equal("0x2A9D: 2 unexpected bytes after the last field the flags announce, from byte 3",
            GattDecoder.Decode("2a9d", Bytes("00 A4 38 ED 00")).Error);
        Assert.True(GattDecoder.Decode("2a9d", Bytes("10 A4 38 ED 00")).Succeeded);
    }

    [Theory]
    [InlineData(327.675)]
    [InlineData(-0.005)]
    public void Encode_SiWeightOutsideTheField_Throws(double kilograms)
    {
        var measurement = new WeightMeasurement(WeightUnitSystem.SI, (decimal)kilograms);

        Assert.Throws<ArgumentOutOfRangeException>(() => GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Encode_BmiWithoutHeight_Throws()
    {
        Assert.Throws<ArgumentException>(() => GattEncoder.Encode(new WeightMeasurement(WeightUnitSystem.SI, 70m) { Bmi = 22m }));
    }

    public static TheoryData<int> FourFlags => FlagCombinations(4);

    [Theory]
    [MemberData(nameof(FourFlags))]
    public void EncodeThenDecode_EveryFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int flags)
    {
        var imperial = Has(flags, 0);
        var measurement = new WeightMeasurement(imperial ? WeightUnitSystem.Imperial : WeightUnitSystem.SI, imperial ? 181.37m : 82.265m)
        {
            TimeStamp = Has(flags, 1) ? SampleTime : null,
            UserId = Has(flags, 2) ? (byte)7 : null,
            Bmi = Has(flags, 3) ? 26.9m : null,
            Height = Has(flags, 3) ? (imperial ? 69.3m : 1.749m) : null,
        };

        var payload = GattEncoder.Encode(measurement);

        Assert.Equal(flags, payload[0]);
        Assert.Equal(3 + (Has(flags, 1) ? 7 : 0) + (Has(flags, 2) ? 1 : 0) + (Has(flags, 3) ? 4 : 0), payload.Length);
        Assert.True(WeightFormat.TryParse(payload, out var parsed, out var error), error);
        Assert.Equal(measurement, parsed);

        var outcome = GattDecoder.Decode("2a9d", payload, Paris);
        var weight = Single(outcome, "body-weight");
        AssertValue(Assert.Single(weight.Values), "body-weight", imperial ? 181.37 : 82.265, imperial ? "[lb_av]" : "kg");
        Assert.Equal(Has(flags, 1) ? SampleTimeInParis : (DateTimeOffset?)null, weight.Time);
        Assert.Equal(Has(flags, 2) ? "7" : null, Qualifier(weight, QualifierKeys.UserId));
        Assert.Equal(Has(flags, 3) ? 3 : 1, outcome.Readings.Count);
        if (Has(flags, 3))
        {
            AssertValue(Assert.Single(Single(outcome, "bmi").Values), "bmi", 26.9, "kg/m2");
            AssertValue(Assert.Single(Single(outcome, "body-height").Values), "body-height", imperial ? 69.3 : 1.749, imperial ? "[in_i]" : "m");
        }
    }
}
