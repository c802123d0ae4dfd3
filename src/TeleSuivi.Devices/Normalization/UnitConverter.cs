using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Normalization;

/// <summary>A linear (or, for temperatures, affine) map from one unit to another: <c>to = from × Scale + Offset</c>.</summary>
public readonly record struct UnitConversion(double Scale, double Offset)
{
    public static UnitConversion Identity { get; } = new(1, 0);

    public double Apply(double value) => Offset == 0 ? value * Scale : (value * Scale) + Offset;
}

/// <summary>Why a unit cannot be converted; the message names both units and their kinds.</summary>
public sealed class UnitConversionException(string message) : Exception(message);

/// <summary>
/// Conversion between the UCUM units devices send and the canonical unit of each measure. Only units listed here
/// are accepted: an unknown or incompatible unit is an error with its reason, never a pass-through.
/// </summary>
/// <remarks>
/// Factors are the exact definitions (international avoirdupois pound, international inch, thermochemical calorie,
/// conventional millimetre of mercury 133.322387415 Pa). Annotations in braces are ignored as UCUM says
/// ("{beats}/min" is "/min", "{score}" is "1"). Mass and substance concentrations are different kinds: crossing
/// them needs the molar mass of the analyte, which only the caller (the measure) knows.
/// </remarks>
public static class UnitConverter
{
    private enum Kind
    {
        Pressure,
        Temperature,
        Mass,
        Length,
        MassConcentration,
        SubstanceConcentration,
        VolumeFlow,
        Volume,
        Fraction,
        Rate,
        Duration,
        Energy,
        MassPerArea,
    }

    /// <summary>A unit as a multiple of its kind's base unit: <c>base = value × Factor + Offset</c>.</summary>
    private readonly record struct UnitInfo(Kind Kind, double Factor, double Offset = 0);

    private static readonly Dictionary<string, UnitInfo> Units = new(StringComparer.Ordinal)
    {
        // Pressure, base kPa.
        ["kPa"] = new(Kind.Pressure, 1),
        ["Pa"] = new(Kind.Pressure, 0.001),
        ["hPa"] = new(Kind.Pressure, 0.1),
        ["mm[Hg]"] = new(Kind.Pressure, 0.133322387415),
        ["cm[H2O]"] = new(Kind.Pressure, 0.0980665),

        // Temperature, base Cel; [degF] is affine: C = (F − 32) × 5/9.
        ["Cel"] = new(Kind.Temperature, 1),
        ["K"] = new(Kind.Temperature, 1, -273.15),
        ["[degF]"] = new(Kind.Temperature, 5.0 / 9.0, -32.0 * 5.0 / 9.0),

        // Mass, base kg. UCUM has no stone: a profile alias maps "st" to 14 [lb_av].
        ["kg"] = new(Kind.Mass, 1),
        ["g"] = new(Kind.Mass, 0.001),
        ["mg"] = new(Kind.Mass, 0.000001),
        ["[lb_av]"] = new(Kind.Mass, 0.45359237),
        ["[oz_av]"] = new(Kind.Mass, 0.028349523125),

        // Length, base m.
        ["m"] = new(Kind.Length, 1),
        ["cm"] = new(Kind.Length, 0.01),
        ["mm"] = new(Kind.Length, 0.001),
        ["[in_i]"] = new(Kind.Length, 0.0254),
        ["[ft_i]"] = new(Kind.Length, 0.3048),

        // Mass concentration, base g/L (GATT glucose sends kg/L; air quality µg/m³).
        ["g/L"] = new(Kind.MassConcentration, 1),
        ["kg/L"] = new(Kind.MassConcentration, 1000),
        ["mg/L"] = new(Kind.MassConcentration, 0.001),
        ["mg/dL"] = new(Kind.MassConcentration, 0.01),
        ["g/dL"] = new(Kind.MassConcentration, 10),
        ["ug/m3"] = new(Kind.MassConcentration, 1e-9),
        ["mg/m3"] = new(Kind.MassConcentration, 1e-6),

        // Substance concentration, base mol/L.
        ["mol/L"] = new(Kind.SubstanceConcentration, 1),
        ["mmol/L"] = new(Kind.SubstanceConcentration, 0.001),
        ["umol/L"] = new(Kind.SubstanceConcentration, 0.000001),

        // Volume flow, base L/min.
        ["L/min"] = new(Kind.VolumeFlow, 1),
        ["mL/min"] = new(Kind.VolumeFlow, 0.001),
        ["L/s"] = new(Kind.VolumeFlow, 60),
        ["L/h"] = new(Kind.VolumeFlow, 1.0 / 60.0),

        // Volume, base L.
        ["L"] = new(Kind.Volume, 1),
        ["dL"] = new(Kind.Volume, 0.1),
        ["mL"] = new(Kind.Volume, 0.001),

        // Dimensionless, base 1.
        ["1"] = new(Kind.Fraction, 1),
        ["%"] = new(Kind.Fraction, 0.01),
        ["[ppm]"] = new(Kind.Fraction, 1e-6),
        ["[ppb]"] = new(Kind.Fraction, 1e-9),

        // Counts per time, base /min.
        ["/min"] = new(Kind.Rate, 1),
        ["/s"] = new(Kind.Rate, 60),
        ["/h"] = new(Kind.Rate, 1.0 / 60.0),
        ["/d"] = new(Kind.Rate, 1.0 / 1440.0),

        // Durations, base s.
        ["s"] = new(Kind.Duration, 1),
        ["ms"] = new(Kind.Duration, 0.001),
        ["min"] = new(Kind.Duration, 60),
        ["h"] = new(Kind.Duration, 3600),
        ["d"] = new(Kind.Duration, 86400),

        // Energy, base kJ; the thermochemical calorie is 4.184 J, [Cal] the nutrition label Calorie (kcal).
        ["kJ"] = new(Kind.Energy, 1),
        ["J"] = new(Kind.Energy, 0.001),
        ["kcal"] = new(Kind.Energy, 4.184),
        ["cal"] = new(Kind.Energy, 0.004184),
        ["[Cal]"] = new(Kind.Energy, 4.184),

        ["kg/m2"] = new(Kind.MassPerArea, 1),
    };

    /// <summary>The UCUM codes this converter knows, annotations excluded.</summary>
    public static IEnumerable<string> KnownUnits => Units.Keys;

    public static bool IsKnown(string unit) => Units.ContainsKey(StripAnnotations(unit));

    /// <summary>Converts <paramref name="value"/>; throws <see cref="UnitConversionException"/> with the reason when it cannot.</summary>
    public static double Convert(double value, string from, string to, double? molarMass = null) =>
        TryGetConversion(from, to, molarMass, out var conversion, out var error)
            ? conversion.Apply(value)
            : throw new UnitConversionException(error);

    public static bool TryConvert(double value, string from, string to, double? molarMass, out double result, [NotNullWhen(false)] out string? error)
    {
        if (TryGetConversion(from, to, molarMass, out var conversion, out error))
        {
            result = conversion.Apply(value);
            return true;
        }

        result = double.NaN;
        return false;
    }

    /// <summary>The map from <paramref name="from"/> to <paramref name="to"/>, for callers that convert many values.</summary>
    /// <param name="molarMass">g/mol of the analyte; needed only between mass and substance concentrations.</param>
    public static bool TryGetConversion(string from, string to, double? molarMass, out UnitConversion conversion, [NotNullWhen(false)] out string? error)
    {
        conversion = UnitConversion.Identity;
        if (string.Equals(from, to, StringComparison.Ordinal) && Units.ContainsKey(StripAnnotations(from)))
        {
            error = null;
            return true;
        }

        if (!Units.TryGetValue(StripAnnotations(from), out var source))
        {
            error = $"unknown unit '{from}' (not a UCUM unit TeleSuivi converts)";
            return false;
        }

        if (!Units.TryGetValue(StripAnnotations(to), out var target))
        {
            error = $"unknown unit '{to}' (not a UCUM unit TeleSuivi converts)";
            return false;
        }

        var scale = source.Factor / target.Factor;
        if (source.Kind == target.Kind)
        {
            conversion = new UnitConversion(scale, (source.Offset - target.Offset) / target.Factor);
            error = null;
            return true;
        }

        var crossesConcentrations =
            (source.Kind, target.Kind) is (Kind.MassConcentration, Kind.SubstanceConcentration)
                or (Kind.SubstanceConcentration, Kind.MassConcentration);
        if (crossesConcentrations)
        {
            if (molarMass is not { } grams || grams <= 0)
            {
                error = $"unit '{from}' ({Describe(source.Kind)}) cannot be converted to '{to}' ({Describe(target.Kind)}) without the molar mass of the analyte";
                return false;
            }

            // g/L ÷ (g/mol) = mol/L.
            conversion = new UnitConversion(source.Kind == Kind.MassConcentration ? scale / grams : scale * grams, 0);
            error = null;
            return true;
        }

        error = $"unit '{from}' ({Describe(source.Kind)}) cannot be converted to '{to}' ({Describe(target.Kind)})";
        return false;
    }

    /// <summary>UCUM annotations ("{beats}") carry no meaning for conversion; a unit that is only an annotation is "1".</summary>
    private static string StripAnnotations(string unit)
    {
        var open = unit.IndexOf('{', StringComparison.Ordinal);
        if (open < 0)
        {
            return unit;
        }

        var builder = new System.Text.StringBuilder(unit.Length);
        var depth = 0;
        foreach (var c in unit)
        {
            if (c == '{')
            {
                depth++;
            }
            else if (c == '}')
            {
                depth--;
            }
            else if (depth == 0)
            {
                builder.Append(c);
            }
        }

        return builder.Length == 0 ? "1" : builder.ToString();
    }

    private static string Describe(Kind kind) => kind switch
    {
        Kind.Pressure => "pressure",
        Kind.Temperature => "temperature",
        Kind.Mass => "mass",
        Kind.Length => "length",
        Kind.MassConcentration => "mass concentration",
        Kind.SubstanceConcentration => "substance concentration",
        Kind.VolumeFlow => "volume flow",
        Kind.Volume => "volume",
        Kind.Fraction => "dimensionless",
        Kind.Rate => "count per time",
        Kind.Duration => "duration",
        Kind.Energy => "energy",
        Kind.MassPerArea => "mass per area",
        _ => kind.ToString(),
    };
}
