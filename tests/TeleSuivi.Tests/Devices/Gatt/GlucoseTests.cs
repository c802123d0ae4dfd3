using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class GlucoseTests
{
    // Worked by hand: flags 0x0B = time offset, concentration with type and location, sensor status, in kg/L;
    // sequence 23; base time 2026-01-15 07:30:00; offset +60 min; 95 mg/dL = 0.00095 kg/L = 95 e-5 (0xB05F);
    // 0x11 = capillary whole blood from a finger; status 0x0001 = battery low.
    private const string MeasurementWithEveryField = "0B 17 00 EA 07 01 0F 07 1E 00 3C 00 5F B0 11 01 00";

    [Fact]
    public void Decode_MeasurementWithEveryField_ReturnsGlucoseAtBaseTimePlusOffsetWithSampleQualifiers()
    {
        var outcome = GattDecoder.Decode("2a18", Bytes(MeasurementWithEveryField), Paris);

        var glucose = Assert.Single(outcome.Readings);
        Assert.Equal("glucose", glucose.Measure);
        Assert.Equal(SampleTimeInParis, glucose.Time);
        AssertValue(Assert.Single(glucose.Values), "glucose", 0.00095, "kg/L");
        Assert.Equal("23", Qualifier(glucose, QualifierKeys.SequenceNumber));
        Assert.Equal("capillary-whole-blood", Qualifier(glucose, QualifierKeys.Specimen));
        Assert.Equal("finger", Qualifier(glucose, QualifierKeys.BodySite));
        Assert.Equal("battery-low", Qualifier(glucose, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Encode_MeasurementWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new GlucoseMeasurement(23, new GattDateTime(2026, 1, 15, 7, 30, 0))
        {
            TimeOffset = 60,
            Sample = new GlucoseSample(SFloat(0.00095m, -5), GlucoseSampleType.CapillaryWholeBlood, GlucoseSampleLocation.Finger),
            SensorStatus = GlucoseSensorStatus.DeviceBatteryLow,
        };

        Assert.Equal(Bytes(MeasurementWithEveryField), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_MolePerLitre_ReturnsMolesPerLitre()
    {
        // flags 0x06 = concentration present, mol/L; 5.3 mmol/L = 0.0053 mol/L = 53 e-4 (0xC035);
        // 0x12 = capillary plasma from a finger.
        var glucose = Single(GattDecoder.Decode("2a18", Bytes("06 01 00 EA 07 01 0F 08 1E 00 35 C0 12"), Paris), "glucose");

        AssertValue(Assert.Single(glucose.Values), "glucose", 0.0053, "mol/L");
        Assert.Equal(SampleTimeInParis, glucose.Time);
        Assert.Equal("capillary-plasma", Qualifier(glucose, QualifierKeys.Specimen));
    }

    [Fact]
    public void Decode_NegativeTimeOffset_MovesTheTimeBack()
    {
        // base time 09:00:00, offset 0xFFE2 = -30 minutes.
        var glucose = Single(GattDecoder.Decode("2a18", Bytes("03 02 00 EA 07 01 0F 09 00 00 E2 FF 5F B0 11"), Paris), "glucose");

        Assert.Equal(new DateTimeOffset(2026, 1, 15, 8, 30, 0, TimeSpan.FromHours(1)), glucose.Time);
    }

    [Fact]
    public void Decode_NoConcentration_FailsSayingSo()
    {
        Assert.Equal("0x2A18: glucose concentration is absent (flags bit 1 is clear): no measurement",
            GattDecoder.Decode("2a18", Bytes("00 05 00 EA 07 01 0F 08 1E 00")).Error);
    }

    [Fact]
    public void Decode_ConcentrationAboveTheMeterRange_FailsNamingTheInfinity()
    {
        // +INFINITY with status 0x0020 "result higher than the device can process".
        Assert.Equal("0x2A18: glucose concentration is +INFINITY: no measurement",
            GattDecoder.Decode("2a18", Bytes("0A 05 00 EA 07 01 0F 08 1E 00 FE 07 11 20 00")).Error);
    }

    [Theory]
    [InlineData(0x11, "capillary-whole-blood", "finger")]
    [InlineData(0x22, "capillary-plasma", "alternate-site")]
    [InlineData(0x33, "venous-whole-blood", "ear")]
    [InlineData(0xF4, "venous-plasma", null)]
    [InlineData(0xF5, "arterial-whole-blood", null)]
    [InlineData(0xF6, "arterial-plasma", null)]
    [InlineData(0xF7, "undetermined-whole-blood", null)]
    [InlineData(0xF8, "undetermined-plasma", null)]
    [InlineData(0xF9, "interstitial-fluid", null)]
    [InlineData(0x4A, "control-solution", null)]
    [InlineData(0x41, "control-solution", null)]
    [InlineData(0x00, null, null)]
    [InlineData(0x5B, null, null)]
    public void Decode_TypeAndSampleLocation_MapToSpecimenAndBodySite(int typeAndLocation, string? specimen, string? site)
    {
        var payload = Bytes("02 05 00 EA 07 01 0F 08 1E 00 5F B0 00");
        payload[^1] = (byte)typeAndLocation;

        var glucose = Single(GattDecoder.Decode("2a18", payload), "glucose");

        Assert.Equal(specimen, Qualifier(glucose, QualifierKeys.Specimen));
        Assert.Equal(site, Qualifier(glucose, QualifierKeys.BodySite));
    }

    [Fact]
    public void Decode_EverySensorStatusBit_ListsEachInBitOrder()
    {
        var glucose = Single(GattDecoder.Decode("2a18", Bytes("0A 05 00 EA 07 01 0F 08 1E 00 5F B0 11 FF FF")), "glucose");

        Assert.Equal("battery-low,sensor-malfunction,sample-size-insufficient,strip-insertion-error,strip-type-incorrect," +
            "result-above-device-range,result-below-device-range,sensor-temperature-too-high,sensor-temperature-too-low," +
            "sensor-read-interrupted,general-device-fault,time-fault", Qualifier(glucose, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_EveryTruncationOfAFullMeasurement_NamesTheMissingField()
    {
        AssertEveryTruncationNamesTheMissingField("2a18", Bytes(MeasurementWithEveryField),
        [
            new(1, "the flags field is mandatory"),
            new(2, "the sequence number is mandatory"),
            new(7, "the base time is mandatory"),
            new(2, "flags announce a time offset"),
            new(2, "flags announce a glucose concentration"),
            new(1, "flags announce a type and sample location"),
            new(2, "flags announce a sensor status annunciation"),
        ]);
    }

    [Fact]
    public void Decode_TrailingBytes_FailUnlessReservedFlagsAreSet()
    {
        Assert.Equal("0x2A18: 1 unexpected byte after the last field the flags announce, from byte 13",
            GattDecoder.Decode("2a18", Bytes("02 05 00 EA 07 01 0F 08 1E 00 5F B0 11 77")).Error);
        Assert.True(GattDecoder.Decode("2a18", Bytes("82 05 00 EA 07 01 0F 08 1E 00 5F B0 11 77")).Succeeded);
    }

    public static TheoryData<int> FiveFlags => FlagCombinations(5);

    [Theory]
    [MemberData(nameof(FiveFlags))]
    public void EncodeThenDecode_EveryFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int flags)
    {
        var molePerLitre = Has(flags, 2);
        var measurement = new GlucoseMeasurement(513, new GattDateTime(2026, 1, 15, 9, 0, 0))
        {
            TimeOffset = Has(flags, 0) ? (short)-30 : null,
            Sample = Has(flags, 1)
                ? new GlucoseSample(molePerLitre ? SFloat(0.0071m, -4) : SFloat(0.00128m, -5), GlucoseSampleType.VenousPlasma, GlucoseSampleLocation.AlternateSiteTest)
                : null,
            Unit = molePerLitre ? GlucoseConcentrationUnit.MolePerLitre : GlucoseConcentrationUnit.KilogramPerLitre,
            SensorStatus = Has(flags, 3) ? GlucoseSensorStatus.StripInsertionError : null,
            ContextInformationFollows = Has(flags, 4),
        };

        var payload = GattEncoder.Encode(measurement);

        Assert.Equal(flags, payload[0]);
        Assert.Equal(10 + (Has(flags, 0) ? 2 : 0) + (Has(flags, 1) ? 3 : 0) + (Has(flags, 3) ? 2 : 0), payload.Length);
        Assert.True(GlucoseFormat.TryParse(payload, out var parsed, out var error), error);
        Assert.Equal(measurement, parsed);

        var outcome = GattDecoder.Decode("2a18", payload, Paris);
        if (!Has(flags, 1))
        {
            Assert.Equal("0x2A18: glucose concentration is absent (flags bit 1 is clear): no measurement", outcome.Error);
            return;
        }

        var glucose = Single(outcome, "glucose");
        AssertValue(Assert.Single(glucose.Values), "glucose", molePerLitre ? 0.0071 : 0.00128, molePerLitre ? "mol/L" : "kg/L");
        Assert.Equal(new DateTimeOffset(2026, 1, 15, Has(flags, 0) ? 8 : 9, Has(flags, 0) ? 30 : 0, 0, TimeSpan.FromHours(1)), glucose.Time);
        Assert.Equal("513", Qualifier(glucose, QualifierKeys.SequenceNumber));
        Assert.Equal("venous-plasma", Qualifier(glucose, QualifierKeys.Specimen));
        Assert.Equal("alternate-site", Qualifier(glucose, QualifierKeys.BodySite));
        Assert.Equal(Has(flags, 3) ? "strip-insertion-error" : null, Qualifier(glucose, QualifierKeys.DeviceStatus));
    }
}
