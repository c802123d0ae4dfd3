using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;

namespace TeleSuivi.Tests.Devices.Gatt;

/// <summary>Payload notation, sample values and assertions shared by the characteristic tests.</summary>
internal static class GattTestSupport
{
    public static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    /// <summary>2026-01-15 08:30:00, winter time in Paris (UTC+1).</summary>
    public static readonly GattDateTime SampleTime = new(2026, 1, 15, 8, 30, 0);

    public static readonly DateTimeOffset SampleTimeInParis = new(2026, 1, 15, 8, 30, 0, TimeSpan.FromHours(1));

    /// <summary>"1E 78 00" → bytes, so vectors read like the hex dumps they come from.</summary>
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static Ieee11073Value SFloat(decimal value, int exponent = 0) => Ieee11073Value.FromDecimal(value, exponent);

    public static TheoryData<int> FlagCombinations(int flagBits)
    {
        var data = new TheoryData<int>();
        for (var flags = 0; flags < 1 << flagBits; flags++)
        {
            data.Add(flags);
        }

        return data;
    }

    public static bool Has(int flags, int bit) => (flags & (1 << bit)) != 0;

    public static DecodedReading Single(DecodeOutcome outcome, string measure)
    {
        Assert.True(outcome.Succeeded, outcome.Error);
        return Assert.Single(outcome.Readings, reading => reading.Measure == measure);
    }

    public static void AssertValue(DecodedValue value, string measure, double expected, string unit)
    {
        Assert.Equal(measure, value.Measure);
        Assert.Equal(expected, value.Value);
        Assert.Equal(unit, value.Unit);
    }

    public static string? Qualifier(DecodedReading reading, string key) =>
        reading.Qualifiers is { } qualifiers && qualifiers.TryGetValue(key, out var value) ? value : null;

    /// <summary>One field of a characteristic layout, and how the decoder words its absence.</summary>
    /// <param name="Missing">"the systolic pressure is mandatory" or "flags announce a time stamp".</param>
    public sealed record Field(int Size, string Missing);

    /// <summary>
    /// Cuts a complete payload at every length short of its end and checks that the error names the field that the cut
    /// falls in, and where the payload ends.
    /// </summary>
    public static void AssertEveryTruncationNamesTheMissingField(string uuid16, byte[] complete, IReadOnlyList<Field> layout)
    {
        Assert.Equal(complete.Length, layout.Sum(field => field.Size));
        var label = "0x" + uuid16.ToUpperInvariant();
        for (var length = 0; length < complete.Length; length++)
        {
            var fieldEnd = 0;
            var missing = layout.First(field => (fieldEnd += field.Size) > length).Missing;

            var outcome = GattDecoder.Decode(uuid16, complete.AsSpan(0, length));

            Assert.False(outcome.Succeeded);
            Assert.Equal($"{label}: {missing} but the payload ends at byte {length}", outcome.Error);
        }
    }
}
