using System.Globalization;

namespace TeleSuivi.Devices.Gatt;

/// <summary>
/// mantissa × 10^exponent as the double nearest to the exact decimal number, so that 1234 × 10^-1 is the same
/// double as the literal 123.4 and never 123.40000000000001.
/// </summary>
internal static class DecimalScaling
{
    // Every power of ten up to 10^22 is exact in a double; dividing or multiplying an exact integer by one is a single
    // IEEE operation, which rounds the exact quotient or product correctly.
    private static readonly double[] ExactDoublePowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    private const long LargestExactDoubleInteger = 1L << 53;

    public static double ToDouble(long mantissa, int exponent)
    {
        if (mantissa == 0)
        {
            return 0d;
        }

        if (Math.Abs(mantissa) < LargestExactDoubleInteger && exponent >= -22 && exponent <= 22)
        {
            return exponent >= 0
                ? mantissa * ExactDoublePowersOfTen[exponent]
                : mantissa / ExactDoublePowersOfTen[-exponent];
        }

        return ParseScientific(mantissa, exponent);
    }

    private static readonly decimal[] DecimalPowersOfTen = BuildDecimalPowersOfTen();

    /// <summary>A decimal as the double nearest to it (the decimal-to-double cast does not promise correct rounding).</summary>
    public static double ToDouble(decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        var unscaled = ((long)(uint)bits[1] << 32) | (uint)bits[0];
        if (bits[2] != 0 || unscaled >= LargestExactDoubleInteger)
        {
            return (double)value;
        }

        var scale = (bits[3] >> 16) & 0xFF;
        return ToDouble(value < 0 ? -unscaled : unscaled, -scale);
    }

    public static bool TryToDecimal(long mantissa, int exponent, out decimal value)
    {
        value = 0m;
        if (mantissa == 0)
        {
            return true;
        }

        var magnitude = mantissa < 0 ? (ulong)(-(mantissa + 1)) + 1UL : (ulong)mantissa;
        if (exponent <= 0)
        {
            if (exponent < -28)
            {
                return false;
            }

            value = new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, mantissa < 0, (byte)-exponent);
            return true;
        }

        if (exponent > 28 || magnitude > decimal.MaxValue / DecimalPowersOfTen[exponent])
        {
            return false;
        }

        value = mantissa * DecimalPowersOfTen[exponent];
        return true;
    }

    public static decimal PowerOfTen(int exponent) => DecimalPowersOfTen[exponent];

    private static decimal[] BuildDecimalPowersOfTen()
    {
        var powers = new decimal[29];
        powers[0] = 1m;
        for (var i = 1; i < powers.Length; i++)
        {
            powers[i] = powers[i - 1] * 10m;
        }

        return powers;
    }

    // Exponents beyond ±22 never come from a real sensor, but a FLOAT can carry them; the runtime's parser rounds
    // correctly at any magnitude, and the text lives on the stack.
    private static double ParseScientific(long mantissa, int exponent)
    {
        Span<char> text = stackalloc char[48];
        mantissa.TryFormat(text, out var length, default, CultureInfo.InvariantCulture);
        text[length++] = 'E';
        exponent.TryFormat(text[length..], out var exponentLength, default, CultureInfo.InvariantCulture);
        return double.Parse(text[..(length + exponentLength)], NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
