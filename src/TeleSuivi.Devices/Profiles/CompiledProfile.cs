namespace TeleSuivi.Devices.Profiles;

// A profile after loading: every key checked, selectors parsed, units resolved to UCUM and proven convertible to
// the measure's canonical unit, zones found. Decoding reads these and never re-interprets profile.json.

internal enum PayloadFormat
{
    Json,
    Csv,
}

internal enum TimeFormat
{
    EpochSeconds,
    EpochMilliseconds,
    Iso8601,
    Local,
}

/// <summary>Where a raw value is: a JSON selector, or a CSV column by header name or by 0-based index.</summary>
internal sealed class FieldRef
{
    public required string Text { get; init; }

    public JsonSelector? Json { get; init; }

    public string? ColumnName { get; init; }

    public int ColumnIndex { get; init; } = -1;
}

internal sealed class CsvRule
{
    public char Delimiter { get; init; } = ',';

    public bool Header { get; init; }

    public int? Columns { get; init; }

    public char DecimalSeparator { get; init; } = '.';

    public int SkipLines { get; init; }

    public string? Comment { get; init; }
}

internal sealed class TimeRule
{
    public FieldRef? Field { get; init; }

    public FieldRef? TimeOfDayField { get; init; }

    public TimeFormat Format { get; init; }

    public string? Pattern { get; init; }

    public TimeZoneInfo? Zone { get; init; }

    public FieldRef? ZoneField { get; init; }

    public bool Optional { get; init; }
}

internal sealed class SkipRule
{
    public required FieldRef Field { get; init; }

    public required HashSet<string> Values { get; init; }
}

internal sealed class QualifierRule
{
    public required string Key { get; init; }

    public FieldRef? Field { get; init; }

    public string? Value { get; init; }

    public Dictionary<string, string>? Map { get; init; }
}

/// <summary>What a value becomes: a measure, its unit when the entry fixes it, and its own scaling.</summary>
internal sealed class MeasureTarget
{
    public required string Measure { get; init; }

    public string? Unit { get; init; }

    public double UnitFactor { get; init; } = 1;

    public double Scale { get; init; } = 1;

    public double Offset { get; init; }

    public bool Ignore { get; init; }
}

internal sealed class ValueRule
{
    public JsonSelector? Items { get; init; }

    public required FieldRef Field { get; init; }

    public MeasureTarget? Fixed { get; init; }

    public FieldRef? MeasureField { get; init; }

    public Dictionary<long, MeasureTarget>? NumericMap { get; init; }

    public Dictionary<string, MeasureTarget>? TextMap { get; init; }

    public FieldRef? UnitField { get; init; }

    public double Scale { get; init; } = 1;

    public FieldRef? ExponentField { get; init; }

    public double Offset { get; init; }

    public Dictionary<string, double>? ValueMap { get; init; }

    /// <summary>Raw values that are the device's "no data" sentinel (127 for a pulse oximeter's SpO2): no reading.</summary>
    public HashSet<double>? NoDataValues { get; init; }

    public bool Optional { get; init; }
}

/// <summary>Unit names of a manufacturer ("lbs", "F", "mg/dl") mapped to UCUM codes, with a factor for units UCUM lacks.</summary>
internal sealed class UnitAliases(Dictionary<string, (string Unit, double Factor)> aliases)
{
    public static UnitAliases Empty { get; } = new(new Dictionary<string, (string, double)>(StringComparer.OrdinalIgnoreCase));

    /// <summary>The alias names in profile order (for the encoder, which writes them).</summary>
    public IEnumerable<string> Names => aliases.Keys;

    /// <summary>A UCUM code is taken as it is (UCUM is case-sensitive); anything else must be an alias of the profile.</summary>
    public bool TryResolve(string raw, out string unit, out double factor)
    {
        if (Normalization.UnitConverter.IsKnown(raw))
        {
            unit = raw;
            factor = 1;
            return true;
        }

        if (aliases.TryGetValue(raw.Trim(), out var alias))
        {
            (unit, factor) = alias;
            return true;
        }

        unit = raw;
        factor = 1;
        return false;
    }
}

internal sealed class CompiledProfile
{
    public required string Manufacturer { get; init; }

    public required PayloadFormat Format { get; init; }

    public bool AllowEmpty { get; init; }

    public required UnitAliases Units { get; init; }

    public CsvRule? Csv { get; init; }

    public JsonSelector? Records { get; init; }

    public required IReadOnlyList<SkipRule> Skip { get; init; }

    public required TimeRule Time { get; init; }

    public required IReadOnlyList<QualifierRule> Qualifiers { get; init; }

    public required IReadOnlyList<ValueRule> Values { get; init; }
}
