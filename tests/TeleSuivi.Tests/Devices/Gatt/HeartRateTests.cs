using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class HeartRateTests
{
    [Fact]
    public void Decode_OneByteRateWithContactAndRrIntervals_ReturnsHeartRateAndRrIntervalsInMilliseconds()
    {
        // flags 0x16 = contact supported and detected (bits 1-2 = 11), RR-intervals present; 72 /min;
        // RR 0x03A8 = 936/1024 s = 914.0625 ms and 0x0400 = 1024/1024 s = 1000 ms.
        var outcome = GattDecoder.Decode("2a37", Bytes("16 48 A8 03 00 04"));

        var heartRate = Single(outcome, "heart-rate");
        Assert.Null(heartRate.Time);
        Assert.Null(heartRate.Qualifiers);
        AssertValue(Assert.Single(heartRate.Values), "heart-rate", 72, "/min");
        // One reading per interval, oldest first, each dated by the beat that ends it: the last one at the receipt.
        Assert.Collection(outcome.Readings.Where(reading => reading.Measure == "rr-interval"),
            reading =>
            {
                AssertValue(Assert.Single(reading.Values), "rr-interval", 914.0625, "ms");
                Assert.Equal(TimeSpan.FromMilliseconds(1000), reading.TimeBeforeReceipt);
            },
            reading =>
            {
                AssertValue(Assert.Single(reading.Values), "rr-interval", 1000, "ms");
                Assert.Equal(TimeSpan.Zero, reading.TimeBeforeReceipt);
            });
    }

    [Fact]
    public void Normalize_SeveralRrIntervals_BecomeOneObservationPerBeatAtDistinctTimes()
    {
        // A chest strap at 130 /min sends up to 3 intervals per notification: 0x01CC = 460/1024 s = 449.21875 ms each.
        var outcome = GattDecoder.Decode("2a37", Bytes("10 82 CC 01 CC 01 CC 01"));
        var received = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        var message = new TeleSuivi.Devices.Normalization.ObservationFactory().CreateAll(
            outcome.Readings, new TeleSuivi.Devices.Normalization.ObservationContext("strap-1", "p1", received, "gatt/2a37"));

        Assert.Empty(message.Rejections);
        var intervals = message.Observations.Where(o => o.Code.Coding[0].Code == "rr-interval").ToList();
        Assert.Equal(["2026-03-01T09:59:59.101Z", "2026-03-01T09:59:59.550Z", "2026-03-01T10:00:00Z"],
            intervals.Select(o => Assert.IsType<Hl7.Fhir.Model.FhirDateTime>(o.Effective).Value));
        Assert.Equal(3, intervals.Select(o => o.Id).Distinct().Count());
        Assert.All(intervals, o => Assert.Equal(449.21875m, Assert.IsType<Hl7.Fhir.Model.Quantity>(o.Value).Value));
    }

    [Fact]
    public void Decode_TwoByteRateWithEnergyExpended_ReturnsBoth()
    {
        // flags 0x09 = 16-bit value, energy expended present; 0x012C = 300 /min; 0x2710 = 10000 kJ.
        var outcome = GattDecoder.Decode("2a37", Bytes("09 2C 01 10 27"));

        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", 300, "/min");
        AssertValue(Assert.Single(Single(outcome, "energy-expended").Values), "energy-expended", 10000, "kJ");
    }

    [Fact]
    public void Decode_SaturatedEnergyExpended_LeavesTheEnergyOut()
    {
        var outcome = GattDecoder.Decode("2a37", Bytes("08 48 FF FF"));

        Assert.Equal("heart-rate", Assert.Single(outcome.Readings).Measure);
    }

    [Theory]
    [InlineData("00 3C", SensorContact.NotSupported, null)]
    [InlineData("02 3C", SensorContact.NotSupported, null)]
    [InlineData("04 3C", SensorContact.NotDetected, "sensor-contact-lost")]
    [InlineData("06 3C", SensorContact.Detected, null)]
    public void Decode_SensorContactBits_ReportLostContactAsDeviceStatus(string payload, SensorContact contact, string? deviceStatus)
    {
        Assert.True(HeartRateFormat.TryParse(Bytes(payload), out var parsed, out var error), error);
        Assert.Equal(contact, parsed.SensorContact);

        var reading = Single(GattDecoder.Decode("2a37", Bytes(payload)), "heart-rate");
        Assert.Equal(deviceStatus, Qualifier(reading, QualifierKeys.DeviceStatus));
    }

    [Fact]
    public void Encode_MeasurementWithEveryField_GivesTheHandWorkedBytes()
    {
        var measurement = new HeartRateMeasurement(300)
        {
            SensorContact = SensorContact.Detected,
            EnergyExpended = 10000,
            RrIntervals = [936, 1024],
        };

        Assert.Equal(Bytes("1F 2C 01 10 27 A8 03 00 04"), GattEncoder.Encode(measurement));
    }

    [Fact]
    public void Decode_FlagsAnnounceRrIntervalsButNoneFollow_FailsNamingThem()
    {
        var outcome = GattDecoder.Decode("2a37", Bytes("10 48"));

        Assert.Equal("0x2A37: flags announce RR-intervals but the payload ends at byte 2", outcome.Error);
    }

    [Fact]
    public void Decode_RrIntervalsOfOddLength_FailsSayingWhereTheyStart()
    {
        var outcome = GattDecoder.Decode("2a37", Bytes("10 48 A8 03 00"));

        Assert.Equal("0x2A37: the RR-intervals take 3 bytes from byte 2, not a whole number of 2-byte intervals", outcome.Error);
    }

    [Fact]
    public void Decode_EveryTruncationBeforeTheRrIntervals_NamesTheMissingField()
    {
        AssertEveryTruncationNamesTheMissingField("2a37", Bytes("09 2C 01 10 27"),
        [
            new(1, "the flags field is mandatory"),
            new(2, "the heart rate is mandatory"),
            new(2, "flags announce an energy expended"),
        ]);
    }

    [Fact]
    public void Decode_TrailingBytesWithoutRrFlag_Fail()
    {
        var outcome = GattDecoder.Decode("2a37", Bytes("00 48 00"));

        Assert.Equal("0x2A37: 1 unexpected byte after the last field the flags announce, from byte 2", outcome.Error);
    }

    [Fact]
    public void Decode_ReservedFlagBitsWithTrailingBytes_StillDecodes()
    {
        var outcome = GattDecoder.Decode("2a37", Bytes("E0 48 01 02 03"));

        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", 72, "/min");
    }

    [Fact]
    public void Encode_RateAboveAByteInOneByteFormat_Throws()
    {
        var measurement = new HeartRateMeasurement(300) { ValueFormat = HeartRateValueFormat.OneByte };

        Assert.Throws<ArgumentOutOfRangeException>(() => GattEncoder.Encode(measurement));
    }

    public static TheoryData<int, SensorContact> FieldFlagsAndContact()
    {
        var data = new TheoryData<int, SensorContact>();
        for (var flags = 0; flags < 1 << 3; flags++)
        {
            foreach (var contact in Enum.GetValues<SensorContact>())
            {
                data.Add(flags, contact);
            }
        }

        return data;
    }

    // Field flags: bit 0 two-byte value, bit 1 energy expended, bit 2 RR-intervals (flags bits 0, 3 and 4).
    [Theory]
    [MemberData(nameof(FieldFlagsAndContact))]
    public void EncodeThenDecode_EveryFlagCombination_RoundTripsAndReportsEveryAnnouncedField(int fieldFlags, SensorContact contact)
    {
        var measurement = new HeartRateMeasurement(Has(fieldFlags, 0) ? (ushort)260 : (ushort)58)
        {
            SensorContact = contact,
            EnergyExpended = Has(fieldFlags, 1) ? (ushort)420 : null,
            RrIntervals = Has(fieldFlags, 2) ? [1100, 1024, 512] : null,
        };

        var payload = GattEncoder.Encode(measurement);

        var contactBits = contact switch { SensorContact.Detected => 0x06, SensorContact.NotDetected => 0x04, _ => 0 };
        Assert.Equal((Has(fieldFlags, 0) ? 0x01 : 0) | contactBits | (Has(fieldFlags, 1) ? 0x08 : 0) | (Has(fieldFlags, 2) ? 0x10 : 0), payload[0]);
        Assert.Equal(2 + (Has(fieldFlags, 0) ? 1 : 0) + (Has(fieldFlags, 1) ? 2 : 0) + (Has(fieldFlags, 2) ? 6 : 0), payload.Length);
        Assert.True(HeartRateFormat.TryParse(payload, out var parsed, out var error), error);
        Assert.Equal(measurement.HeartRate, parsed.HeartRate);
        Assert.Equal(measurement.ValueFormat, parsed.ValueFormat);
        Assert.Equal(measurement.SensorContact, parsed.SensorContact);
        Assert.Equal(measurement.EnergyExpended, parsed.EnergyExpended);
        Assert.Equal(measurement.RrIntervals, parsed.RrIntervals);

        var outcome = GattDecoder.Decode("2a37", payload);
        AssertValue(Assert.Single(Single(outcome, "heart-rate").Values), "heart-rate", measurement.HeartRate, "/min");
        Assert.Equal(Has(fieldFlags, 1), outcome.Readings.Any(reading => reading.Measure == "energy-expended"));
        Assert.Equal(Has(fieldFlags, 2) ? 3 : 0, outcome.Readings.Count(reading => reading.Measure == "rr-interval"));
    }
}
