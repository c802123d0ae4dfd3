namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// The scaling of a profile's numbers, shared by the decoder and the encoder: the encoder must compute exactly the
/// number the decoder will read, so both go through these very operations.
/// </summary>
internal static class ProfileArithmetic
{
    private static readonly double[] PowersOfTen =
        [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    /// <summary>Multiplies, dividing instead for 0.1-like factors: 368 / 10 is 36.8 exactly, 368 × 0.1 is not.</summary>
    public static double Scale(double value, double factor) =>
        TryGetDivisor(factor, out var divisor) ? value / divisor : value * factor;

    /// <summary>The inverse of <see cref="Scale"/>.</summary>
    public static double Unscale(double value, double factor) =>
        TryGetDivisor(factor, out var divisor) ? value * divisor : value / factor;

    public static double ScaleByPowerOfTen(double value, int exponent) =>
        exponent switch
        {
            0 => value,
            > 0 and < 16 => value * PowersOfTen[exponent],
            < 0 and > -16 => value / PowersOfTen[-exponent],
            _ => value * Math.Pow(10, exponent),
        };

    /// <summary>Whether <paramref name="factor"/> is 1/n for a whole n (0.1, 0.01, 0.5): scaling then divides by n.</summary>
    private static bool TryGetDivisor(double factor, out double divisor)
    {
        divisor = 1;
        if (factor == 1 || Math.Abs(factor) >= 1)
        {
            return false;
        }

        var inverse = 1 / factor;
        divisor = Math.Round(inverse);
        return Math.Abs(inverse - divisor) < 1e-9 * Math.Abs(inverse);
    }
}
