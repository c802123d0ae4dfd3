using System.Collections.Concurrent;
using System.Globalization;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Devices.Profiles;

/// <summary>A value as written in a payload: a JSON number, or text (a JSON string, a CSV cell).</summary>
internal readonly record struct RawValue(decimal? Number, string? Text)
{
    public static RawValue Of(decimal number) => new(number, null);

    public static RawValue Of(string text) => new(null, text);

    /// <summary>The text the decoder compares with skip values, maps and qualifier maps (its TextOf).</summary>
    public string DecoderText => Number is { } number ? EncoderMath.ToDouble(number).ToString("R", CultureInfo.InvariantCulture) : Text!;

    public override string ToString() => Number is { } number ? number.ToString(CultureInfo.InvariantCulture) : $"'{Text}'";
}

/// <summary>Where a field is written, relative to what: the item, the record, an enclosing element (by wildcard), or the root.</summary>
internal enum SlotScope
{
    Item,
    Record,
    Enclosing,
    Root,
}

/// <param name="Chain">For <see cref="SlotScope.Enclosing"/>: the wildcard of <c>records</c> whose element holds the field, outermost 0.</param>
/// <param name="Key">Equal keys in one scope are the same value (a JSON path, or a CSV column).</param>
/// <param name="Steps">JSON: the path from the scope's element; null for CSV.</param>
internal sealed record FieldSlot(SlotScope Scope, int Chain, string Key, PathStep[]? Steps, string Text);

/// <summary>The values written in one element (a record, an item, an enclosing element, the root), in writing order.</summary>
internal sealed class FieldValues
{
    private readonly List<(FieldSlot Slot, RawValue Value)> entries = [];

    public IReadOnlyList<(FieldSlot Slot, RawValue Value)> Entries => entries;

    public bool TryGet(FieldSlot slot, out RawValue value)
    {
        foreach (var (existing, raw) in entries)
        {
            if (string.Equals(existing.Key, slot.Key, StringComparison.Ordinal))
            {
                value = raw;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>False when the field already holds another value.</summary>
    public bool TryAssign(FieldSlot slot, RawValue value, out RawValue existing)
    {
        if (TryGet(slot, out existing))
        {
            return existing == value;
        }

        entries.Add((slot, value));
        return true;
    }

    /// <summary>Same fields with the same values, in any order: elements that can be shared.</summary>
    public bool SameAs(FieldValues other) =>
        entries.Count == other.entries.Count && entries.All(e => other.TryGet(e.Slot, out var value) && value == e.Value);
}

/// <summary>One record as it will be written, with what the decoder must read back from it.</summary>
internal sealed class RecordPlan(int wildcards)
{
    public FieldValues Record { get; } = new();

    public FieldValues Root { get; } = new();

    /// <summary>Per wildcard of <c>records</c>, outermost first: the values of the enclosing element at that level.</summary>
    public FieldValues[] Enclosing { get; } = [.. Enumerable.Range(0, wildcards).Select(_ => new FieldValues())];

    /// <summary>Items per value rule index, in rule order.</summary>
    public SortedDictionary<int, List<FieldValues>> Items { get; } = [];

    /// <summary>Value rules whose items array must exist although it is empty (a rule that is not optional).</summary>
    public List<int> EmptyItems { get; } = [];

    public DateTimeOffset? Time { get; set; }

    public Dictionary<string, string>? Qualifiers { get; set; }

    /// <summary>The values the decoder reads, in its order (rules in order, items in order), in the profile's unit.</summary>
    public List<DecodedValue> Values { get; } = [];

    public FieldValues In(FieldSlot slot, FieldValues? item) => slot.Scope switch
    {
        SlotScope.Item => item!,
        SlotScope.Record => Record,
        SlotScope.Enclosing => Enclosing[slot.Chain],
        _ => Root,
    };

    /// <summary>The readings the decoder makes of this record: panel components grouped, every other value alone.</summary>
    public IEnumerable<DecodedReading> Readings()
    {
        var readings = new List<DecodedReading>();
        foreach (var value in Values)
        {
            if (MeasureCatalog.TryGetPanelOf(value.Measure, out var panel))
            {
                if (readings.Find(r => r.Measure == panel) is { } existing)
                {
                    ((List<DecodedValue>)existing.Values).Add(value);
                    continue;
                }

                readings.Add(new DecodedReading(panel, Time, new List<DecodedValue> { value }) { Qualifiers = Qualifiers });
                continue;
            }

            readings.Add(new DecodedReading(value.Measure, Time, [value]) { Qualifiers = Qualifiers });
        }

        return readings;
    }
}

/// <summary>A way to write a measure: the value rule, its target (fixed measure or map entry) and the map key.</summary>
internal sealed record Route(int Rule, MeasureTarget Target, string? Key)
{
    public string Measure => Target.Measure;
}

internal readonly record struct RecordEntry(Route Route, double Value);

/// <summary>What goes into one record: the reading's time and qualifiers, and the values with their routes.</summary>
internal sealed class RecordContent(DateTimeOffset time, IReadOnlyDictionary<string, string>? qualifiers)
{
    public DateTimeOffset Time => time;

    public IReadOnlyDictionary<string, string>? Qualifiers => qualifiers;

    public List<RecordEntry> Entries { get; } = [];

    public RecordContent With(IEnumerable<RecordEntry> more)
    {
        var copy = new RecordContent(time, qualifiers);
        copy.Entries.AddRange(Entries);
        copy.Entries.AddRange(more);
        return copy;
    }
}

/// <summary>
/// Picks among equivalent spellings (unit aliases, map keys, column orders). Without a random source it always
/// takes the first; with one, each choice point gets a stable pick from the seed, so rebuilding a record while
/// packing gives the same choices.
/// </summary>
internal sealed class Chooser(int seed, bool random)
{
    public static Chooser First { get; } = new(0, false);

    public int Seed => seed;

    public static Chooser From(Random? source) => source is null ? First : new Chooser(source.Next(), true);

    public Chooser For(int recordSeed) => random ? new Chooser(recordSeed, true) : this;

    /// <summary>The options starting at this point's pick, then the others in order (the fallbacks on a conflict).</summary>
    public IEnumerable<T> Order<T>(string point, IReadOnlyList<T> options)
    {
        var start = random && options.Count > 1 ? (int)(Hash(point) % (uint)options.Count) : 0;
        for (var i = 0; i < options.Count; i++)
        {
            yield return options[(start + i) % options.Count];
        }
    }

    public List<T> Shuffle<T>(string point, IReadOnlyList<T> options)
    {
        var list = options.ToList();
        if (!random)
        {
            return list;
        }

        var state = Hash(point);
        for (var i = list.Count - 1; i > 0; i--)
        {
            state = (state * 1_664_525) + 1_013_904_223;
            var j = (int)(state % (uint)(i + 1));
            (list[i], list[j]) = (list[j], list[i]);
        }

        return list;
    }

    private uint Hash(string point)
    {
        var hash = 2_166_136_261u ^ (uint)seed;
        foreach (var c in point)
        {
            hash = (hash ^ c) * 16_777_619;
        }

        return (hash ^ (hash >> 15)) * 2_246_822_519u;
    }
}

/// <summary>A decimal as a payload writes it, and as the decoder will read it back.</summary>
internal static class EncoderMath
{
    /// <summary>The double a JSON or CSV reader gets from the decimal's text.</summary>
    public static double ToDouble(decimal value) => double.Parse(value.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static string Format(decimal value, char decimalSeparator)
    {
        var text = value.ToString(CultureInfo.InvariantCulture);
        return decimalSeparator == '.' ? text : text.Replace('.', decimalSeparator);
    }
}

/// <summary>Where each field of a profile is written, resolved once.</summary>
internal sealed class EncoderFields
{
    private readonly CompiledProfile profile;
    private readonly int enclosingLevels;
    private readonly ConcurrentDictionary<(FieldRef, bool), FieldSlot> slots = new();

    public EncoderFields(CompiledProfile profile, int enclosingLevels)
    {
        this.profile = profile;
        this.enclosingLevels = enclosingLevels;
    }

    public static string ColumnKey(int index) => "#" + index.ToString(CultureInfo.InvariantCulture);

    public static string ColumnKey(string name) => "@" + name.ToUpperInvariant();

    /// <summary>Every field the profile reads (the CSV header must name all of them).</summary>
    public static IEnumerable<FieldRef> AllFields(CompiledProfile profile)
    {
        // In the order of a realistic export: time, the values, then how they were taken.
        IEnumerable<FieldRef?> fields =
        [
            profile.Time.Field, profile.Time.TimeOfDayField, profile.Time.ZoneField,
            .. profile.Values.SelectMany(v => new[] { v.MeasureField, v.Field, v.UnitField, v.ExponentField }),
            .. profile.Qualifiers.Select(q => q.Field),
            .. profile.Skip.Select(s => s.Field),
        ];
        return fields.Where(f => f is not null).Select(f => f!);
    }

    /// <param name="inItem">True for the fields of a value rule with items: they are relative to the item.</param>
    public FieldSlot Slot(FieldRef field, bool inItem)
    {
        if (slots.TryGetValue((field, inItem), out var slot))
        {
            return slot;
        }

        if (profile.Format == PayloadFormat.Csv)
        {
            slot = new FieldSlot(SlotScope.Record, 0, field.ColumnName is { } name ? ColumnKey(name) : ColumnKey(field.ColumnIndex), null, field.Text);
        }
        else
        {
            var path = WritePath.Parse(field.Text);
            var (scope, chain) = path.Anchor switch
            {
                SelectorAnchor.Root => (SlotScope.Root, 0),
                SelectorAnchor.Current => (inItem ? SlotScope.Item : SlotScope.Record, 0),
                _ when inItem && path.ParentLevel == 1 => (SlotScope.Record, 0),
                _ => (SlotScope.Enclosing, enclosingLevels - (path.ParentLevel - (inItem ? 1 : 0))),
            };
            slot = new FieldSlot(scope, chain, path.Key, path.Steps, field.Text);
        }

        slots[(field, inItem)] = slot;
        return slot;
    }
}

/// <summary>
/// Writes one record: its time, the qualifiers asked for, each value through its route (unit, scale, exponent,
/// offset, value map inverted), and what a rule that is not optional needs when the record has no value for it
/// (a no-data code, an ignored map key, an empty items array). Then checks that no skip rule drops the record and
/// derives the qualifiers the decoder will read.
/// </summary>
internal sealed class EncoderRecordWriter
{
    private const int MaxRawDecimals = 9;

    private readonly CompiledProfile profile;
    private readonly EncoderFields fields;
    private readonly EncoderTime time;
    private readonly int wildcards;
    private readonly ConcurrentDictionary<(int Rule, string Measure), IReadOnlyList<string>> unitNames = new();

    /// <param name="wildcards">The wildcards of <c>records</c>: one set of enclosing values per wildcard.</param>
    public EncoderRecordWriter(CompiledProfile profile, EncoderFields fields, EncoderTime time, int wildcards)
    {
        this.profile = profile;
        this.fields = fields;
        this.time = time;
        this.wildcards = wildcards;
    }

    private bool IsCsv => profile.Format == PayloadFormat.Csv;

    /// <summary>
    /// The record, or null with the <paramref name="conflict"/> that prevents it (two values wanting one field,
    /// a rule that needs a value this record does not have). Throws <see cref="ProfileEncodingException"/> when the
    /// reading itself cannot be written (a time or qualifier the format cannot carry, a no-data code).
    /// </summary>
    /// <param name="partial">While packing: rules without a value are not checked yet.</param>
    public RecordPlan? TryBuild(RecordContent content, EncodeOptions options, Chooser chooser, bool partial, out string? conflict)
    {
        var plan = new RecordPlan(wildcards);
        if (!WriteTime(plan, content.Time, options, out conflict))
        {
            return null;
        }

        for (var index = 0; index < profile.Values.Count; index++)
        {
            var rule = profile.Values[index];
            var entries = content.Entries.Where(e => e.Route.Rule == index).ToList();
            if (rule.Items is not null)
            {
                if (entries.Count == 0)
                {
                    if (!rule.Optional)
                    {
                        plan.EmptyItems.Add(index);
                    }

                    continue;
                }

                var list = new List<FieldValues>();
                plan.Items[index] = list;
                foreach (var entry in entries)
                {
                    var item = new FieldValues();
                    list.Add(item);
                    if (!WriteValue(plan, item, rule, entry, chooser, out conflict))
                    {
                        return null;
                    }
                }

                continue;
            }

            if (entries.Count > 1)
            {
                conflict = $"values[{index}] reads one value per record";
                return null;
            }

            if (entries.Count == 1)
            {
                if (!WriteValue(plan, null, rule, entries[0], chooser, out conflict))
                {
                    return null;
                }
            }
            else if (!partial && !WriteFiller(plan, index, rule, out conflict))
            {
                return null;
            }
        }

        return WriteQualifiers(plan, content, chooser, out conflict) && CheckSkip(plan, out conflict) && ReadQualifiers(plan, content, out conflict)
            ? plan
            : null;
    }

    /// <summary>The unit spellings a unitField may carry for a measure: the profile's aliases that convert, then the canonical UCUM code.</summary>
    public IReadOnlyList<string> UnitNames(int rule, string measure)
    {
        if (unitNames.TryGetValue((rule, measure), out var names))
        {
            return names;
        }

        var definition = MeasureCatalog.Get(measure);
        var list = new List<string>();
        var canonicalAliased = false;
        foreach (var name in profile.Units.Names)
        {
            if (profile.Units.TryResolve(name, out var unit, out var factor) && Converts(unit, definition))
            {
                list.Add(name);
                canonicalAliased |= unit == definition.Unit && factor == 1;
            }
        }

        if (!canonicalAliased && UnitConverter.IsKnown(definition.Unit))
        {
            list.Add(definition.Unit);
        }

        unitNames[(rule, measure)] = list;
        return list;
    }

    private static bool Converts(string unit, MeasureDefinition definition) =>
        definition.Kind != MeasureValueKind.Quantity || UnitConverter.TryGetConversion(unit, definition.Unit, definition.MolarMass, out _, out _);

    private bool WriteTime(RecordPlan plan, DateTimeOffset at, EncodeOptions options, out string? conflict)
    {
        conflict = null;
        var written = time.Write(at, options.Zone);
        plan.Time = written.ReadBack;
        var rule = profile.Time;
        if (rule.Field is null)
        {
            return true;
        }

        var main = written.Number is { } number ? Number(number) : RawValue.Of(written.Text!);
        return Assign(plan, null, fields.Slot(rule.Field, false), main, out conflict)
            && (rule.TimeOfDayField is null || Assign(plan, null, fields.Slot(rule.TimeOfDayField, false), RawValue.Of(written.TimeOfDay!), out conflict))
            && (rule.ZoneField is null || Assign(plan, null, fields.Slot(rule.ZoneField, false), RawValue.Of(written.ZoneId!), out conflict));
    }

    private bool WriteQualifiers(RecordPlan plan, RecordContent content, Chooser chooser, out string? conflict)
    {
        conflict = null;
        if (content.Qualifiers is null)
        {
            return true;
        }

        foreach (var (key, wanted) in content.Qualifiers)
        {
            var rule = profile.Qualifiers.FirstOrDefault(q => string.Equals(q.Key, key, StringComparison.Ordinal))
                ?? throw new ProfileEncodingException($"{profile.Manufacturer}: the profile cannot carry the qualifier {key}" +
                    (profile.Qualifiers.Count == 0 ? " (it has no qualifiers)" : $" (it carries {string.Join(", ", profile.Qualifiers.Select(q => q.Key))})"));
            if (rule.Field is null)
            {
                if (!string.Equals(rule.Value, wanted, StringComparison.Ordinal))
                {
                    throw new ProfileEncodingException($"{profile.Manufacturer}: the profile sets {key} to '{rule.Value}' for every reading, not '{wanted}'");
                }

                continue;
            }

            var slot = fields.Slot(rule.Field, false);
            if (rule.Map is null)
            {
                if (!Assign(plan, null, slot, RawValue.Of(wanted), out conflict))
                {
                    return false;
                }

                continue;
            }

            var keys = rule.Map.Where(p => string.Equals(p.Value, wanted, StringComparison.Ordinal)).Select(p => p.Key).ToList();
            if (keys.Count == 0)
            {
                throw new ProfileEncodingException($"{profile.Manufacturer}: {key} '{wanted}' cannot be written: {rule.Field.Text} maps only to " +
                    string.Join(", ", rule.Map.Values.Distinct(StringComparer.Ordinal).Select(v => $"'{v}'")));
            }

            if (!AssignFirst(plan, null, slot, chooser.Order($"qualifier.{key}", keys).Select(RawValue.Of), out conflict))
            {
                return false;
            }
        }

        return true;
    }

    private bool WriteValue(RecordPlan plan, FieldValues? item, ValueRule rule, RecordEntry entry, Chooser chooser, out string? conflict)
    {
        var route = entry.Route;
        var target = route.Target;
        var definition = MeasureCatalog.Get(target.Measure);
        var inItem = item is not null;
        if (rule.MeasureField is { } measureField && !Assign(plan, item, fields.Slot(measureField, inItem), KeyValue(route.Key!), out conflict))
        {
            return false;
        }

        var unit = target.Unit;
        var factor = target.UnitFactor;
        if (unit is null && rule.UnitField is { } unitField)
        {
            var slot = fields.Slot(unitField, inItem);
            if (plan.In(slot, item).TryGet(slot, out var existing))
            {
                // A unit field shared by several values (a scale's "WeightUnit" for weight, muscle and bone): reuse it.
                if (!profile.Units.TryResolve(existing.DecoderText, out var shared, out factor) || !Converts(shared, definition))
                {
                    conflict = $"{unitField.Text} is {existing} but {target.Measure} cannot be in that unit";
                    return false;
                }

                unit = shared;
            }
            else
            {
                var names = UnitNames(route.Rule, target.Measure);
                if (!AssignFirst(plan, item, slot, chooser.Order($"unit.{route.Rule}.{target.Measure}", names).Select(RawValue.Of), out conflict))
                {
                    return false;
                }

                plan.In(slot, item).TryGet(slot, out var chosen);
                profile.Units.TryResolve(chosen.Text!, out var resolved, out factor);
                unit = resolved;
            }
        }

        var rawUnit = unit ?? definition.Unit;
        var (raw, exponent, value) = Invert(rule, target, definition, rawUnit, factor, entry.Value);
        var written = Number(raw);
        if (rule.ValueMap is { } valueMap)
        {
            var number = EncoderMath.ToDouble(raw);
            var keys = valueMap.Where(p => p.Value == number).Select(p => p.Key).ToList();
            var intercepted = valueMap.TryGetValue(written.DecoderText, out var mapped) && mapped != number;
            if (keys.Count > 0 && (definition.Kind == MeasureValueKind.YesNo || intercepted))
            {
                var slot = fields.Slot(rule.Field, inItem);
                if (!AssignFirst(plan, item, slot, chooser.Order($"valueMap.{route.Rule}.{number}", keys).Select(RawValue.Of), out conflict))
                {
                    return false;
                }

                written = default;
            }
            else if (intercepted)
            {
                throw new ProfileEncodingException($"{profile.Manufacturer}: {target.Measure} {entry.Value} would be written {written}, which the value map reads as {mapped}");
            }
        }

        if (written != default && !Assign(plan, item, fields.Slot(rule.Field, inItem), written, out conflict))
        {
            return false;
        }

        if (exponent is { } e && !Assign(plan, item, fields.Slot(rule.ExponentField!, inItem), Number(e), out conflict))
        {
            return false;
        }

        plan.Values.Add(new DecodedValue(target.Measure, value, rawUnit));
        conflict = null;
        return true;
    }

    /// <summary>
    /// The raw number (and exponent) to write for <paramref name="canonical"/>, with the fewest decimals that give back
    /// the value after the decoder's arithmetic and the normaliser's conversion and rounding, to a tenth of the last
    /// decimal of <paramref name="canonical"/>; and the value the decoder will read (in <paramref name="unit"/>).
    /// </summary>
    private (decimal Raw, int? Exponent, double Value) Invert(ValueRule rule, MeasureTarget target, MeasureDefinition definition, string unit, double factor, double canonical)
    {
        var quantity = definition.Kind == MeasureValueKind.Quantity;
        var conversion = UnitConversion.Identity;
        var inUnit = canonical;
        if (quantity)
        {
            if (!UnitConverter.TryGetConversion(unit, definition.Unit, definition.MolarMass, out conversion, out var error)
                || !UnitConverter.TryConvert(canonical, definition.Unit, unit, definition.MolarMass, out inUnit, out error))
            {
                throw new ProfileEncodingException($"{profile.Manufacturer}: {target.Measure}: {error}");
            }
        }

        // Undo, in reverse order: unit alias factor, offsets, the map entry's scale; what remains is the number after
        // the rule's own scale and the power of ten.
        var scaled = ProfileArithmetic.Unscale(ProfileArithmetic.Unscale(inUnit, factor) - rule.Offset - target.Offset, target.Scale);
        var decimals = QuantityPrecision.DecimalsOf(canonical);
        var tolerance = 0.1 * Math.Pow(10, -decimals);
        (decimal Raw, int? Exponent, double Value)? best = null;
        string? noData = null;
        for (var k = 0; k <= MaxRawDecimals; k++)
        {
            var exact = ProfileArithmetic.Unscale(scaled, rule.Scale);
            if (rule.ExponentField is not null)
            {
                exact *= Math.Pow(10, k);
            }

            if (!(Math.Abs(exact) < 1e15))
            {
                break;
            }

            var raw = rule.ExponentField is null
                ? Math.Round((decimal)exact, k, MidpointRounding.AwayFromZero)
                : Math.Round((decimal)exact, 0, MidpointRounding.AwayFromZero);
            int? exponent = rule.ExponentField is null ? null : -k;
            var number = EncoderMath.ToDouble(raw);
            if (rule.NoDataValues is { } codes && codes.Contains(number))
            {
                noData = raw.ToString(CultureInfo.InvariantCulture);
                continue;
            }

            var value = Forward(rule, target, factor, number, exponent);
            best = (raw, exponent, value);
            var close = quantity
                ? Math.Abs((double)QuantityPrecision.ToDecimal(conversion.Apply(value), QuantityPrecision.DecimalsAfter(QuantityPrecision.DecimalsOf(value), conversion.Scale)) - canonical) <= tolerance
                : Math.Abs(value - canonical) < 1e-9;
            if (close)
            {
                return best.Value;
            }

            if (rule.ExponentField is null && raw == (decimal)exact)
            {
                break;
            }
        }

        if (quantity && best is { } closest)
        {
            return closest;
        }

        throw new ProfileEncodingException(noData is not null
            ? $"{profile.Manufacturer}: {target.Measure} {canonical.ToString(CultureInfo.InvariantCulture)} would be written {noData}, the device's no-data code"
            : $"{profile.Manufacturer}: {target.Measure} {canonical.ToString(CultureInfo.InvariantCulture)} cannot be written: the profile's scale and offset give {best?.Value.ToString(CultureInfo.InvariantCulture) ?? "no number"}");
    }

    private static double Forward(ValueRule rule, MeasureTarget target, double factor, double raw, int? exponent)
    {
        var number = ProfileArithmetic.Scale(raw, rule.Scale);
        if (exponent is { } e)
        {
            number = ProfileArithmetic.ScaleByPowerOfTen(number, e);
        }

        number = ProfileArithmetic.Scale(number, target.Scale) + rule.Offset + target.Offset;
        return ProfileArithmetic.Scale(number, factor);
    }

    /// <summary>A rule that is not optional and has no value in this record: a no-data code, or an ignored map key.</summary>
    private bool WriteFiller(RecordPlan plan, int index, ValueRule rule, out string? conflict)
    {
        conflict = null;
        if (rule.Fixed is { } target)
        {
            if (rule.Optional)
            {
                return true;
            }

            if (rule.NoDataValues is { Count: > 0 } codes)
            {
                return Assign(plan, null, fields.Slot(rule.Field, false), Number((decimal)codes.First()), out conflict);
            }

            conflict = $"every record needs {target.Measure} (values[{index}] is not optional and has no no-data code)";
            return false;
        }

        var slot = fields.Slot(rule.MeasureField!, false);
        if (rule.TextMap!.FirstOrDefault(p => p.Value.Ignore).Key is { } ignored)
        {
            return Assign(plan, null, slot, KeyValue(ignored), out conflict);
        }

        var (key, _) = rule.TextMap!.First();
        if (rule.Optional)
        {
            return Assign(plan, null, slot, KeyValue(key), out conflict);
        }

        if (rule.NoDataValues is { Count: > 0 } noData)
        {
            return Assign(plan, null, slot, KeyValue(key), out conflict)
                && Assign(plan, null, fields.Slot(rule.Field, false), Number((decimal)noData.First()), out conflict);
        }

        conflict = $"every record needs one of {string.Join(", ", rule.TextMap!.Values.Where(t => !t.Ignore).Select(t => t.Measure).Distinct())} (values[{index}] is not optional)";
        return false;
    }

    private bool CheckSkip(RecordPlan plan, out string? conflict)
    {
        foreach (var skip in profile.Skip)
        {
            var slot = fields.Slot(skip.Field, false);
            if (plan.In(slot, null).TryGet(slot, out var value) && skip.Values.Contains(value.DecoderText))
            {
                conflict = $"{skip.Field.Text} {value} would make the decoder skip the record";
                return false;
            }
        }

        conflict = null;
        return true;
    }

    /// <summary>The qualifiers the decoder will read from what was written; those asked for must be among them.</summary>
    private bool ReadQualifiers(RecordPlan plan, RecordContent content, out string? conflict)
    {
        conflict = null;
        Dictionary<string, string>? qualifiers = null;
        foreach (var rule in profile.Qualifiers)
        {
            string? value = rule.Value;
            if (rule.Field is { } field)
            {
                var slot = fields.Slot(field, false);
                if (!plan.In(slot, null).TryGet(slot, out var raw))
                {
                    continue;
                }

                value = raw.DecoderText;
                if (rule.Map is { } map && !map.TryGetValue(value, out value))
                {
                    conflict = $"{field.Text} {raw} is not mapped for {rule.Key}";
                    return false;
                }
            }

            if (value is not null)
            {
                qualifiers ??= new Dictionary<string, string>(StringComparer.Ordinal);
                qualifiers[rule.Key] = value;
            }
        }

        foreach (var (key, wanted) in content.Qualifiers ?? new Dictionary<string, string>())
        {
            if (qualifiers is null || !qualifiers.TryGetValue(key, out var got) || !string.Equals(got, wanted, StringComparison.Ordinal))
            {
                conflict = $"{key} '{wanted}' cannot be written together with the rest of the record";
                return false;
            }
        }

        plan.Qualifiers = qualifiers;
        return true;
    }

    private static bool Assign(RecordPlan plan, FieldValues? item, FieldSlot slot, RawValue value, out string? conflict)
    {
        if (plan.In(slot, item).TryAssign(slot, value, out var existing))
        {
            conflict = null;
            return true;
        }

        conflict = $"{slot.Text} would need both {existing} and {value}";
        return false;
    }

    /// <summary>Assigns the first option that agrees with what is already written and that no skip rule matches.</summary>
    private bool AssignFirst(RecordPlan plan, FieldValues? item, FieldSlot slot, IEnumerable<RawValue> options, out string? conflict)
    {
        conflict = $"{slot.Text}: no value fits";
        foreach (var option in options)
        {
            if (IsSkipped(slot, option))
            {
                conflict = $"{slot.Text} {option} would make the decoder skip the record";
                continue;
            }

            if (Assign(plan, item, slot, option, out conflict))
            {
                return true;
            }
        }

        return false;
    }

    private bool IsSkipped(FieldSlot slot, RawValue value)
    {
        foreach (var skip in profile.Skip)
        {
            var skipSlot = fields.Slot(skip.Field, false);
            if (skipSlot.Scope == slot.Scope && skipSlot.Chain == slot.Chain && skipSlot.Key == slot.Key && skip.Values.Contains(value.DecoderText))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A number as written: a JSON number, or CSV text with the profile's decimal separator.</summary>
    private RawValue Number(decimal value) => IsCsv ? RawValue.Of(EncoderMath.Format(value, profile.Csv!.DecimalSeparator)) : RawValue.Of(value);

    /// <summary>A map key as written: integers as JSON numbers (Withings "type": 10), other keys as text.</summary>
    private RawValue KeyValue(string key) =>
        !IsCsv && long.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            && string.Equals(number.ToString(CultureInfo.InvariantCulture), key, StringComparison.Ordinal)
            ? RawValue.Of(number)
            : RawValue.Of(key);
}
