using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class BloodPressureTests
{
    // Worked by hand: flags 0x1E = time stamp, pulse rate, user ID and measurement status, in mmHg;
    // 120 / 80 / 93 mmHg; 2026-01-15 08:30:00; pulse 72 /min; user 1; status 0x0004 = irregular pulse.
    private const string MeasurementWithEveryField = "1E 78 00 50 00 5D 00 EA 07 01 0F 08 1E 00 48 00 01 04 00";

    [Fact]
    public void Decode_BloodPressureWithTimestampAndPulse_ReturnsPanelAndHeartRate()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes(MeasurementWithEveryField), Paris);

        var panel = Single(outcome, "blood-pressure");
        Assert.Equal(SampleTimeInParis, panel.Time);
        Assert.Collection(panel.Values,
            value => AssertValue(value, "systolic-pressure", 120, "mm[Hg]"),
            value => AssertValue(value, "diastolic-pressure", 80, "mm[Hg]"),
            value => AssertValue(value, "mean-arterial-pressure", 93, "mm[Hg]"));
        Assert.Equal("1", Qualifier(panel, QualifierKeys.UserId));
        Assert.Equal("irregular-pulse", Qualifier(panel, QualifierKeys.DeviceStatus));

        var pulse = Single(outcome, "heart-rate");
        Assert.Equal(SampleTimeInParis, pulse.Time);
        AssertValue(Assert.Single(pulse.Values), "heart-rate", 72, "/min");
        Assert.Equal(2, outcome.Readings.Count);
    }

    [Fact]
    public void Encode_MeasurementWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new BloodPressureMeasurement(PressureUnit.MillimetreOfMercury, SFloat(120), SFloat(80), SFloat(93))
        {
            TimeStamp = SampleTime,
            PulseRate = SFloat(72),
            UserId = 1,
            Status = BloodPressureStatus.IrregularPulse,
        };

        Assert.Equal(Bytes(MeasurementWithEveryField), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_BloodPressureInKilopascal_ReturnsKilopascalsAtTheDeviceResolution()
    {
        // flags 0x01 = kPa; 16.0 = 160 e-1 (0xF0A0), 10.7 = 107 e-1 (0xF06B), 12.4 = 124 e-1 (0xF07C).
        var outcome = GattDecoder.Decode("2a35", Bytes("01 A0 F0 6B F0 7C F0"));

        var panel = Single(outcome, "blood-pressure");
        Assert.Null(panel.Time);
        Assert.Null(panel.Qualifiers);
        Assert.Collection(panel.Values,
            value => AssertValue(value, "systolic-pressure", 16.0, "kPa"),
            value => AssertValue(value, "diastolic-pressure", 10.7, "kPa"),
            value => AssertValue(value, "mean-arterial-pressure", 12.4, "kPa"));
    }

    [Fact]
    public void Decode_EveryMeasurementStatusBit_ListsEachAsADeviceStatusFlag()
    {
        // Status 0x002F: body movement, cuff too loose, irregular pulse, pulse rate above range (bits 3-4 = 01),
        // improper measurement position.
        var outcome = GattDecoder.Decode("2a35", Bytes("10 78 00 50 00 5D 00 2F 00"));

        Assert.Equal("body-movement,cuff-loose,irregular-pulse,pulse-rate-above-range,improper-measurement-position",
            Qualifier(Single(outcome, "blood-pressure"), QualifierKeys.DeviceStatus));
    }

    [Theory]
    [InlineData("10 78 00 50 00 5D 00 10 00", "pulse-rate-below-range")]
    [InlineData("10 78 00 50 00 5D 00 18 00", null)]
    [InlineData("10 78 00 50 00 5D 00 00 00", null)]
    public void Decode_PulseRateRangeField_ReadsBothBitsAsOneValue(string payload, string? expected)
    {
        var outcome = GattDecoder.Decode("2a35", Bytes(payload));

        Assert.Equal(expected, Qualifier(Single(outcome, "blood-pressure"), QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_UnknownUser_SetsNoUserQualifier()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes("08 78 00 50 00 5D 00 FF"));

        Assert.Null(Single(outcome, "blood-pressure").Qualifiers);
    }

    [Fact]
    public void Decode_OnePressureIsNaN_LeavesItOutOfThePanel()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes("00 78 00 50 00 FF 07"));

        Assert.Equal("systolic-pressure,diastolic-pressure",
            string.Join(',', Single(outcome, "blood-pressure").Values.Select(value => value.Measure)));
    }

    [Fact]
    public void Decode_PressuresSpecialAndPulseNaN_FailsNamingEveryValue()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes("04 FF 07 00 08 FE 07 FF 07"));

        Assert.False(outcome.Succeeded);
        Assert.Equal("0x2A35: systolic pressure is NaN (not a number), diastolic pressure is NRes (not at this resolution), " +
            "mean arterial pressure is +INFINITY, pulse rate is NaN (not a number): no measurement", outcome.Error);
    }

    [Fact]
    public void Decode_PressuresNaNButPulsePresent_ReturnsTheHeartRateOnly()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes("04 FF 07 FF 07 FF 07 48 00"));

        Assert.Equal("heart-rate", Assert.Single(outcome.Readings).Measure);
    }

    [Fact]
    public void Decode_FlagsAnnounceATimeStampButThePayloadStopsAfterThePressures_FailsNamingTheTimeStamp()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes("02 78 00 50 00 5D 00"));

        Assert.Equal("0x2A35: flags announce a time stamp but the payload ends at byte 7", outcome.Error);
    }

    [Fact]
    public void Decode_EveryTruncationOfAFullMeasurement_NamesTheMissingField()
    {
        AssertEveryTruncationNamesTheMissingField("2a35", Bytes(MeasurementWithEveryField),
        [
            new(1, "the flags field is mandatory"),
            new(2, "the systolic pressure is mandatory"),
            new(2, "the diastolic pressure is mandatory"),
            new(2, "the mean arterial pressure is mandatory"),
            new(7, "flags announce a time stamp"),
            new(2, "flags announce a pulse rate"),
            new(1, "flags announce a user ID"),
            new(2, "flags announce a measurement status"),
        ]);
    }

    [Fact]
    public void Decode_TrailingBytesWithoutReservedFlags_FailsNamingWhereTheyStart()
    {
        var outcome = GattDecoder.Decode("2a35", Bytes("00 78 00 50 00 5D 00 AA BB"));

        Assert.Equal("0x2A35: 2 unexpected bytes after the last field the flags announce, from byte 7", outcome.Error);
    }

    [Theory]
    [InlineData("E0 78 00 50 00 5D 00")]
    [InlineData("E0 78 00 50 00 5D 00 AA BB")]
    [InlineData("20 78 00 50 00 5D 00 AA")]
    public void Decode_ReservedFlagBitsSet_StillDecodesAndToleratesTheFieldsTheyMayAnnounce(string payload)
    {
        var outcome = GattDecoder.Decode("2a35", Bytes(payload));

        Assert.Equal(3, Single(outcome, "blood-pressure").Values.Count);
    }

    public static TheoryData<int> MeasurementFlags => FlagCombinations(5);

    [Theory]
    [MemberData(nameof(MeasurementFlags))]
    public void EncodeThenDecode_EveryFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int flags)
    {
        var kilopascal = Has(flags, 0);
        var measurement = new BloodPressureMeasurement(
            kilopascal ? PressureUnit.Kilopascal : PressureUnit.MillimetreOfMercury,
            kilopascal ? SFloat(16.0m, -1) : SFloat(120),
            kilopascal ? SFloat(10.7m, -1) : SFloat(80),
            kilopascal ? SFloat(12.4m, -1) : SFloat(93))
        {
            TimeStamp = Has(flags, 1) ? SampleTime : null,
            PulseRate = Has(flags, 2) ? SFloat(72) : null,
            UserId = Has(flags, 3) ? (byte)4 : null,
            Status = Has(flags, 4) ? BloodPressureStatus.BodyMovement | BloodPressureStatus.PulseRateBelowRange : null,
        };

        var payload = GattEncoder.Encode(measurement);

        Assert.Equal(flags, payload[0]);
        Assert.Equal(7 + (Has(flags, 1) ? 7 : 0) + (Has(flags, 2) ? 2 : 0) + (Has(flags, 3) ? 1 : 0) + (Has(flags, 4) ? 2 : 0), payload.Length);
        Assert.True(BloodPressureFormat.TryParseMeasurement(payload, out var parsed, out var error), error);
        Assert.Equal(measurement, parsed);

        var outcome = GattDecoder.Decode("2a35", payload, Paris);
        var panel = Single(outcome, "blood-pressure");
        var unit = kilopascal ? "kPa" : "mm[Hg]";
        Assert.Equal(new[] { kilopascal ? 16.0 : 120, kilopascal ? 10.7 : 80, kilopascal ? 12.4 : 93 }, panel.Values.Select(value => value.Value));
        Assert.All(panel.Values, value => Assert.Equal(unit, value.Unit));
        Assert.Equal(Has(flags, 1) ? SampleTimeInParis : (DateTimeOffset?)null, panel.Time);
        Assert.Equal(Has(flags, 2) ? 2 : 1, outcome.Readings.Count);
        Assert.Equal(Has(flags, 3) ? "4" : null, Qualifier(panel, QualifierKeys.UserId));
        Assert.Equal(Has(flags, 4) ? "body-movement,pulse-rate-below-range" : null, Qualifier(panel, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_IntermediateCuffPressure_ReturnsTheCuffPressureNotASystolicPressure()
    {
        // flags 0x00; cuff 150 mmHg; diastolic and mean unused (NaN).
        var outcome = GattDecoder.Decode("2a36", Bytes("00 96 00 FF 07 FF 07"));

        var cuff = Assert.Single(outcome.Readings);
        Assert.Equal("cuff-pressure", cuff.Measure);
        AssertValue(Assert.Single(cuff.Values), "cuff-pressure", 150, "mm[Hg]");
        Assert.Equal("measurement-ongoing", Qualifier(cuff, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Encode_IntermediateCuffPressure_SendsNaNInTheUnusedFields()
    {
        var cuff = new IntermediateCuffPressure(PressureUnit.MillimetreOfMercury, SFloat(150));

        Assert.Equal(Bytes("00 96 00 FF 07 FF 07"), GattEncoder.Encode(cuff));
    }

    [Fact]
    public void Decode_IntermediateCuffPressureNaN_FailsNamingTheCuffPressure()
    {
        var outcome = GattDecoder.Decode("2a36", Bytes("00 FF 07 FF 07 FF 07"));

        Assert.Equal("0x2A36: cuff pressure is NaN (not a number): no measurement", outcome.Error);
    }

    [Fact]
    public void Decode_EveryTruncationOfAFullIntermediateCuffPressure_NamesTheMissingField()
    {
        var cuff = new IntermediateCuffPressure(PressureUnit.Kilopascal, SFloat(20.1m, -1))
        {
            TimeStamp = SampleTime, PulseRate = SFloat(80), UserId = 2, Status = BloodPressureStatus.None,
        };

        AssertEveryTruncationNamesTheMissingField("2a36", GattEncoder.Encode(cuff),
        [
            new(1, "the flags field is mandatory"),
            new(2, "the cuff pressure is mandatory"),
            new(2, "the unused diastolic field is mandatory"),
            new(2, "the unused mean arterial pressure field is mandatory"),
            new(7, "flags announce a time stamp"),
            new(2, "flags announce a pulse rate"),
            new(1, "flags announce a user ID"),
            new(2, "flags announce a measurement status"),
        ]);
    }

    [Theory]
    [MemberData(nameof(MeasurementFlags))]
    public void EncodeThenDecode_EveryIntermediateCuffPressureFlagCombination_RoundTrips(int flags)
    {
        var cuff = new IntermediateCuffPressure(Has(flags, 0) ? PressureUnit.Kilopascal : PressureUnit.MillimetreOfMercury, SFloat(95))
        {
            TimeStamp = Has(flags, 1) ? SampleTime : null,
            PulseRate = Has(flags, 2) ? SFloat(64) : null,
            UserId = Has(flags, 3) ? (byte)1 : null,
            Status = Has(flags, 4) ? BloodPressureStatus.CuffTooLoose : null,
        };

        var payload = GattEncoder.Encode(cuff);

        Assert.Equal(flags, payload[0]);
        Assert.True(BloodPressureFormat.TryParseIntermediateCuffPressure(payload, out var parsed, out var error), error);
        Assert.Equal(cuff, parsed);
        var reading = Single(GattDecoder.Decode("2a36", payload, Paris), "cuff-pressure");
        Assert.Equal(Has(flags, 0) ? "kPa" : "mm[Hg]", Assert.Single(reading.Values).Unit);
        Assert.Equal(Has(flags, 4) ? "measurement-ongoing,cuff-loose" : "measurement-ongoing", Qualifier(reading, QualifierKeys.DeviceStatus));
        Assert.Equal(Has(flags, 2), GattDecoder.Decode("2a36", payload).Readings.Any(pulse => pulse.Measure == "heart-rate"));
    }
}
