using System.Globalization;
using TeleSuivi.Devices.Gatt;

namespace TeleSuivi.Tests.Devices.Gatt;

public sealed class Ieee11073Tests
{
    [Theory]
    [InlineData(0x07FF, Ieee11073Kind.NaN)]
    [InlineData(0x0800, Ieee11073Kind.NRes)]
    [InlineData(0x07FE, Ieee11073Kind.PositiveInfinity)]
    [InlineData(0x0802, Ieee11073Kind.NegativeInfinity)]
    [InlineData(0x0801, Ieee11073Kind.Reserved)]
    public void DecodeSFloat_SpecialValue_ReturnsItsKindAndReEncodesToTheSameBits(int raw, Ieee11073Kind expected)
    {
        var value = Ieee11073.DecodeSFloat((ushort)raw);

        Assert.Equal(expected, value.Kind);
        Assert.False(value.IsNumber);
        Assert.Equal(raw, Ieee11073.EncodeSFloat(value));
    }

    [Theory]
    [InlineData(0x007FFFFFu, Ieee11073Kind.NaN)]
    [InlineData(0x00800000u, Ieee11073Kind.NRes)]
    [InlineData(0x007FFFFEu, Ieee11073Kind.PositiveInfinity)]
    [InlineData(0x00800002u, Ieee11073Kind.NegativeInfinity)]
    [InlineData(0x00800001u, Ieee11073Kind.Reserved)]
    public void DecodeFloat_SpecialValue_ReturnsItsKindAndReEncodesToTheSameBits(uint raw, Ieee11073Kind expected)
    {
        var value = Ieee11073.DecodeFloat(raw);

        Assert.Equal(expected, value.Kind);
        Assert.False(value.IsNumber);
        Assert.Equal(raw, Ieee11073.EncodeFloat(value));
    }

    [Theory]
    [InlineData(Ieee11073Kind.NaN, double.NaN)]
    [InlineData(Ieee11073Kind.NRes, double.NaN)]
    [InlineData(Ieee11073Kind.Reserved, double.NaN)]
    [InlineData(Ieee11073Kind.PositiveInfinity, double.PositiveInfinity)]
    [InlineData(Ieee11073Kind.NegativeInfinity, double.NegativeInfinity)]
    public void ToDouble_SpecialValue_ReturnsNaNOrInfinity(Ieee11073Kind kind, double expected)
    {
        var value = kind switch
        {
            Ieee11073Kind.NaN => Ieee11073Value.NaN,
            Ieee11073Kind.NRes => Ieee11073Value.NRes,
            Ieee11073Kind.Reserved => Ieee11073Value.Reserved,
            Ieee11073Kind.PositiveInfinity => Ieee11073Value.PositiveInfinity,
            _ => Ieee11073Value.NegativeInfinity,
        };

        Assert.Equal(expected, value.ToDouble());
        Assert.False(value.TryToDecimal(out _));
    }

    [Theory]
    [InlineData(Ieee11073Kind.NaN, "NaN (not a number)")]
    [InlineData(Ieee11073Kind.NRes, "NRes (not at this resolution)")]
    [InlineData(Ieee11073Kind.PositiveInfinity, "+INFINITY")]
    [InlineData(Ieee11073Kind.NegativeInfinity, "-INFINITY")]
    [InlineData(Ieee11073Kind.Reserved, "a value reserved for future use")]
    public void Describe_SpecialValue_NamesIt(Ieee11073Kind kind, string expected)
    {
        var raw = kind switch
        {
            Ieee11073Kind.NaN => Ieee11073.SFloatNaN,
            Ieee11073Kind.NRes => Ieee11073.SFloatNRes,
            Ieee11073Kind.PositiveInfinity => Ieee11073.SFloatPositiveInfinity,
            Ieee11073Kind.NegativeInfinity => Ieee11073.SFloatNegativeInfinity,
            _ => Ieee11073.SFloatReserved,
        };

        Assert.Equal(expected, Ieee11073.DecodeSFloat(raw).Describe());
    }

    // The SFLOAT column of the HL7 PHD implementation guide's encoding table, plus negative exponents and mantissas.
    [Theory]
    [InlineData(0x0002, 2, 0, 2.0)]
    [InlineData(0xF014, 20, -1, 2.0)]
    [InlineData(0xE0C8, 200, -2, 2.0)]
    [InlineData(0x1002, 2, 1, 20.0)]
    [InlineData(0x2002, 2, 2, 200.0)]
    [InlineData(0x00C8, 200, 0, 200.0)]
    [InlineData(0x04D2, 1234, 0, 1234.0)]
    [InlineData(0x0B2E, -1234, 0, -1234.0)]
    [InlineData(0xF4D2, 1234, -1, 123.4)]
    [InlineData(0xFB2E, -1234, -1, -123.4)]
    [InlineData(0xF16E, 366, -1, 36.6)]
    [InlineData(0x0FFF, -1, 0, -1.0)]
    [InlineData(0x0000, 0, 0, 0.0)]
    [InlineData(0x8001, 1, -8, 0.00000001)]
    [InlineData(0x7001, 1, 7, 10000000.0)]
    [InlineData(0x77FD, 2045, 7, 20450000000.0)]
    [InlineData(0x8803, -2045, -8, -0.00002045)]
    public void DecodeSFloat_Number_ReturnsMantissaExponentAndTheExactDouble(int raw, int mantissa, int exponent, double expected)
    {
        var value = Ieee11073.DecodeSFloat((ushort)raw);

        Assert.Equal(Ieee11073Kind.Number, value.Kind);
        Assert.Equal(mantissa, value.Mantissa);
        Assert.Equal(exponent, value.Exponent);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(value.ToDouble()));
    }

    [Fact]
    public void ReadSFloat_Mantissa1234ExponentMinus1_GivesExactly123Point4()
    {
        var value = Ieee11073.ReadSFloat([0xD2, 0xF4]);

        Assert.Equal(123.4, value.ToDouble());
        Assert.Equal("123.4", value.ToDouble().ToString("R", CultureInfo.InvariantCulture));
        Assert.True(value.TryToDecimal(out var exact));
        Assert.Equal("123.4", exact.ToString(CultureInfo.InvariantCulture));
    }

    // By IEEE 11073-20601 the special values are whole bit patterns with exponent 0; the same mantissas with another
    // exponent are ordinary numbers.
    [Theory]
    [InlineData(0x17FF, 20470.0)]
    [InlineData(0xF7FF, 204.7)]
    [InlineData(0x1800, -20480.0)]
    [InlineData(0xF802, -204.6)]
    public void DecodeSFloat_SpecialMantissaWithNonZeroExponent_IsANumber(int raw, double expected)
    {
        var value = Ieee11073.DecodeSFloat((ushort)raw);

        Assert.True(value.IsNumber);
        Assert.Equal(expected, value.ToDouble());
        Assert.Equal(raw, Ieee11073.EncodeSFloat(value));
    }

    [Fact]
    public void DecodeSFloat_EveryBitPattern_ReturnsTheNearestDoubleAndReEncodesToItself()
    {
        for (var raw = 0; raw <= ushort.MaxValue; raw++)
        {
            var value = Ieee11073.DecodeSFloat((ushort)raw);

            Assert.Equal(raw, Ieee11073.EncodeSFloat(value));
            if (value.IsNumber)
            {
                Assert.Equal(ParseScientific(value.Mantissa, value.Exponent), value.ToDouble());
            }
        }
    }

    // The FLOAT column of the HL7 PHD implementation guide's encoding table, plus body temperatures and extremes.
    [Theory]
    [InlineData(0x00000002u, 2, 0, 2.0)]
    [InlineData(0xFF000014u, 20, -1, 2.0)]
    [InlineData(0xFE0000C8u, 200, -2, 2.0)]
    [InlineData(0x01000002u, 2, 1, 20.0)]
    [InlineData(0x02000002u, 2, 2, 200.0)]
    [InlineData(0x000004D2u, 1234, 0, 1234.0)]
    [InlineData(0x00FFFB2Eu, -1234, 0, -1234.0)]
    [InlineData(0xFF00016Eu, 366, -1, 36.6)]
    [InlineData(0xFE000E4Du, 3661, -2, 36.61)]
    [InlineData(0xFF0003DEu, 990, -1, 99.0)]
    [InlineData(0xFFFFFE0Cu, -500, -1, -50.0)]
    [InlineData(0x7F000001u, 1, 127, 1e127)]
    [InlineData(0x80000001u, 1, -128, 1e-128)]
    [InlineData(0x807FFFFDu, 8388605, -128, 8.388605e-122)]
    public void DecodeFloat_Number_ReturnsMantissaExponentAndTheExactDouble(uint raw, int mantissa, int exponent, double expected)
    {
        var value = Ieee11073.DecodeFloat(raw);

        Assert.Equal(Ieee11073Kind.Number, value.Kind);
        Assert.Equal(mantissa, value.Mantissa);
        Assert.Equal(exponent, value.Exponent);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(value.ToDouble()));
        Assert.Equal(raw, Ieee11073.EncodeFloat(value));
    }

    [Fact]
    public void DecodeFloat_SeededRandomBitPatterns_ReturnTheNearestDoubleAndReEncodeToThemselves()
    {
        var random = new Random(11073);
        for (var i = 0; i < 200_000; i++)
        {
            var raw = (uint)random.NextInt64(0, 1L << 32);
            var value = Ieee11073.DecodeFloat(raw);

            Assert.Equal(raw, Ieee11073.EncodeFloat(value));
            if (value.IsNumber)
            {
                Assert.Equal(ParseScientific(value.Mantissa, value.Exponent), value.ToDouble());
            }
        }
    }

    [Theory]
    [InlineData(0xF4D2, "123.4")]
    [InlineData(0xE0C8, "2.00")]
    [InlineData(0x2002, "200")]
    [InlineData(0x8803, "-0.00002045")]
    public void TryToDecimal_Number_KeepsTheDeviceResolution(int raw, string expected)
    {
        Assert.True(Ieee11073.DecodeSFloat((ushort)raw).TryToDecimal(out var value));
        Assert.Equal(expected, value.ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void TryToDecimal_ExponentBeyondDecimalRange_ReturnsFalse()
    {
        Assert.False(Ieee11073.DecodeFloat(0x7F000001u).TryToDecimal(out _));
        Assert.False(Ieee11073.DecodeFloat(0x80000001u).TryToDecimal(out _));
    }

    [Theory]
    [InlineData("123.4", -1, 0xD2, 0xF4)]
    [InlineData("120", 0, 0x78, 0x00)]
    [InlineData("-1234", 0, 0x2E, 0x0B)]
    [InlineData("36.65", -1, 0x6F, 0xF1)]
    [InlineData("-36.65", -1, 0x91, 0xFE)]
    [InlineData("98", -1, 0xD4, 0xF3)]
    [InlineData("0.00095", -5, 0x5F, 0xB0)]
    [InlineData("12000", 3, 0x0C, 0x30)]
    public void WriteSFloat_ValueAndExponent_WritesLittleEndianRoundedHalfAwayFromZero(string value, int exponent, int low, int high)
    {
        Span<byte> bytes = stackalloc byte[2];

        Ieee11073.WriteSFloat(bytes, decimal.Parse(value, CultureInfo.InvariantCulture), exponent);

        Assert.Equal(new[] { (byte)low, (byte)high }, bytes.ToArray());
    }

    [Fact]
    public void WriteFloat_ValueAndExponent_WritesLittleEndian()
    {
        Span<byte> bytes = stackalloc byte[4];

        Ieee11073.WriteFloat(bytes, 36.6m, -1);

        Assert.Equal(new byte[] { 0x6E, 0x01, 0x00, 0xFF }, bytes.ToArray());
    }

    [Theory]
    [InlineData(2048, 0)]
    [InlineData(-2049, 0)]
    [InlineData(1, 8)]
    [InlineData(1, -9)]
    [InlineData(2047, 0)]
    [InlineData(-2046, 0)]
    public void EncodeSFloat_NumberOutsideTheFormatOrOnASpecialPattern_Throws(int mantissa, int exponent)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ieee11073.EncodeSFloat(Ieee11073Value.Number(mantissa, exponent)));
    }

    [Theory]
    [InlineData(1 << 23, 0)]
    [InlineData(1, 128)]
    [InlineData(1, -129)]
    [InlineData((1 << 23) - 1, 0)]
    public void EncodeFloat_NumberOutsideTheFormatOrOnASpecialPattern_Throws(int mantissa, int exponent)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ieee11073.EncodeFloat(Ieee11073Value.Number(mantissa, exponent)));
    }

    [Fact]
    public void FromDecimal_TooManyDigitsForTheResolution_ThrowsWhenEncoded()
    {
        var value = Ieee11073Value.FromDecimal(204.8m, -1);

        Assert.Throws<ArgumentOutOfRangeException>(() => Ieee11073.EncodeSFloat(value));
    }

    [Fact]
    public void ReadSFloatAndToDouble_OnAHotLoop_AllocateNothing()
    {
        ReadOnlySpan<byte> payload = [0xD2, 0xF4, 0x6E, 0x01, 0x00, 0xFF];
        var sum = SumDecodes(payload, 1_000);
        var before = GC.GetAllocatedBytesForCurrentThread();

        sum += SumDecodes(payload, 100_000);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum > 0);
    }

    private static double SumDecodes(ReadOnlySpan<byte> payload, int count)
    {
        var sum = 0d;
        for (var i = 0; i < count; i++)
        {
            sum += Ieee11073.ReadSFloat(payload).ToDouble() + Ieee11073.ReadFloat(payload[2..]).ToDouble();
        }

        return sum;
    }

    private static double ParseScientific(int mantissa, int exponent) =>
        double.Parse(string.Create(CultureInfo.InvariantCulture, $"{mantissa}E{exponent}"), CultureInfo.InvariantCulture);
}
