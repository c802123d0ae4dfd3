using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class PulseOximetryTests
{
    // Worked by hand: flags 0x0F = time stamp, measurement status, device and sensor status, pulse amplitude index;
    // SpO2 98 %, PR 72 /min; 2026-01-15 08:30:00; status 0x0100 = fully qualified data;
    // device status 0x000020 = low perfusion; PAI 2.5 % = 25 e-1 (0xF019).
    private const string SpotCheckWithEveryField = "0F 62 00 48 00 EA 07 01 0F 08 1E 00 00 01 20 00 00 19 F0";

    // Worked by hand: flags 0x1F = Fast, Slow, measurement status, device and sensor status, PAI;
    // Normal 97 % / 70, Fast 96 % / 75, Slow 97 % / 69; status 0x0020 = measurement ongoing;
    // device status 0x002000 = sensor displaced; PAI NaN.
    private const string ContinuousWithEveryField = "1F 61 00 46 00 60 00 4B 00 61 00 45 00 20 00 00 20 00 FF 07";

    [Fact]
    public void Decode_SpotCheckWithEveryField_ReturnsSaturationPulseAndPerfusionWithTheirStatus()
    {
        var outcome = GattDecoder.Decode("2a5e", Bytes(SpotCheckWithEveryField), Paris);

        Assert.Equal(3, outcome.Readings.Count);
        var saturation = Single(outcome, "oxygen-saturation");
        Assert.Equal(SampleTimeInParis, saturation.Time);
        AssertValue(Assert.Single(saturation.Values), "oxygen-saturation", 98, "%");
        Assert.Equal("fully-qualified-data,low-perfusion", Qualifier(saturation, QualifierKeys.DeviceStatus));
        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", 72, "/min");
        AssertValue(Assert.Single(Single(outcome, "pulse-amplitude-index").Values), "pulse-amplitude-index", 2.5, "%");
    }

    [Fact]
    public void Encode_SpotCheckWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new PlxSpotCheckMeasurement(new SpO2PulseRate(SFloat(98), SFloat(72)))
        {
            TimeStamp = SampleTime,
            MeasurementStatus = PlxMeasurementStatus.FullyQualifiedData,
            DeviceAndSensorStatus = PlxDeviceAndSensorStatus.LowPerfusionDetected,
            PulseAmplitudeIndex = SFloat(2.5m, -1),
        };

        Assert.Equal(Bytes(SpotCheckWithEveryField), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_SpotCheckSpO2AndPulseNaN_FailsNamingBoth()
    {
        var outcome = GattDecoder.Decode("2a5e", Bytes("00 FF 07 FF 07"));

        Assert.Equal("0x2A5E: SpO2 is NaN (not a number), pulse rate is NaN (not a number): no measurement", outcome.Error);
    }

    [Fact]
    public void Decode_SpotCheckSpO2NaNOnly_ReturnsThePulseRate()
    {
        var outcome = GattDecoder.Decode("2a5e", Bytes("00 FF 07 48 00"));

        Assert.Equal("heart-rate", Assert.Single(outcome.Readings).Measure);
    }

    [Fact]
    public void Decode_SpotCheckWithDeviceClockNotSet_IgnoresTheTimeStampAndSaysWhy()
    {
        // flags 0x11 = time stamp + device clock not set; the clock reads 2000-01-01 00:00:00.
        var outcome = GattDecoder.Decode("2a5e", Bytes("11 61 00 4B 00 D0 07 01 01 00 00 00"), Paris);

        var saturation = Single(outcome, "oxygen-saturation");
        Assert.Null(saturation.Time);
        Assert.Equal("device-clock-not-set", Qualifier(saturation, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_EveryDeviceAndSensorStatusBit_ListsEachInBitOrder()
    {
        var outcome = GattDecoder.Decode("2a5e", Bytes("04 61 00 4B 00 FF FF FF"));

        Assert.Equal("extended-display-update-ongoing,equipment-malfunction,signal-processing-irregularity,inadequate-signal," +
            "poor-signal,low-perfusion,erratic-signal,non-pulsatile-signal,questionable-pulse,signal-analysis-ongoing," +
            "sensor-interference,sensor-unconnected-to-user,unknown-sensor-connected,sensor-displaced,sensor-malfunctioning," +
            "sensor-disconnected", Qualifier(Single(outcome, "oxygen-saturation"), QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_EveryMeasurementStatusBit_ListsEachInBitOrder()
    {
        var outcome = GattDecoder.Decode("2a5e", Bytes("02 61 00 4B 00 FF FF"));

        Assert.Equal("measurement-ongoing,early-estimated-data,validated-data,fully-qualified-data,data-from-measurement-storage," +
            "data-for-demonstration,data-for-testing,calibration-ongoing,measurement-unavailable,questionable-measurement," +
            "invalid-measurement", Qualifier(Single(outcome, "oxygen-saturation"), QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_EveryTruncationOfAFullSpotCheck_NamesTheMissingField()
    {
        AssertEveryTruncationNamesTheMissingField("2a5e", Bytes(SpotCheckWithEveryField),
        [
            new(1, "the flags field is mandatory"),
            new(4, "the SpO2PR-Spot-Check field is mandatory"),
            new(7, "flags announce a time stamp"),
            new(2, "flags announce a measurement status"),
            new(3, "flags announce a device and sensor status"),
            new(2, "flags announce a pulse amplitude index"),
        ]);
    }

    [Theory]
    [InlineData("2a5e", "E0 61 00 4B 00 01 02")]
    [InlineData("2a5f", "E0 61 00 4B 00 01 02")]
    public void Decode_ReservedFlagBitsWithTrailingBytes_StillDecodes(string uuid, string payload)
    {
        AssertValue(Assert.Single(Single(GattDecoder.Decode(uuid, Bytes(payload)), "oxygen-saturation").Values), "oxygen-saturation", 97, "%");
    }

    [Theory]
    [InlineData("2a5e", "0x2A5E")]
    [InlineData("2a5f", "0x2A5F")]
    public void Decode_TrailingBytesWithoutReservedFlags_Fail(string uuid, string label)
    {
        var outcome = GattDecoder.Decode(uuid, Bytes("00 61 00 4B 00 01"));

        Assert.Equal($"{label}: 1 unexpected byte after the last field the flags announce, from byte 5", outcome.Error);
    }

    public static TheoryData<int> FiveFlags => FlagCombinations(5);

    [Theory]
    [MemberData(nameof(FiveFlags))]
    public void EncodeThenDecode_EverySpotCheckFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int flags)
    {
        var measurement = new PlxSpotCheckMeasurement(new SpO2PulseRate(SFloat(95), SFloat(88)))
        {
            TimeStamp = Has(flags, 0) ? SampleTime : null,
            MeasurementStatus = Has(flags, 1) ? PlxMeasurementStatus.ValidatedData : null,
            DeviceAndSensorStatus = Has(flags, 2) ? PlxDeviceAndSensorStatus.SensorDisconnected : null,
            PulseAmplitudeIndex = Has(flags, 3) ? SFloat(1.2m, -1) : null,
            DeviceClockNotSet = Has(flags, 4),
        };

        var payload = GattEncoder.Encode(measurement);

        Assert.Equal(flags, payload[0]);
        Assert.Equal(5 + (Has(flags, 0) ? 7 : 0) + (Has(flags, 1) ? 2 : 0) + (Has(flags, 2) ? 3 : 0) + (Has(flags, 3) ? 2 : 0), payload.Length);
        Assert.True(PulseOximetryFormat.TryParseSpotCheck(payload, out var parsed, out var error), error);
        Assert.Equal(measurement, parsed);

        var outcome = GattDecoder.Decode("2a5e", payload, Paris);
        var saturation = Single(outcome, "oxygen-saturation");
        AssertValue(Assert.Single(saturation.Values), "oxygen-saturation", 95, "%");
        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", 88, "/min");
        Assert.Equal(Has(flags, 0) && !Has(flags, 4) ? SampleTimeInParis : (DateTimeOffset?)null, saturation.Time);
        Assert.Equal(Has(flags, 3) ? 3 : 2, outcome.Readings.Count);
        var expectedStatus = string.Join(',', new[]
        {
            Has(flags, 1) ? "validated-data" : null,
            Has(flags, 2) ? "sensor-disconnected" : null,
            Has(flags, 4) ? "device-clock-not-set" : null,
        }.OfType<string>());
        Assert.Equal(expectedStatus.Length > 0 ? expectedStatus : null, Qualifier(saturation, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Decode_ContinuousWithEveryField_ReturnsTheNormalValuesAndLeavesOutTheNaNPerfusion()
    {
        var outcome = GattDecoder.Decode("2a5f", Bytes(ContinuousWithEveryField), Paris);

        Assert.Equal(2, outcome.Readings.Count);
        var saturation = Single(outcome, "oxygen-saturation");
        Assert.Null(saturation.Time);
        AssertValue(Assert.Single(saturation.Values), "oxygen-saturation", 97, "%");
        Assert.Equal("measurement-ongoing,sensor-displaced", Qualifier(saturation, QualifierKeys.DeviceStatus));
        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", 70, "/min");
    }

    [Fact]
    public void Encode_ContinuousWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new PlxContinuousMeasurement(new SpO2PulseRate(SFloat(97), SFloat(70)))
        {
            Fast = new SpO2PulseRate(SFloat(96), SFloat(75)),
            Slow = new SpO2PulseRate(SFloat(97), SFloat(69)),
            MeasurementStatus = PlxMeasurementStatus.MeasurementOngoing,
            DeviceAndSensorStatus = PlxDeviceAndSensorStatus.SensorDisplaced,
            PulseAmplitudeIndex = Ieee11073Value.NaN,
        };

        Assert.Equal(Bytes(ContinuousWithEveryField), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_ContinuousEverythingNaN_FailsNamingEachValue()
    {
        var outcome = GattDecoder.Decode("2a5f", Bytes("10 FF 07 FF 07 00 08"));

        Assert.Equal("0x2A5F: SpO2 is NaN (not a number), pulse rate is NaN (not a number), " +
            "pulse amplitude index is NRes (not at this resolution): no measurement", outcome.Error);
    }

    [Fact]
    public void Decode_EveryTruncationOfAFullContinuousMeasurement_NamesTheMissingField()
    {
        AssertEveryTruncationNamesTheMissingField("2a5f", Bytes(ContinuousWithEveryField),
        [
            new(1, "the flags field is mandatory"),
            new(4, "the SpO2PR-Normal field is mandatory"),
            new(4, "flags announce an SpO2PR-Fast field"),
            new(4, "flags announce an SpO2PR-Slow field"),
            new(2, "flags announce a measurement status"),
            new(3, "flags announce a device and sensor status"),
            new(2, "flags announce a pulse amplitude index"),
        ]);
    }

    [Theory]
    [MemberData(nameof(FiveFlags))]
    public void EncodeThenDecode_EveryContinuousFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int flags)
    {
        var measurement = new PlxContinuousMeasurement(new SpO2PulseRate(SFloat(93), SFloat(101)))
        {
            Fast = Has(flags, 0) ? new SpO2PulseRate(SFloat(92), SFloat(104)) : null,
            Slow = Has(flags, 1) ? new SpO2PulseRate(SFloat(94), SFloat(99)) : null,
            MeasurementStatus = Has(flags, 2) ? PlxMeasurementStatus.EarlyEstimatedData : null,
            DeviceAndSensorStatus = Has(flags, 3) ? PlxDeviceAndSensorStatus.PoorSignalDetected : null,
            PulseAmplitudeIndex = Has(flags, 4) ? SFloat(0.8m, -1) : null,
        };

        var payload = GattEncoder.Encode(measurement);

        Assert.Equal(flags, payload[0]);
        Assert.Equal(5 + (Has(flags, 0) ? 4 : 0) + (Has(flags, 1) ? 4 : 0) + (Has(flags, 2) ? 2 : 0) + (Has(flags, 3) ? 3 : 0) + (Has(flags, 4) ? 2 : 0), payload.Length);
        Assert.True(PulseOximetryFormat.TryParseContinuous(payload, out var parsed, out var error), error);
        Assert.Equal(measurement, parsed);

        var outcome = GattDecoder.Decode("2a5f", payload);
        AssertValue(Assert.Single(Single(outcome, "oxygen-saturation").Values), "oxygen-saturation", 93, "%");
        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", 101, "/min");
        Assert.Equal(Has(flags, 4), outcome.Readings.Any(reading => reading.Measure == "pulse-amplitude-index"));
        var expectedStatus = string.Join(',', new[]
        {
            Has(flags, 2) ? "early-estimated-data" : null,
            Has(flags, 3) ? "poor-signal" : null,
        }.OfType<string>());
        Assert.Equal(expectedStatus.Length > 0 ? expectedStatus : null, Qualifier(Single(outcome, "heart-rate"), QualifierKeys.DeviceStatus));
    }
}
