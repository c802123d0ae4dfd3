namespace TeleSuivi.Devices.Normalization;

/// <summary>
/// Rounds converted values to the precision the device actually had, so 98.6 °F is written 37.00 °C and a
/// scaled 368 × 10⁻¹ is 36.8, never 36.800000000000004 nor a spurious 37.
/// </summary>
/// <remarks>
/// The number of decimals of a converted value is the source's decimals plus the decimal digits the conversion
/// moves (⌈log10(1/scale)⌉): 120 mg/dL (0 decimals, scale 1/18.0156) gives 2 decimals, 6.66 mmol/L; 16.0 kPa
/// (1 decimal, scale 7.50) gives 1 decimal, 120.0 mmHg. The result keeps its trailing zeros as a FHIR decimal,
/// since FHIR treats them as significant.
/// </remarks>
public static class QuantityPrecision
{
    public const int MaxDecimals = 6;

    private static readonly double[] PowersOfTen = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

    /// <summary>The decimals needed to write <paramref name="value"/> exactly, at most <see cref="MaxDecimals"/>.</summary>
    public static int DecimalsOf(double value)
    {
        var magnitude = Math.Abs(value);
        for (var decimals = 0; decimals < MaxDecimals; decimals++)
        {
            var scaled = magnitude * PowersOfTen[decimals];
            if (Math.Abs(scaled - Math.Round(scaled)) <= 1e-9 * Math.Max(1, scaled))
            {
                return decimals;
            }
        }

        return MaxDecimals;
    }

    /// <summary>The decimals of a value converted with <paramref name="scale"/> from a source with <paramref name="sourceDecimals"/>.</summary>
    public static int DecimalsAfter(int sourceDecimals, double scale) =>
        Math.Clamp(sourceDecimals + DigitsMovedBy(scale), 0, MaxDecimals);

    /// <summary>⌈log10(1/scale)⌉, exact for powers of ten: the decimals a conversion by <paramref name="scale"/> adds.</summary>
    internal static int DigitsMovedBy(double scale)
    {
        var shift = -Math.Log10(Math.Abs(scale));
        var nearest = Math.Round(shift);
        return Math.Abs(shift - nearest) < 1e-9 ? (int)nearest : (int)Math.Ceiling(shift);
    }

    /// <summary><see cref="ToDecimal"/>, or false when the value does not fit in a decimal (about ±7.9e28).</summary>
    public static bool TryToDecimal(double value, int decimals, out decimal result)
    {
        if (!double.IsFinite(value) || Math.Abs(value) >= 7.9e28)
        {
            result = default;
            return false;
        }

        result = ToDecimal(value, decimals);
        return true;
    }

    /// <summary><paramref name="value"/> rounded half away from zero to exactly <paramref name="decimals"/> decimals.</summary>
    public static decimal ToDecimal(double value, int decimals)
    {
        var mantissa = Math.Round(Math.Abs(value) * PowersOfTen[decimals], MidpointRounding.AwayFromZero);
        if (mantissa >= long.MaxValue)
        {
            return Math.Round((decimal)value, decimals, MidpointRounding.AwayFromZero);
        }

        var digits = (long)mantissa;
        return new decimal((int)(digits & 0xFFFFFFFF), (int)(digits >> 32), 0, value < 0 && digits != 0, (byte)decimals);
    }
}
