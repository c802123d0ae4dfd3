using System.Globalization;
using System.Text;
using System.Text.Json;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// Decodes the payloads of one manufacturer by following its compiled profile: select the records (JSON elements or
/// CSV lines), read time, qualifiers and values from each, and group the components of a panel (systolic +
/// diastolic of one record) into one reading. Every failure names the manufacturer and the exact place in the payload.
/// </summary>
internal sealed class ProfileDecoder(CompiledProfile profile) : IPayloadDecoder
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>CSV columns named by header, checked against each payload's header line.</summary>
    private readonly FieldRef[] namedColumns = NamedColumnsOf(profile);

    /// <summary>The profile's local-time pattern when it is fixed-width numeric fields: read without the general parser.</summary>
    private readonly LocalTimePattern? localPattern = LocalTimePattern.TryCompile(profile.Time.Pattern);

    /// <summary>
    /// The unit texts last resolved, per measure: a payload names the same few units record after record. Entries are
    /// immutable and replaced round-robin; a racing thread can only miss or find another correct entry.
    /// </summary>
    private readonly UnitResolution?[] resolvedUnits = new UnitResolution?[4];
    private int nextResolvedUnit;

    /// <summary>Whether a value rule reads items inside a record (Withings' measures[*]), which need a list to select into.</summary>
    private readonly bool hasItemRules = profile.Values.Any(rule => rule.Items is not null);

    public string Name => profile.Manufacturer;

    public DecodeOutcome Decode(ReadOnlyMemory<byte> payload, DecodeContext context)
    {
        if (payload.IsEmpty)
        {
            return Fail("the payload is empty");
        }

        try
        {
            return profile.Format == PayloadFormat.Json ? DecodeJson(payload) : DecodeCsv(payload.Span);
        }
        catch (DecodeException ex)
        {
            return Fail(ex.Message);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException or OverflowException)
        {
            // A payload must never take the ingest worker down: anything unforeseen is a rejected payload too.
            return Fail($"unreadable payload: {ex.Message}");
        }
    }

    private DecodeOutcome Fail(string reason) => DecodeOutcome.Failure($"{profile.Manufacturer}: {reason}");

    private DecodeOutcome DecodeJson(ReadOnlyMemory<byte> payload)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, DocumentOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is null or 0
                ? $"byte {ex.BytePositionInLine}"
                : $"line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}";
            return Fail($"invalid JSON at {where}: {ShortMessage(ex.Message)}");
        }

        using (document)
        {
            var root = document.RootElement;
            var records = new List<JsonMatch>();
            if (profile.Records!.Select(root, records) is { } missing)
            {
                return Fail($"{(missing.Length == 0 ? "the root" : missing)} is missing");
            }

            var readings = new List<DecodedReading>(records.Count);
            var values = new List<DecodedValue>();
            var items = hasItemRules ? new List<JsonMatch>() : null;
            var skipped = 0;
            foreach (var record in records)
            {
                var scope = Scope.ForRecord(root, record);
                if (!ReadRecord(scope, values, items, readings))
                {
                    skipped++;
                }
            }

            return Finish(readings, skipped);
        }
    }

    private DecodeOutcome DecodeCsv(ReadOnlySpan<byte> payload)
    {
        var csv = profile.Csv!;
        if (payload.StartsWith("\uFEFF"u8))
        {
            payload = payload[3..];
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(payload);
        }
        catch (DecoderFallbackException ex)
        {
            return Fail($"the CSV payload is not UTF-8 at byte {ex.Index}");
        }

        // Lines are cut from the text as spans: only the cells become strings.
        var rest = text.AsSpan();
        Dictionary<string, int>? header = null;
        var expected = csv.Columns;
        var readings = new List<DecodedReading>(rest.Count('\n') + 1);
        var values = new List<DecodedValue>();
        var skipped = 0;
        for (var i = 0; ; i++)
        {
            var end = rest.IndexOf('\n');
            var line = (end < 0 ? rest : rest[..end]).TrimEnd('\r');
            rest = end < 0 ? [] : rest[(end + 1)..];
            if (i >= csv.SkipLines
                && !line.IsWhiteSpace() && !(csv.Comment is { } comment && line.StartsWith(comment, StringComparison.Ordinal)))
            {
                var cells = CsvLine.Split(line, csv.Delimiter);
                if (csv.Header && header is null)
                {
                    header = ReadHeader(cells);
                    expected ??= cells.Length;
                }
                else if (cells.Length != expected)
                {
                    return Fail($"CSV line {i + 1} has {cells.Length} columns, expected {expected}");
                }
                else if (!ReadRecord(Scope.ForLine(cells, i + 1, header), values, items: null, readings))
                {
                    skipped++;
                }
            }

            if (end < 0)
            {
                break;
            }
        }

        if (csv.Header && header is null)
        {
            return Fail("the CSV payload has no header line");
        }

        return Finish(readings, skipped);
    }

    private DecodeOutcome Finish(List<DecodedReading> readings, int skipped)
    {
        if (readings.Count == 0 && !profile.AllowEmpty)
        {
            return Fail(skipped == 0
                ? "the payload has no reading"
                : $"the payload has no reading ({skipped} record(s) skipped by the profile's skip rules)");
        }

        return DecodeOutcome.Success(readings);
    }

    private Dictionary<string, int> ReadHeader(string[] cells)
    {
        var header = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < cells.Length; i++)
        {
            header.TryAdd(cells[i], i);
        }

        foreach (var field in namedColumns)
        {
            if (!header.ContainsKey(field.ColumnName!))
            {
                throw new DecodeException($"the CSV header has no column '{field.ColumnName}' (it has: {string.Join(", ", cells)})");
            }
        }

        return header;
    }

    private static FieldRef[] NamedColumnsOf(CompiledProfile profile)
    {
        IEnumerable<FieldRef?> fields =
        [
            profile.Time.Field, profile.Time.TimeOfDayField, profile.Time.ZoneField,
            .. profile.Skip.Select(s => s.Field),
            .. profile.Qualifiers.Select(q => q.Field),
            .. profile.Values.SelectMany(v => new[] { v.Field, v.MeasureField, v.UnitField, v.ExponentField }),
        ];
        return [.. fields.Where(f => f?.ColumnName is not null).Select(f => f!)];
    }

    /// <summary>Reads one record into readings; false when a skip rule says the record is not a measurement.</summary>
    /// <param name="items">A list to select items into, reused from record to record of one payload; null for CSV.</param>
    private bool ReadRecord(in Scope scope, List<DecodedValue> values, List<JsonMatch>? items, List<DecodedReading> readings)
    {
        foreach (var skip in profile.Skip)
        {
            if (TryRead(skip.Field, scope, out var raw) && skip.Values.Contains(TextOf(raw)))
            {
                return false;
            }
        }

        var time = ReadTime(scope);
        var qualifiers = ReadQualifiers(scope);
        values.Clear();
        foreach (var rule in profile.Values)
        {
            if (rule.Items is null)
            {
                ReadValue(rule, scope, values);
                continue;
            }

            items ??= [];
            items.Clear();
            if (rule.Items.Select(scope.Element, items) is { } missing)
            {
                if (rule.Optional)
                {
                    continue;
                }

                throw new DecodeException($"{Join(Location(scope), missing)} is missing");
            }

            foreach (var item in items)
            {
                ReadValue(rule, scope.ForItem(rule.Items, item), values);
            }
        }

        Group(scope, time, qualifiers, values, readings);
        return true;
    }

    /// <summary>Components of one panel in one record become one reading; every other value is a reading of its own.</summary>
    private void Group(in Scope scope, DateTimeOffset? time, IReadOnlyDictionary<string, string>? qualifiers, List<DecodedValue> values, List<DecodedReading> readings)
    {
        var first = readings.Count;
        foreach (var value in values)
        {
            if (MeasureCatalog.TryGetPanelOf(value.Measure, out var panel))
            {
                var existing = FindReading(readings, first, panel);
                if (existing is null)
                {
                    readings.Add(new DecodedReading(panel, time, new List<DecodedValue>(3) { value }) { Qualifiers = qualifiers });
                }
                else
                {
                    ((List<DecodedValue>)existing.Values).Add(value);
                }

                continue;
            }

            if (FindReading(readings, first, value.Measure) is not null)
            {
                throw new DecodeException($"{DescribeRecord(scope)} has {value.Measure} twice");
            }

            readings.Add(new DecodedReading(value.Measure, time, [value]) { Qualifiers = qualifiers });
        }
    }

    private static DecodedReading? FindReading(List<DecodedReading> readings, int first, string measure)
    {
        for (var i = first; i < readings.Count; i++)
        {
            if (string.Equals(readings[i].Measure, measure, StringComparison.Ordinal))
            {
                return readings[i];
            }
        }

        return null;
    }

    private void ReadValue(ValueRule rule, in Scope scope, List<DecodedValue> values)
    {
        MeasureTarget target;
        if (rule.Fixed is { } fixedTarget)
        {
            target = fixedTarget;
        }
        else
        {
            if (!TryRead(rule.MeasureField!, scope, out var key))
            {
                throw new DecodeException($"{Describe(rule.MeasureField!, scope)} is missing");
            }

            if (!TryMap(rule, key, out target))
            {
                throw new DecodeException($"{Describe(rule.MeasureField!, scope)} {Quote(key)} is not mapped");
            }

            if (target.Ignore)
            {
                return;
            }
        }

        if (!TryRead(rule.Field, scope, out var raw))
        {
            if (rule.Optional)
            {
                return;
            }

            throw new DecodeException($"{Describe(rule.Field, scope)} is missing");
        }

        var number = ToNumber(raw, rule.ValueMap, rule.Field, scope);
        if (rule.NoDataValues is { } noData && noData.Contains(number))
        {
            return;
        }

        number = ProfileArithmetic.Scale(number, rule.Scale);
        if (rule.ExponentField is { } exponentField)
        {
            number = ProfileArithmetic.ScaleByPowerOfTen(number, ReadExponent(exponentField, scope));
        }

        number = ProfileArithmetic.Scale(number, target.Scale) + rule.Offset + target.Offset;
        var definition = MeasureCatalog.Get(target.Measure);
        var unit = target.Unit;
        var factor = target.UnitFactor;
        if (unit is null && rule.UnitField is { } unitField)
        {
            if (!TryRead(unitField, scope, out var unitRaw))
            {
                throw new DecodeException($"{Describe(unitField, scope)} is missing");
            }

            var unitText = TextOf(unitRaw);
            if (FindResolvedUnit(unitText, definition) is { } known)
            {
                (unit, factor) = (known.Unit, known.Factor);
            }
            else
            {
                if (!profile.Units.TryResolve(unitText, out unit, out factor))
                {
                    throw new DecodeException($"{Describe(unitField, scope)} '{unitText}' is neither a UCUM unit TeleSuivi converts nor an alias of the profile");
                }

                if (definition.Kind == MeasureValueKind.Quantity
                    && !UnitConverter.TryGetConversion(unit, definition.Unit, definition.MolarMass, out _, out var error))
                {
                    throw new DecodeException($"{Describe(unitField, scope)}: {target.Measure}: {error}");
                }

                // Only a unit that resolved and converts is remembered: the answer depends on nothing else.
                resolvedUnits[(nextResolvedUnit++ & int.MaxValue) % resolvedUnits.Length] = new UnitResolution(unitText, definition, unit, factor);
            }
        }

        values.Add(new DecodedValue(target.Measure, ProfileArithmetic.Scale(number, factor), unit ?? definition.Unit));
    }

    private UnitResolution? FindResolvedUnit(string text, MeasureDefinition definition)
    {
        foreach (var entry in resolvedUnits)
        {
            if (entry is not null && ReferenceEquals(entry.Definition, definition) && string.Equals(entry.Text, text, StringComparison.Ordinal))
            {
                return entry;
            }
        }

        return null;
    }

    private static bool TryMap(ValueRule rule, in Raw key, out MeasureTarget target)
    {
        if (key.Kind == JsonValueKind.Number && key.Number == Math.Floor(key.Number) && Math.Abs(key.Number) < 1e15)
        {
            return rule.NumericMap!.TryGetValue((long)key.Number, out target!);
        }

        return rule.TextMap!.TryGetValue(TextOf(key), out target!);
    }

    private int ReadExponent(FieldRef field, in Scope scope)
    {
        if (!TryRead(field, scope, out var raw))
        {
            throw new DecodeException($"{Describe(field, scope)} is missing");
        }

        var exponent = ToNumber(raw, null, field, scope);
        if (exponent != Math.Floor(exponent) || Math.Abs(exponent) > 30)
        {
            throw new DecodeException($"{Describe(field, scope)} {Quote(raw)} is not a power of ten");
        }

        return (int)exponent;
    }

    private DateTimeOffset? ReadTime(in Scope scope)
    {
        var rule = profile.Time;
        if (rule.Field is null)
        {
            return null;
        }

        if (!TryRead(rule.Field, scope, out var raw))
        {
            return rule.Optional ? null : throw new DecodeException($"{Describe(rule.Field, scope)} is missing");
        }

        switch (rule.Format)
        {
            case TimeFormat.EpochSeconds:
            case TimeFormat.EpochMilliseconds:
                var number = ToNumber(raw, null, rule.Field, scope);
                var milliseconds = rule.Format == TimeFormat.EpochSeconds ? number * 1000 : number;
                if (!(Math.Abs(milliseconds) < 253_402_300_799_000))
                {
                    throw new DecodeException($"{Describe(rule.Field, scope)} {Quote(raw)} is not an epoch time in {(rule.Format == TimeFormat.EpochSeconds ? "seconds" : "milliseconds")}");
                }

                return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(milliseconds));

            case TimeFormat.Iso8601:
                if (raw.Kind == JsonValueKind.String && Iso8601.TryParseCanonical(raw.Text!, out var canonical))
                {
                    return canonical;
                }

                var text = TextOf(raw);
                if (raw.Kind != JsonValueKind.String
                    || !DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed)
                    || parsed.Kind == DateTimeKind.Unspecified
                    || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var withOffset))
                {
                    throw new DecodeException($"{Describe(rule.Field, scope)} {Quote(raw)} is not an ISO-8601 time with a UTC offset");
                }

                return withOffset;

            default:
                return ReadLocalTime(rule, raw, scope);
        }
    }

    private DateTimeOffset ReadLocalTime(TimeRule rule, in Raw raw, in Scope scope)
    {
        var text = TextOf(raw);
        if (rule.TimeOfDayField is { } timeOfDayField)
        {
            if (!TryRead(timeOfDayField, scope, out var timeOfDay))
            {
                throw new DecodeException($"{Describe(timeOfDayField, scope)} is missing");
            }

            text = text + " " + TextOf(timeOfDay);
        }

        var local = default(DateTime);
        var parsedOk = localPattern is not null && localPattern.TryParse(text, out local);
        if (!parsedOk)
        {
            parsedOk = rule.Pattern is { } pattern
                ? DateTime.TryParseExact(text, pattern, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out local)
                : DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out local);
        }

        if (!parsedOk)
        {
            var expected = rule.Pattern is null ? "a local date and time" : $"a local time of pattern '{rule.Pattern}'";
            throw new DecodeException($"{Describe(rule.Field!, scope)} '{text}' is not {expected}");
        }

        if (local.Kind != DateTimeKind.Unspecified)
        {
            throw new DecodeException($"{Describe(rule.Field!, scope)} '{text}' has a UTC offset: the profile's time format should be iso-8601");
        }

        var zone = rule.Zone;
        if (zone is null)
        {
            var zoneField = rule.ZoneField!;
            if (!TryRead(zoneField, scope, out var zoneRaw))
            {
                throw new DecodeException($"{Describe(zoneField, scope)} is missing");
            }

            zone = TimeZones.Find(TextOf(zoneRaw))
                ?? throw new DecodeException($"{Describe(zoneField, scope)} {Quote(zoneRaw)} is not an IANA time zone");
        }

        if (zone.IsInvalidTime(local))
        {
            throw new DecodeException(FormattableString.Invariant(
                $"{Describe(rule.Field!, scope)} local time {local:yyyy-MM-dd HH:mm:ss} does not exist in {zone.Id} (clocks go forward then)"));
        }

        // In the hour repeated when clocks go back, take the first occurrence (the larger offset): a device that
        // measures at 02:30 local after the change is rare, one that stamps the first pass is not.
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }

    private Dictionary<string, string>? ReadQualifiers(in Scope scope)
    {
        if (profile.Qualifiers.Count == 0)
        {
            return null;
        }

        Dictionary<string, string>? qualifiers = null;
        foreach (var rule in profile.Qualifiers)
        {
            string? value;
            if (rule.Field is null)
            {
                value = rule.Value;
            }
            else if (!TryRead(rule.Field, scope, out var raw))
            {
                continue;
            }
            else
            {
                value = TextOf(raw);
                if (rule.Map is { } map)
                {
                    value = map.TryGetValue(value, out var mapped)
                        ? mapped
                        : throw new DecodeException($"{Describe(rule.Field, scope)} '{value}' is not mapped for {rule.Key}");
                }
            }

            if (value is not null)
            {
                qualifiers ??= new Dictionary<string, string>(StringComparer.Ordinal);
                qualifiers[rule.Key] = value;
            }
        }

        return qualifiers;
    }

    private bool TryRead(FieldRef field, in Scope scope, out Raw raw)
    {
        if (scope.Cells is { } cells)
        {
            var index = field.ColumnIndex >= 0 ? field.ColumnIndex : scope.Header![field.ColumnName!];
            var cell = cells[index];
            raw = new Raw(JsonValueKind.String, 0, cell);
            return cell.Length > 0;
        }

        var selector = field.Json!;
        var start = selector.Anchor switch
        {
            SelectorAnchor.Root => scope.Root,
            SelectorAnchor.Parent => scope.Parent(selector.ParentLevel, profile.Records!),
            _ => scope.Element,
        };

        if (!selector.TryGet(start, out var element))
        {
            raw = default;
            return false;
        }

        raw = element.ValueKind switch
        {
            JsonValueKind.Number => element.TryGetDouble(out var number) && double.IsFinite(number)
                ? new Raw(JsonValueKind.Number, number, null)
                : new Raw(JsonValueKind.String, 0, element.GetRawText()),
            JsonValueKind.String => new Raw(JsonValueKind.String, 0, element.GetString()),
            JsonValueKind.True => new Raw(JsonValueKind.True, 1, null),
            JsonValueKind.False => new Raw(JsonValueKind.False, 0, null),
            _ => new Raw(element.ValueKind, 0, element.GetRawText()),
        };
        return !(raw.Kind == JsonValueKind.String && raw.Text!.Length == 0);
    }

    private double ToNumber(in Raw raw, Dictionary<string, double>? valueMap, FieldRef field, in Scope scope)
    {
        if (valueMap is not null && valueMap.TryGetValue(TextOf(raw), out var mapped))
        {
            return mapped;
        }

        switch (raw.Kind)
        {
            case JsonValueKind.Number:
            case JsonValueKind.True:
            case JsonValueKind.False:
                return raw.Number;
            case JsonValueKind.String:
                if (TryParseNumber(raw.Text!, scope.Cells is not null && profile.Csv is { DecimalSeparator: ',' }, out var number))
                {
                    return number;
                }

                break;
        }

        var hint = valueMap is null ? string.Empty : $" nor one of {string.Join(", ", valueMap.Keys)}";
        throw new DecodeException($"{Describe(field, scope)} {Quote(raw)} is not a number{hint}");
    }

    private static bool TryParseNumber(string text, bool decimalComma, out double number)
    {
        scoped var span = text.AsSpan().Trim();
        Span<char> buffer = stackalloc char[64];
        if (decimalComma && span.Length <= buffer.Length)
        {
            span.CopyTo(buffer);
            buffer[..span.Length].Replace(',', '.');
            span = buffer[..span.Length];
        }

        return double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out number) && double.IsFinite(number);
    }

    private static string TextOf(in Raw raw) => raw.Kind switch
    {
        JsonValueKind.Number => raw.Number.ToString("R", CultureInfo.InvariantCulture),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => raw.Text ?? string.Empty,
    };

    private static string Quote(in Raw raw) => raw.Kind == JsonValueKind.String ? $"'{raw.Text}'" : TextOf(raw);

    private string Describe(FieldRef field, in Scope scope)
    {
        if (scope.Cells is not null)
        {
            return $"CSV line {scope.Line}, {field.Text}";
        }

        return field.Json!.Anchor switch
        {
            SelectorAnchor.Root => field.Text,
            SelectorAnchor.Parent => $"{field.Text} (enclosing {Location(scope)})",
            _ => Join(Location(scope), field.Text == "@" ? string.Empty : field.Text),
        };
    }

    private string DescribeRecord(in Scope scope) =>
        scope.Cells is not null ? $"CSV line {scope.Line}" : Location(scope) is { Length: > 0 } location ? location : "the payload";

    private string Location(in Scope scope)
    {
        var builder = new StringBuilder();
        profile.Records!.AppendLocation(builder, scope.Record.Indices);
        if (scope.ItemSelector is { } items)
        {
            if (builder.Length == 0)
            {
                builder.Append('@');
            }

            items.AppendLocation(builder, scope.Item.Indices);
        }

        return builder.ToString();
    }

    private static string Join(string location, string path) =>
        location.Length == 0 ? path : path.Length == 0 ? location : path[0] == '[' ? location + path : location + "." + path;

    private static string ShortMessage(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut < 0 ? message : message[..cut]).TrimEnd(' ', '.');
    }

    /// <summary>A unit text of a payload resolved to UCUM with its factor, and checked convertible for one measure.</summary>
    private sealed record UnitResolution(string Text, MeasureDefinition Definition, string Unit, double Factor);

    /// <summary>A value as read from the payload, before any profile rule.</summary>
    private readonly record struct Raw(JsonValueKind Kind, double Number, string? Text);

    /// <summary>What fields are read from: a JSON record (or an item inside it) with its enclosing elements, or a CSV line.</summary>
    private readonly struct Scope
    {
        public JsonElement Element { get; private init; }

        public JsonElement Root { get; private init; }

        public JsonMatch Record { get; private init; }

        public JsonSelector? ItemSelector { get; private init; }

        public JsonMatch Item { get; private init; }

        public string[]? Cells { get; private init; }

        public int Line { get; private init; }

        public Dictionary<string, int>? Header { get; private init; }

        public static Scope ForRecord(JsonElement root, JsonMatch record) => new() { Element = record.Element, Root = root, Record = record };

        public static Scope ForLine(string[] cells, int line, Dictionary<string, int>? header) => new() { Cells = cells, Line = line, Header = header };

        public Scope ForItem(JsonSelector selector, JsonMatch item) => this with { Element = item.Element, ItemSelector = selector, Item = item };

        /// <summary>The element <paramref name="level"/> steps out: inside an item the record comes first, then the record's enclosing elements.</summary>
        public JsonElement Parent(int level, JsonSelector records)
        {
            if (ItemSelector is not null)
            {
                if (level == 1)
                {
                    return Record.Element;
                }

                level--;
            }

            var enclosing = records.EnclosingLevels;
            return level <= enclosing
                ? Record.Chain[enclosing - level]
                : throw new DecodeException($"'^' goes up {level} level(s) beyond the payload root");
        }
    }

    private sealed class DecodeException(string message) : Exception(message);
}
