using System.Buffers.Binary;

namespace TeleSuivi.Devices.Gatt;

/// <summary>What an IEEE 11073-20601 FLOAT or SFLOAT holds: a number, or one of the special values.</summary>
public enum Ieee11073Kind
{
    Number,

    /// <summary>Not a number: the device could not produce a valid value.</summary>
    NaN,

    /// <summary>Not at this resolution: the value overflows or underflows the range the format can carry.</summary>
    NRes,

    PositiveInfinity,
    NegativeInfinity,

    /// <summary>A bit pattern IEEE 11073-20601 reserves for future use.</summary>
    Reserved,
}

/// <summary>
/// An IEEE 11073-20601 FLOAT-Type (32 bits) or SFLOAT-Type (16 bits) value: mantissa × 10^exponent, or a special value.
/// The exponent is kept because it is the device's resolution: 366 × 10^-1 °C and 3660 × 10^-2 °C are not the same claim.
/// </summary>
public readonly record struct Ieee11073Value
{
    private Ieee11073Value(Ieee11073Kind kind, int mantissa, int exponent)
    {
        Kind = kind;
        Mantissa = mantissa;
        Exponent = exponent;
    }

    public Ieee11073Kind Kind { get; }

    /// <summary>The signed mantissa of a number; 0 for a special value.</summary>
    public int Mantissa { get; }

    /// <summary>The signed power of ten of a number; 0 for a special value.</summary>
    public int Exponent { get; }

    public bool IsNumber => Kind == Ieee11073Kind.Number;

    public static Ieee11073Value NaN { get; } = new(Ieee11073Kind.NaN, 0, 0);

    public static Ieee11073Value NRes { get; } = new(Ieee11073Kind.NRes, 0, 0);

    public static Ieee11073Value PositiveInfinity { get; } = new(Ieee11073Kind.PositiveInfinity, 0, 0);

    public static Ieee11073Value NegativeInfinity { get; } = new(Ieee11073Kind.NegativeInfinity, 0, 0);

    public static Ieee11073Value Reserved { get; } = new(Ieee11073Kind.Reserved, 0, 0);

    /// <summary>mantissa × 10^exponent. The range is checked when the value is encoded, since FLOAT and SFLOAT differ.</summary>
    public static Ieee11073Value Number(int mantissa, int exponent) => new(Ieee11073Kind.Number, mantissa, exponent);

    /// <summary>
    /// <paramref name="value"/> at the resolution 10^<paramref name="exponent"/>, rounded half away from zero
    /// (36.65 at exponent -1 gives 367 × 10^-1).
    /// </summary>
    public static Ieee11073Value FromDecimal(decimal value, int exponent)
    {
        if (exponent < -28 || exponent > 28)
        {
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "a decimal can be scaled by 10^-28 to 10^28 only");
        }

        var power = DecimalScaling.PowerOfTen(Math.Abs(exponent));
        if (exponent < 0 && Math.Abs(value) > decimal.MaxValue / power)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"{value} has too many digits for the resolution 10^{exponent}");
        }

        var steps = exponent <= 0 ? value * power : value / power;
        var mantissa = decimal.Round(steps, MidpointRounding.AwayFromZero);
        if (mantissa < int.MinValue || mantissa > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"{value} has too many digits for the resolution 10^{exponent}");
        }

        return Number((int)mantissa, exponent);
    }

    /// <summary>The number as the double nearest to its exact decimal value; NaN or an infinity for a special value.</summary>
    public double ToDouble() => Kind switch
    {
        Ieee11073Kind.Number => DecimalScaling.ToDouble(Mantissa, Exponent),
        Ieee11073Kind.PositiveInfinity => double.PositiveInfinity,
        Ieee11073Kind.NegativeInfinity => double.NegativeInfinity,
        _ => double.NaN,
    };

    /// <summary>The exact decimal value; false for a special value or an exponent a decimal cannot hold exactly.</summary>
    public bool TryToDecimal(out decimal value)
    {
        if (Kind != Ieee11073Kind.Number)
        {
            value = 0m;
            return false;
        }

        return DecimalScaling.TryToDecimal(Mantissa, Exponent, out value);
    }

    /// <summary>How an error message names the value, e.g. "NaN (not a number)".</summary>
    public string Describe() => Kind switch
    {
        Ieee11073Kind.NaN => "NaN (not a number)",
        Ieee11073Kind.NRes => "NRes (not at this resolution)",
        Ieee11073Kind.PositiveInfinity => "+INFINITY",
        Ieee11073Kind.NegativeInfinity => "-INFINITY",
        Ieee11073Kind.Reserved => "a value reserved for future use",
        _ => DecimalScaling.TryToDecimal(Mantissa, Exponent, out var exact)
            ? exact.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : ToDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
    };

    public override string ToString() => Describe();
}

/// <summary>
/// The IEEE 11073-20601 medical floats of the Bluetooth health profiles, little-endian:
/// SFLOAT = 4-bit exponent + 12-bit mantissa, FLOAT = 8-bit exponent + 24-bit mantissa, both two's complement.
/// Decoding allocates nothing.
/// </summary>
public static class Ieee11073
{
    public const int SFloatSize = 2;
    public const int FloatSize = 4;

    public const ushort SFloatNaN = 0x07FF;
    public const ushort SFloatNRes = 0x0800;
    public const ushort SFloatPositiveInfinity = 0x07FE;
    public const ushort SFloatNegativeInfinity = 0x0802;
    public const ushort SFloatReserved = 0x0801;

    public const uint FloatNaN = 0x007FFFFF;
    public const uint FloatNRes = 0x00800000;
    public const uint FloatPositiveInfinity = 0x007FFFFE;
    public const uint FloatNegativeInfinity = 0x00800002;
    public const uint FloatReserved = 0x00800001;

    private const int SFloatMantissaMin = -(1 << 11);
    private const int SFloatMantissaMax = (1 << 11) - 1;
    private const int SFloatExponentMin = -(1 << 3);
    private const int SFloatExponentMax = (1 << 3) - 1;
    private const int FloatMantissaMin = -(1 << 23);
    private const int FloatMantissaMax = (1 << 23) - 1;

    // The special values are whole bit patterns with a zero exponent (IEEE 11073-20601 and GSS §2.2): a mantissa of
    // 0x7FF with exponent 1 is the ordinary number 20470, not NaN.
    public static Ieee11073Value DecodeSFloat(ushort raw) => raw switch
    {
        SFloatNaN => Ieee11073Value.NaN,
        SFloatNRes => Ieee11073Value.NRes,
        SFloatPositiveInfinity => Ieee11073Value.PositiveInfinity,
        SFloatNegativeInfinity => Ieee11073Value.NegativeInfinity,
        SFloatReserved => Ieee11073Value.Reserved,
        _ => Ieee11073Value.Number((short)(raw << 4) >> 4, (short)raw >> 12),
    };

    public static Ieee11073Value DecodeFloat(uint raw) => raw switch
    {
        FloatNaN => Ieee11073Value.NaN,
        FloatNRes => Ieee11073Value.NRes,
        FloatPositiveInfinity => Ieee11073Value.PositiveInfinity,
        FloatNegativeInfinity => Ieee11073Value.NegativeInfinity,
        FloatReserved => Ieee11073Value.Reserved,
        _ => Ieee11073Value.Number((int)(raw << 8) >> 8, (sbyte)(raw >> 24)),
    };

    /// <summary>Reads the SFLOAT in the first two bytes of <paramref name="source"/>.</summary>
    public static Ieee11073Value ReadSFloat(ReadOnlySpan<byte> source) =>
        DecodeSFloat(BinaryPrimitives.ReadUInt16LittleEndian(source));

    /// <summary>Reads the FLOAT in the first four bytes of <paramref name="source"/>.</summary>
    public static Ieee11073Value ReadFloat(ReadOnlySpan<byte> source) =>
        DecodeFloat(BinaryPrimitives.ReadUInt32LittleEndian(source));

    public static ushort EncodeSFloat(Ieee11073Value value)
    {
        switch (value.Kind)
        {
            case Ieee11073Kind.NaN: return SFloatNaN;
            case Ieee11073Kind.NRes: return SFloatNRes;
            case Ieee11073Kind.PositiveInfinity: return SFloatPositiveInfinity;
            case Ieee11073Kind.NegativeInfinity: return SFloatNegativeInfinity;
            case Ieee11073Kind.Reserved: return SFloatReserved;
        }

        CheckRange(value, SFloatMantissaMin, SFloatMantissaMax, SFloatExponentMin, SFloatExponentMax, "SFLOAT");
        var raw = (ushort)(((value.Exponent & 0xF) << 12) | (value.Mantissa & 0xFFF));
        if (DecodeSFloat(raw).Kind != Ieee11073Kind.Number)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value.Mantissa, $"mantissa {value.Mantissa} with exponent 0 is the SFLOAT special value 0x{raw:X4}");
        }

        return raw;
    }

    public static uint EncodeFloat(Ieee11073Value value)
    {
        switch (value.Kind)
        {
            case Ieee11073Kind.NaN: return FloatNaN;
            case Ieee11073Kind.NRes: return FloatNRes;
            case Ieee11073Kind.PositiveInfinity: return FloatPositiveInfinity;
            case Ieee11073Kind.NegativeInfinity: return FloatNegativeInfinity;
            case Ieee11073Kind.Reserved: return FloatReserved;
        }

        CheckRange(value, FloatMantissaMin, FloatMantissaMax, sbyte.MinValue, sbyte.MaxValue, "FLOAT");
        var raw = ((uint)(value.Exponent & 0xFF) << 24) | ((uint)value.Mantissa & 0xFFFFFF);
        if (DecodeFloat(raw).Kind != Ieee11073Kind.Number)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value.Mantissa, $"mantissa {value.Mantissa} with exponent 0 is the FLOAT special value 0x{raw:X8}");
        }

        return raw;
    }

    public static void WriteSFloat(Span<byte> destination, Ieee11073Value value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(destination, EncodeSFloat(value));

    public static void WriteFloat(Span<byte> destination, Ieee11073Value value) =>
        BinaryPrimitives.WriteUInt32LittleEndian(destination, EncodeFloat(value));

    /// <summary><paramref name="value"/> at the resolution 10^<paramref name="exponent"/> as SFLOAT bytes (rounded half away from zero).</summary>
    public static void WriteSFloat(Span<byte> destination, decimal value, int exponent) =>
        WriteSFloat(destination, Ieee11073Value.FromDecimal(value, exponent));

    /// <summary><paramref name="value"/> at the resolution 10^<paramref name="exponent"/> as FLOAT bytes (rounded half away from zero).</summary>
    public static void WriteFloat(Span<byte> destination, decimal value, int exponent) =>
        WriteFloat(destination, Ieee11073Value.FromDecimal(value, exponent));

    private static void CheckRange(Ieee11073Value value, int mantissaMin, int mantissaMax, int exponentMin, int exponentMax, string format)
    {
        if (value.Mantissa < mantissaMin || value.Mantissa > mantissaMax)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value.Mantissa, $"a {format} mantissa lies in [{mantissaMin}, {mantissaMax}]");
        }

        if (value.Exponent < exponentMin || value.Exponent > exponentMax)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value.Exponent, $"a {format} exponent lies in [{exponentMin}, {exponentMax}]");
        }
    }
}
