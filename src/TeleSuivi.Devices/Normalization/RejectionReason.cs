using System.Globalization;

namespace TeleSuivi.Devices.Normalization;

/// <summary>
/// Why a reading is rejected, twice: in English with every technical detail (dead letters, logs, the API), and in
/// French for the nurses' board, which shows it in the alerts a device's wrong clock or invalid readings raise.
/// </summary>
public sealed record RejectionReason(string En, string Fr)
{
    /// <summary>
    /// French numbers (decimal comma) on the invariant culture: the server runs in .NET's globalization-invariant
    /// mode, where no "fr-FR" culture exists.
    /// </summary>
    public static readonly CultureInfo FrenchNumbers = BuildFrenchNumbers();

    /// <summary>Formats with <see cref="FrenchNumbers"/>: <c>French($"{37.5} °C")</c> is "37,5 °C".</summary>
    public static string French(FormattableString text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.ToString(FrenchNumbers);
    }

    private static CultureInfo BuildFrenchNumbers()
    {
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        culture.NumberFormat.NumberDecimalSeparator = ",";
        culture.NumberFormat.NumberGroupSeparator = "\u202F";
        return CultureInfo.ReadOnly(culture);
    }
}
