using System.Globalization;

namespace TeleSuivi.Devices.Gatt;

/// <summary>The 16-bit UUIDs of the characteristics TeleSuivi decodes (Bluetooth SIG Assigned Numbers).</summary>
public static class GattCharacteristics
{
    public const ushort TemperatureMeasurement = 0x2A1C;
    public const ushort IntermediateTemperature = 0x2A1E;
    public const ushort GlucoseMeasurement = 0x2A18;
    public const ushort BloodPressureMeasurement = 0x2A35;
    public const ushort IntermediateCuffPressure = 0x2A36;
    public const ushort HeartRateMeasurement = 0x2A37;
    public const ushort PlxSpotCheckMeasurement = 0x2A5E;
    public const ushort PlxContinuousMeasurement = 0x2A5F;
    public const ushort WeightMeasurement = 0x2A9D;

    public static IReadOnlyList<ushort> Supported { get; } =
    [
        GlucoseMeasurement, TemperatureMeasurement, IntermediateTemperature, BloodPressureMeasurement,
        IntermediateCuffPressure, HeartRateMeasurement, PlxSpotCheckMeasurement, PlxContinuousMeasurement,
        WeightMeasurement,
    ];

    /// <summary>Reads "2a35", "2A35" or "0x2a35", the forms a topic or a log carries.</summary>
    public static bool TryParseUuid16(string? text, out ushort uuid)
    {
        uuid = 0;
        if (text is null)
        {
            return false;
        }

        var digits = text.AsSpan().Trim();
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            digits = digits[2..];
        }

        return digits.Length == 4 && ushort.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uuid);
    }

    /// <summary>How messages name a characteristic: "0x2A35".</summary>
    public static string Label(ushort uuid) => string.Create(CultureInfo.InvariantCulture, $"0x{uuid:X4}");
}
