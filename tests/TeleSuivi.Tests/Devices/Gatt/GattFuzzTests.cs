using System.Buffers.Binary;
using System.Globalization;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using static TeleSuivi.Tests.Devices.Gatt.GattTestSupport;

namespace TeleSuivi.Tests.Devices.Gatt;

/// <summary>
/// Devices and gateways send garbage too: whatever the bytes, the decoder answers with readings or a reason, never an
/// exception. Seeded, so a failure reproduces.
/// </summary>
public sealed class GattFuzzTests
{
    private const int CasesPerCharacteristic = 3_000;

    private static readonly TimeZoneInfo[] Zones =
    [
        TimeZoneInfo.Utc,
        Paris,
        TimeZoneInfo.FindSystemTimeZoneById("Pacific/Kiritimati"),
        TimeZoneInfo.FindSystemTimeZoneById("Pacific/Pago_Pago"),
    ];

    // One complete payload per characteristic, every optional field present, to mutate.
    private static readonly Dictionary<ushort, byte[]> CompletePayloads = new()
    {
        [GattCharacteristics.BloodPressureMeasurement] = Bytes("1F 78 00 50 00 5D 00 EA 07 01 0F 08 1E 00 48 00 01 04 00"),
        [GattCharacteristics.IntermediateCuffPressure] = Bytes("1E 96 00 FF 07 FF 07 EA 07 01 0F 08 1E 00 48 00 01 04 00"),
        [GattCharacteristics.HeartRateMeasurement] = Bytes("1F 2C 01 10 27 A8 03 00 04"),
        [GattCharacteristics.PlxSpotCheckMeasurement] = Bytes("1F 62 00 48 00 EA 07 01 0F 08 1E 00 00 01 20 00 00 19 F0"),
        [GattCharacteristics.PlxContinuousMeasurement] = Bytes("1F 61 00 46 00 60 00 4B 00 61 00 45 00 20 00 00 20 00 19 F0"),
        [GattCharacteristics.TemperatureMeasurement] = Bytes("07 DA 03 00 FF EA 07 01 0F 08 1E 00 09"),
        [GattCharacteristics.IntermediateTemperature] = Bytes("06 6E 01 00 FF EA 07 01 0F 08 1E 00 09"),
        [GattCharacteristics.WeightMeasurement] = Bytes("0F A4 38 EA 07 01 0F 08 1E 00 02 ED 00 D6 06"),
        [GattCharacteristics.GlucoseMeasurement] = Bytes("1F 17 00 EA 07 01 0F 07 1E 00 3C 00 5F B0 11 01 00"),
    };

    public static TheoryData<string> SupportedCharacteristics()
    {
        var data = new TheoryData<string>();
        foreach (var uuid in GattCharacteristics.Supported)
        {
            data.Add(uuid.ToString("x4", CultureInfo.InvariantCulture));
        }

        return data;
    }

    [Fact]
    public void CompletePayloads_CoverEverySupportedCharacteristicAndDecode()
    {
        Assert.Equal(GattCharacteristics.Supported.Order(), CompletePayloads.Keys.Order());
        foreach (var (uuid, payload) in CompletePayloads)
        {
            var outcome = GattDecoder.Decode(uuid, payload, Paris);
            Assert.True(outcome.Succeeded, outcome.Error);
        }
    }

    [Theory]
    [MemberData(nameof(SupportedCharacteristics))]
    public void Decode_RandomBytes_NeverThrowsAndAnswersWithReadingsOrAReason(string uuid16)
    {
        var uuid = ushort.Parse(uuid16, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var random = new Random(uuid);
        var payload = new byte[64];
        for (var i = 0; i < CasesPerCharacteristic; i++)
        {
            var length = random.Next(0, payload.Length + 1);
            random.NextBytes(payload.AsSpan(0, length));

            AssertWellFormed(uuid, GattDecoder.Decode(uuid16, payload.AsSpan(0, length), Zones[i % Zones.Length]));
        }
    }

    [Theory]
    [MemberData(nameof(SupportedCharacteristics))]
    public void Decode_MutatedValidPayloads_NeverThrowsAndAnswersWithReadingsOrAReason(string uuid16)
    {
        var uuid = ushort.Parse(uuid16, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var random = new Random(~uuid);
        var complete = CompletePayloads[uuid];
        for (var i = 0; i < CasesPerCharacteristic; i++)
        {
            var mutated = new byte[complete.Length + random.Next(-complete.Length, 4)];
            complete.AsSpan(0, Math.Min(complete.Length, mutated.Length)).CopyTo(mutated);
            for (var flips = random.Next(1, 4); flips > 0 && mutated.Length > 0; flips--)
            {
                mutated[random.Next(mutated.Length)] ^= (byte)(1 << random.Next(8));
            }

            AssertWellFormed(uuid, GattDecoder.Decode(uuid16, mutated, Zones[i % Zones.Length]));
        }
    }

    // Where the time stamp (the base time for glucose) starts in each complete payload.
    private static readonly Dictionary<string, int> TimeStampOffsets = new()
    {
        ["2a35"] = 7, ["2a36"] = 7, ["2a5e"] = 5, ["2a1c"] = 5, ["2a1e"] = 5, ["2a9d"] = 3, ["2a18"] = 3,
    };

    public static TheoryData<string> TimeStampedCharacteristics() => [.. TimeStampOffsets.Keys];

    // Random bytes almost never make a date; these stay near the calendar's edges, where conversions throw.
    [Theory]
    [MemberData(nameof(TimeStampedCharacteristics))]
    public void Decode_TimeStampsNearTheCalendarEdges_NeverThrowAndAnswerWithReadingsOrAReason(string uuid16)
    {
        var uuid = ushort.Parse(uuid16, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var random = new Random(uuid ^ 0x5A5A);
        var payload = CompletePayloads[uuid].ToArray();
        var stamp = payload.AsSpan(TimeStampOffsets[uuid16], GattDateTime.Size);
        ushort[] years = [0, 1, 1581, 1582, 2026, 9999, 10000, ushort.MaxValue];
        for (var i = 0; i < CasesPerCharacteristic; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(stamp, years[random.Next(years.Length)]);
            stamp[2] = (byte)random.Next(0, 14);
            stamp[3] = (byte)random.Next(0, 33);
            stamp[4] = (byte)random.Next(0, 25);
            stamp[5] = (byte)random.Next(0, 61);
            stamp[6] = (byte)random.Next(0, 61);
            if (uuid == GattCharacteristics.GlucoseMeasurement)
            {
                BinaryPrimitives.WriteInt16LittleEndian(payload.AsSpan(10), (short)random.Next(short.MinValue, short.MaxValue + 1));
            }

            AssertWellFormed(uuid, GattDecoder.Decode(uuid16, payload, Zones[i % Zones.Length]));
        }
    }

    private static void AssertWellFormed(ushort uuid, DecodeOutcome outcome)
    {
        if (!outcome.Succeeded)
        {
            Assert.Empty(outcome.Readings);
            Assert.StartsWith($"0x{uuid:X4}: ", outcome.Error, StringComparison.Ordinal);
            return;
        }

        Assert.NotEmpty(outcome.Readings);
        foreach (var reading in outcome.Readings)
        {
            Assert.NotEmpty(reading.Values);
            Assert.All(reading.Values, value => Assert.True(double.IsFinite(value.Value), $"{value.Measure} = {value.Value}"));
        }
    }
}
