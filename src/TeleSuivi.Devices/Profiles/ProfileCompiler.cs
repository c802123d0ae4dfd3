using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Devices.Profiles;

/// <summary>A profile.json that cannot be used, with the file and the precise reason.</summary>
public sealed class ProfileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads and checks one profile.json. Everything that can be wrong without a payload is rejected here, at startup:
/// unknown keys, unknown measures, units that are unknown or not convertible to the measure's canonical unit,
/// unknown time zones, bad selectors.
/// </summary>
internal static class ProfileCompiler
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static CompiledProfile Compile(string manufacturer, ReadOnlySpan<byte> json)
    {
        ProfileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<ProfileDocument>(json, Options);
        }
        catch (JsonException ex)
        {
            throw new ProfileException($"{manufacturer}: profile.json is invalid at {ex.Path ?? "$"}: {ex.Message}", ex);
        }

        if (document is null)
        {
            throw new ProfileException($"{manufacturer}: profile.json is null");
        }

        try
        {
            return Compile(manufacturer, document);
        }
        catch (FormatException ex)
        {
            throw new ProfileException($"{manufacturer}: {ex.Message}", ex);
        }
    }

    private static CompiledProfile Compile(string manufacturer, ProfileDocument document)
    {
        if (!string.Equals(document.Manufacturer, manufacturer, StringComparison.Ordinal))
        {
            throw new FormatException($"\"manufacturer\" is '{document.Manufacturer}' but the folder is '{manufacturer}': they must be equal (the folder is the MQTT topic segment)");
        }

        var format = document.Format switch
        {
            "json" => PayloadFormat.Json,
            "csv" => PayloadFormat.Csv,
            _ => throw new FormatException($"\"format\" is '{document.Format}', expected \"json\" or \"csv\""),
        };

        CsvRule? csv = null;
        JsonSelector? records = null;
        if (format == PayloadFormat.Csv)
        {
            csv = CompileCsv(document.Csv ?? throw new FormatException("a CSV profile needs a \"csv\" section"));
            if (document.Records is not null)
            {
                throw new FormatException("\"records\" is for JSON profiles: every CSV line is a record");
            }
        }
        else
        {
            if (document.Csv is not null)
            {
                throw new FormatException("\"csv\" is only for CSV profiles");
            }

            records = ParseSelector(document.Records ?? "$", "records");
            if (records.Anchor != SelectorAnchor.Root)
            {
                throw new FormatException($"\"records\" '{records.Text}' must start at the root '$'");
            }
        }

        var context = new Context(format, records?.EnclosingLevels ?? 0, CompileUnits(document.Units)) { HasHeader = csv?.Header ?? false };
        var values = document.Values is { Count: > 0 } list
            ? list.Select((value, index) => CompileValue(value, $"values[{index}]", context)).ToList()
            : throw new FormatException("\"values\" is required and must list at least one value");

        return new CompiledProfile
        {
            Manufacturer = manufacturer,
            Format = format,
            AllowEmpty = document.AllowEmpty,
            Units = context.Units,
            Csv = csv,
            Records = records,
            Skip = (document.Skip ?? []).Select((skip, index) => CompileSkip(skip, $"skip[{index}]", context)).ToList(),
            Time = CompileTime(document.Time ?? throw new FormatException("\"time\" is required (write { \"optional\": true } when payloads carry no time)"), context),
            Qualifiers = (document.Qualifiers ?? []).Select(pair => CompileQualifier(pair.Key, pair.Value, context)).ToList(),
            Values = values,
        };
    }

    private static CsvRule CompileCsv(CsvDocument csv)
    {
        if (csv.Delimiter is not { Length: 1 } delimiter)
        {
            throw new FormatException("csv.delimiter must be one character, e.g. \",\" or \";\" (use \"\\t\" for tabs)");
        }

        if (csv.DecimalSeparator is { } separator && separator is not ("." or ","))
        {
            throw new FormatException("csv.decimalSeparator must be \".\" or \",\"");
        }

        if (csv.DecimalSeparator == csv.Delimiter)
        {
            throw new FormatException("csv.decimalSeparator cannot be the delimiter");
        }

        if (!csv.Header && csv.Columns is null)
        {
            throw new FormatException("a CSV profile without a header line must give csv.columns, the number of columns of a line");
        }

        return new CsvRule
        {
            Delimiter = delimiter[0],
            Header = csv.Header,
            Columns = csv.Columns,
            DecimalSeparator = csv.DecimalSeparator?[0] ?? '.',
            SkipLines = csv.SkipLines,
            Comment = string.IsNullOrEmpty(csv.Comment) ? null : csv.Comment,
        };
    }

    private static UnitAliases CompileUnits(Dictionary<string, UnitAliasDocument>? units)
    {
        if (units is null)
        {
            return UnitAliases.Empty;
        }

        var aliases = new Dictionary<string, (string, double)>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, alias) in units)
        {
            if (alias.Unit is not { } unit || !UnitConverter.IsKnown(unit))
            {
                throw new FormatException($"units.{name}: '{alias.Unit}' is not a UCUM unit TeleSuivi converts");
            }

            if (!(alias.Factor > 0) || !double.IsFinite(alias.Factor))
            {
                throw new FormatException($"units.{name}: factor must be a positive number");
            }

            aliases[name] = (unit, alias.Factor);
        }

        return new UnitAliases(aliases);
    }

    private static TimeRule CompileTime(TimeDocument time, Context context)
    {
        if (time.Field is null)
        {
            if (!time.Optional || time.Format is not null || time.TimeOfDayField is not null)
            {
                throw new FormatException("time.field is required unless the time is { \"optional\": true } alone (readings then take the receive time)");
            }

            return new TimeRule { Optional = true };
        }

        var format = time.Format switch
        {
            "epoch-s" => TimeFormat.EpochSeconds,
            "epoch-ms" => TimeFormat.EpochMilliseconds,
            "iso-8601" => TimeFormat.Iso8601,
            "local" => TimeFormat.Local,
            _ => throw new FormatException($"time.format is '{time.Format}', expected epoch-s, epoch-ms, iso-8601 or local"),
        };

        if (format != TimeFormat.Local && (time.Zone is not null || time.ZoneField is not null || time.Pattern is not null || time.TimeOfDayField is not null))
        {
            throw new FormatException("time.zone, time.zoneField, time.pattern and time.timeOfDayField are for format \"local\" only");
        }

        TimeZoneInfo? zone = null;
        if (format == TimeFormat.Local)
        {
            if ((time.Zone is null) == (time.ZoneField is null))
            {
                throw new FormatException("a local time needs exactly one of time.zone (an IANA zone such as \"Europe/Paris\") or time.zoneField");
            }

            if (time.Zone is { } id)
            {
                zone = TimeZones.Find(id) ?? throw new FormatException($"time.zone '{id}' is not an IANA time zone");
            }

            if (time.Pattern is { } pattern)
            {
                try
                {
                    _ = new DateTime(2026, 1, 15, 8, 30, 0, DateTimeKind.Unspecified).ToString(pattern, CultureInfo.InvariantCulture);
                }
                catch (FormatException)
                {
                    throw new FormatException($"time.pattern '{pattern}' is not a .NET date and time format");
                }
            }
        }

        return new TimeRule
        {
            Field = CompileField(time.Field.Value, "time.field", context),
            TimeOfDayField = time.TimeOfDayField is { } timeOfDay ? CompileField(timeOfDay, "time.timeOfDayField", context) : null,
            Format = format,
            Pattern = time.Pattern,
            Zone = zone,
            ZoneField = time.ZoneField is { } zoneField ? CompileField(zoneField, "time.zoneField", context) : null,
            Optional = time.Optional,
        };
    }

    private static SkipRule CompileSkip(SkipDocument skip, string where, Context context) => new()
    {
        Field = CompileField(skip.Field ?? throw new FormatException($"{where}.field is required"), where + ".field", context),
        Values = skip.In is { Count: > 0 } values
            ? new HashSet<string>(values, StringComparer.OrdinalIgnoreCase)
            : throw new FormatException($"{where}.in must list the values that make a record skipped"),
    };

    private static QualifierRule CompileQualifier(string key, QualifierDocument qualifier, Context context)
    {
        if ((qualifier.Field is null) == (qualifier.Value is null))
        {
            throw new FormatException($"qualifiers.{key} needs exactly one of field or value");
        }

        if (qualifier.Map is not null && qualifier.Field is null)
        {
            throw new FormatException($"qualifiers.{key}.map translates a field: it needs field");
        }

        return new QualifierRule
        {
            Key = key,
            Field = qualifier.Field is { } field ? CompileField(field, $"qualifiers.{key}.field", context) : null,
            Value = qualifier.Value,
            Map = qualifier.Map is null ? null : new Dictionary<string, string>(qualifier.Map, StringComparer.OrdinalIgnoreCase),
        };
    }

    private static ValueRule CompileValue(ValueDocument value, string where, Context context)
    {
        JsonSelector? items = null;
        if (value.Items is { } itemsText)
        {
            if (context.Format != PayloadFormat.Json)
            {
                throw new FormatException($"{where}.items is for JSON profiles");
            }

            items = ParseSelector(itemsText, where + ".items");
            if (items.Anchor != SelectorAnchor.Current || items.WildcardCount == 0)
            {
                throw new FormatException($"{where}.items '{itemsText}' must be relative to the record and contain [*]");
            }
        }

        var itemContext = items is null ? context : context with { ParentLevels = context.ParentLevels + 1 };
        if (value.Measure is not null == value.MeasureField is not null)
        {
            throw new FormatException($"{where} needs exactly one of measure (a catalogue key) or measureField with measureMap");
        }

        string? unit = null;
        var unitFactor = 1.0;
        if (value.Unit is { } unitText)
        {
            if (value.UnitField is not null)
            {
                throw new FormatException($"{where} has both unit and unitField");
            }

            if (!context.Units.TryResolve(unitText, out unit, out unitFactor))
            {
                throw new FormatException($"{where}.unit '{unitText}' is neither a UCUM unit TeleSuivi converts nor an alias of \"units\"");
            }
        }

        MeasureTarget? fixedTarget = null;
        Dictionary<long, MeasureTarget>? numericMap = null;
        Dictionary<string, MeasureTarget>? textMap = null;
        if (value.Measure is { } measure)
        {
            if (value.MeasureMap is not null)
            {
                throw new FormatException($"{where}.measureMap needs measureField, not measure");
            }

            fixedTarget = new MeasureTarget { Measure = measure, Unit = unit, UnitFactor = unitFactor };
            CheckTarget(fixedTarget, value.UnitField is not null, where);
        }
        else
        {
            if (value.MeasureMap is not { Count: > 0 } map)
            {
                throw new FormatException($"{where}.measureField needs a measureMap from the field's values to measures");
            }

            numericMap = [];
            textMap = new Dictionary<string, MeasureTarget>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, entry) in map)
            {
                var target = CompileEntry(entry, unit, unitFactor, value.UnitField is not null, context, $"{where}.measureMap.{key}");
                textMap[key] = target;
                if (long.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                {
                    numericMap[number] = target;
                }
            }
        }

        if (value.Scale is { } scale && (!double.IsFinite(scale) || scale == 0))
        {
            throw new FormatException($"{where}.scale must be a non-zero number");
        }

        return new ValueRule
        {
            Items = items,
            Field = CompileField(value.Field ?? throw new FormatException($"{where}.field (where the number is) is required"), where + ".field", itemContext),
            Fixed = fixedTarget,
            MeasureField = value.MeasureField is { } measureField ? CompileField(measureField, where + ".measureField", itemContext) : null,
            NumericMap = numericMap,
            TextMap = textMap,
            UnitField = value.UnitField is { } unitField ? CompileField(unitField, where + ".unitField", itemContext) : null,
            Scale = value.Scale ?? 1,
            ExponentField = value.ExponentField is { } exponent ? CompileField(exponent, where + ".exponentField", itemContext) : null,
            Offset = value.Offset ?? 0,
            ValueMap = value.ValueMap is null ? null : new Dictionary<string, double>(value.ValueMap, StringComparer.OrdinalIgnoreCase),
            NoDataValues = value.NoDataValues is null ? null : [.. value.NoDataValues],
            Optional = value.Optional,
        };
    }

    private static MeasureTarget CompileEntry(MeasureMapEntryDocument entry, string? unit, double unitFactor, bool unitFromField, Context context, string where)
    {
        if (entry.Ignore)
        {
            if (entry.Measure is not null || entry.Unit is not null)
            {
                throw new FormatException($"{where}: an ignored entry has no measure or unit");
            }

            return new MeasureTarget { Measure = string.Empty, Ignore = true };
        }

        if (entry.Measure is null)
        {
            throw new FormatException($"{where}: give a measure, or \"ignore\": true for a value the platform deliberately does not record");
        }

        if (entry.Unit is { } entryUnit)
        {
            if (!context.Units.TryResolve(entryUnit, out unit, out unitFactor))
            {
                throw new FormatException($"{where}.unit '{entryUnit}' is neither a UCUM unit TeleSuivi converts nor an alias of \"units\"");
            }
        }

        var target = new MeasureTarget
        {
            Measure = entry.Measure,
            Unit = unit,
            UnitFactor = unitFactor,
            Scale = entry.Scale ?? 1,
            Offset = entry.Offset ?? 0,
        };
        CheckTarget(target, unitFromField && entry.Unit is null, where);
        return target;
    }

    private static void CheckTarget(MeasureTarget target, bool unitFromField, string where)
    {
        if (!MeasureCatalog.TryGet(target.Measure, out var definition))
        {
            throw new FormatException($"{where}: '{target.Measure}' is not a measure of the catalogue");
        }

        if (definition.IsPanel)
        {
            throw new FormatException($"{where}: '{target.Measure}' is a panel; map its components ({string.Join(", ", definition.Components)}) and they are grouped into one panel per record");
        }

        if (definition.Kind != MeasureValueKind.Quantity)
        {
            return;
        }

        if (target.Unit is null)
        {
            if (!unitFromField)
            {
                throw new FormatException($"{where}: '{target.Measure}' needs a unit (\"unit\" or \"unitField\"); its canonical unit is '{definition.Unit}'");
            }

            return;
        }

        if (!UnitConverter.TryGetConversion(target.Unit, definition.Unit, definition.MolarMass, out _, out var error))
        {
            throw new FormatException($"{where}: {target.Measure}: {error}");
        }
    }

    private static FieldRef CompileField(JsonElement field, string where, Context context)
    {
        if (context.Format == PayloadFormat.Csv)
        {
            return field.ValueKind switch
            {
                JsonValueKind.Number when field.TryGetInt32(out var number) && number >= 1 =>
                    new FieldRef { Text = "column " + number.ToString(CultureInfo.InvariantCulture), ColumnIndex = number - 1 },
                JsonValueKind.String when field.GetString() is { Length: > 0 } name =>
                    context.HasHeader
                        ? new FieldRef { Text = $"column '{name}'", ColumnName = name }
                        : throw new FormatException($"{where}: column '{name}' is a header name, but csv.header is false: use the column number (from 1)"),
                _ => throw new FormatException($"{where}: a CSV field is a column number (from 1) or a header name"),
            };
        }

        if (field.ValueKind != JsonValueKind.String || field.GetString() is not { Length: > 0 } text)
        {
            throw new FormatException($"{where}: a JSON field is a selector string such as \"date\", \"$.device.serial\" or \"^.start\"");
        }

        var selector = ParseSelector(text, where);
        if (selector.WildcardCount > 0)
        {
            throw new FormatException($"{where}: '{text}' has [*]; a field designates one value (use \"items\" to read a list)");
        }

        if (selector.Anchor == SelectorAnchor.Parent && selector.ParentLevel > context.ParentLevels)
        {
            throw new FormatException($"{where}: '{text}' goes up {selector.ParentLevel} level(s) but only {context.ParentLevels} enclosing element(s) exist here");
        }

        return new FieldRef { Text = text, Json = selector };
    }

    private static JsonSelector ParseSelector(string text, string where)
    {
        try
        {
            return JsonSelector.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{where}: {ex.Message}", ex);
        }
    }

    /// <param name="ParentLevels">How many enclosing elements <c>^</c> can reach: those of the record, plus the record itself inside items.</param>
    private sealed record Context(PayloadFormat Format, int ParentLevels, UnitAliases Units)
    {
        public bool HasHeader { get; init; }
    }
}
