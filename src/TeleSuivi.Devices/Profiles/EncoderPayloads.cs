using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TeleSuivi.Devices.Profiles;

// The write side of the selectors and of the payload shapes: where ProfileDecoder reads a record, its fields and its
// items, the encoder creates them. Only the selector grammar of ingest/README.md is needed, so it is parsed again
// here rather than exposing JsonSelector's internals.

internal enum PathStepKind
{
    Property,
    Index,
    Wildcard,
}

internal readonly record struct PathStep(PathStepKind Kind, string? Name, int Index);

/// <summary>A selector parsed for writing: its anchor and its steps (same grammar as <see cref="JsonSelector"/>).</summary>
internal sealed class WritePath
{
    private WritePath(string text, SelectorAnchor anchor, int parentLevel, PathStep[] steps)
    {
        Text = text;
        Anchor = anchor;
        ParentLevel = parentLevel;
        Steps = steps;
        Key = string.Join('\u001f', steps.Select(s => s.Kind switch
        {
            PathStepKind.Property => "." + s.Name,
            PathStepKind.Index => "[" + s.Index.ToString(CultureInfo.InvariantCulture) + "]",
            _ => "[*]",
        }));
    }

    public string Text { get; }

    public SelectorAnchor Anchor { get; }

    public int ParentLevel { get; }

    public PathStep[] Steps { get; }

    /// <summary>The steps as one string: equal keys designate the same value from the same start.</summary>
    public string Key { get; }

    public int WildcardCount => Steps.Count(s => s.Kind == PathStepKind.Wildcard);

    public bool EndsWithWildcard => Steps.Length > 0 && Steps[^1].Kind == PathStepKind.Wildcard;

    public static WritePath Parse(string text)
    {
        var position = 0;
        var anchor = SelectorAnchor.Current;
        var level = 0;
        if (text.StartsWith('$'))
        {
            anchor = SelectorAnchor.Root;
            position = 1;
        }
        else if (text.StartsWith('^'))
        {
            anchor = SelectorAnchor.Parent;
            while (position < text.Length && text[position] == '^')
            {
                level++;
                position++;
            }
        }
        else if (text.StartsWith('@'))
        {
            position = 1;
        }

        var steps = new List<PathStep>();
        var needsDot = anchor != SelectorAnchor.Current || position > 0;
        while (position < text.Length)
        {
            if (text[position] == '[')
            {
                var close = text.IndexOf(']', position);
                var inner = text[(position + 1)..close];
                steps.Add(inner == "*"
                    ? new PathStep(PathStepKind.Wildcard, null, 0)
                    : inner.Length >= 2 && inner[0] == '\'' && inner[^1] == '\''
                        ? new PathStep(PathStepKind.Property, inner[1..^1], 0)
                        : new PathStep(PathStepKind.Index, null, int.Parse(inner, NumberStyles.None, CultureInfo.InvariantCulture)));
                position = close + 1;
                needsDot = true;
                continue;
            }

            if (needsDot)
            {
                position++;
            }

            var end = position;
            while (end < text.Length && text[end] != '.' && text[end] != '[')
            {
                end++;
            }

            steps.Add(new PathStep(PathStepKind.Property, text[position..end], 0));
            position = end;
            needsDot = true;
        }

        return new WritePath(text, anchor, level, [.. steps]);
    }
}

/// <summary>A JSON value under construction: created on first use as an object, an array or a scalar; a second, different use is a conflict.</summary>
internal sealed class JsonTreeNode
{
    private NodeKind kind;
    private List<KeyValuePair<string, JsonTreeNode>>? properties;
    private List<JsonTreeNode>? elements;
    private RawValue scalar;

    private enum NodeKind
    {
        Unset,
        Object,
        Array,
        Scalar,
    }

    public int Count => elements?.Count ?? 0;

    public JsonTreeNode Property(string name)
    {
        Become(NodeKind.Object);
        foreach (var (key, value) in properties!)
        {
            if (string.Equals(key, name, StringComparison.Ordinal))
            {
                return value;
            }
        }

        var child = new JsonTreeNode();
        properties.Add(new(name, child));
        return child;
    }

    public JsonTreeNode Element(int index)
    {
        Become(NodeKind.Array);
        while (elements!.Count <= index)
        {
            elements.Add(new JsonTreeNode());
        }

        return elements[index];
    }

    public JsonTreeNode Append()
    {
        Become(NodeKind.Array);
        var child = new JsonTreeNode();
        elements!.Add(child);
        return child;
    }

    public void EnsureArray() => Become(NodeKind.Array);

    public JsonTreeNode Resolve(IEnumerable<PathStep> steps)
    {
        var node = this;
        foreach (var step in steps)
        {
            node = step.Kind switch
            {
                PathStepKind.Property => node.Property(step.Name!),
                PathStepKind.Index => node.Element(step.Index),
                _ => throw new InvalidOperationException("a field path has no [*]"),
            };
        }

        return node;
    }

    public void Set(RawValue value)
    {
        if (kind == NodeKind.Scalar && scalar == value)
        {
            return;
        }

        Become(NodeKind.Scalar);
        scalar = value;
    }

    public void Write(Utf8JsonWriter writer)
    {
        switch (kind)
        {
            case NodeKind.Object:
                writer.WriteStartObject();
                foreach (var (name, value) in properties!)
                {
                    writer.WritePropertyName(name);
                    value.Write(writer);
                }

                writer.WriteEndObject();
                break;
            case NodeKind.Array:
                writer.WriteStartArray();
                foreach (var element in elements!)
                {
                    element.Write(writer);
                }

                writer.WriteEndArray();
                break;
            case NodeKind.Scalar when scalar.Number is { } number:
                writer.WriteNumberValue(number);
                break;
            case NodeKind.Scalar:
                writer.WriteStringValue(scalar.Text);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    private void Become(NodeKind wanted)
    {
        if (kind == wanted && wanted != NodeKind.Scalar)
        {
            return;
        }

        if (kind != NodeKind.Unset)
        {
            throw new InvalidOperationException($"a {Describe(kind)} is needed as a {Describe(wanted)} too");
        }

        kind = wanted;
        properties = wanted == NodeKind.Object ? [] : null;
        elements = wanted == NodeKind.Array ? [] : null;
    }

    private static string Describe(NodeKind kind) => kind switch
    {
        NodeKind.Object => "object",
        NodeKind.Array => "array",
        _ => "value",
    };
}

/// <summary>Lays records out as payloads: the JSON shape of <c>records</c> and <c>items</c>, or the lines of a CSV.</summary>
internal sealed class EncoderLayout
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly CompiledProfile profile;
    private readonly WritePath? records;
    private readonly Dictionary<int, WritePath> items = [];

    /// <summary>CSV: the named columns in profile order (the header must hold them all), and the numbered ones.</summary>
    private readonly List<string> namedColumns = [];
    private readonly HashSet<int> numberedColumns = [];
    private readonly int columnCount;

    public EncoderLayout(CompiledProfile profile)
    {
        this.profile = profile;
        if (profile.Format == PayloadFormat.Json)
        {
            records = WritePath.Parse(profile.Records!.Text);
            for (var i = 0; i < profile.Values.Count; i++)
            {
                if (profile.Values[i].Items is { } selector)
                {
                    items[i] = WritePath.Parse(selector.Text);
                }
            }

            return;
        }

        foreach (var field in EncoderFields.AllFields(profile))
        {
            if (field.ColumnName is { } name)
            {
                if (!namedColumns.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    namedColumns.Add(name);
                }
            }
            else
            {
                numberedColumns.Add(field.ColumnIndex);
            }
        }

        var needed = Math.Max(numberedColumns.Count == 0 ? 0 : numberedColumns.Max() + 1, numberedColumns.Count + namedColumns.Count);
        columnCount = Math.Max(profile.Csv!.Columns ?? 0, needed);
        if (profile.Csv.Columns is { } columns && columns < needed)
        {
            Unusable = $"csv.columns is {columns} but the profile reads {needed} columns";
        }
    }

    /// <summary>Why no payload of this profile can be written, or null.</summary>
    public string? Unusable { get; }

    /// <summary>Wildcards of <c>records</c>: 0 means one record per payload.</summary>
    public bool HoldsSeveralRecords => profile.Format == PayloadFormat.Csv || records!.WildcardCount > 0;

    /// <summary>Number of elements enclosing a record (what <c>^</c> can reach), as the decoder counts them.</summary>
    public int EnclosingLevels => records is null ? 0 : records.EndsWithWildcard ? records.WildcardCount - 1 : records.WildcardCount;

    public int WildcardCount => records?.WildcardCount ?? 0;

    /// <summary>The records grouped into as few payloads as the profile allows, each payload with its records.</summary>
    public List<(byte[] Payload, List<RecordPlan> Records)> Lay(IReadOnlyList<RecordPlan> plans, Chooser chooser)
    {
        if (profile.Format == PayloadFormat.Csv)
        {
            return [(WriteCsv(plans, chooser), [.. plans])];
        }

        var payloads = new List<List<RecordPlan>>();
        foreach (var plan in plans)
        {
            var group = HoldsSeveralRecords ? payloads.Find(p => p[0].Root.SameAs(plan.Root)) : null;
            if (group is null)
            {
                payloads.Add([plan]);
            }
            else
            {
                group.Add(plan);
            }
        }

        return [.. payloads.Select(group => (WriteJson(group), group))];
    }

    private byte[] WriteJson(List<RecordPlan> plans)
    {
        var root = new JsonTreeNode();
        Apply(root, plans[0].Root);
        Place(root, 0, 0, plans);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            root.Write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Follows <c>records</c> from <paramref name="node"/>: one element per group of records that share their enclosing values.</summary>
    private void Place(JsonTreeNode node, int stepIndex, int wildcard, List<RecordPlan> plans)
    {
        var steps = records!.Steps;
        if (stepIndex == steps.Length)
        {
            PlaceRecord(node, plans[0]);
            return;
        }

        var step = steps[stepIndex];
        switch (step.Kind)
        {
            case PathStepKind.Property:
                Place(node.Property(step.Name!), stepIndex + 1, wildcard, plans);
                return;
            case PathStepKind.Index:
                Place(node.Element(step.Index), stepIndex + 1, wildcard, plans);
                return;
        }

        node.EnsureArray();
        if (stepIndex == steps.Length - 1)
        {
            foreach (var plan in plans)
            {
                Place(node.Append(), stepIndex + 1, wildcard + 1, [plan]);
            }

            return;
        }

        // An enclosing element: records whose values at this level are the same share it (the decoder reads those
        // values for each of them); below the last wildcard there is room for one record only.
        var lastWildcard = wildcard == records.WildcardCount - 1;
        var groups = new List<List<RecordPlan>>();
        foreach (var plan in plans)
        {
            var group = lastWildcard ? null : groups.Find(g => g[0].Enclosing[wildcard].SameAs(plan.Enclosing[wildcard]));
            if (group is null)
            {
                groups.Add([plan]);
            }
            else
            {
                group.Add(plan);
            }
        }

        foreach (var group in groups)
        {
            var element = node.Append();
            Apply(element, group[0].Enclosing[wildcard]);
            Place(element, stepIndex + 1, wildcard + 1, group);
        }
    }

    private void PlaceRecord(JsonTreeNode record, RecordPlan plan)
    {
        Apply(record, plan.Record);
        foreach (var rule in plan.EmptyItems)
        {
            var steps = items[rule].Steps;
            var first = Array.FindIndex(steps, s => s.Kind == PathStepKind.Wildcard);
            record.Resolve(steps[..first]).EnsureArray();
        }

        foreach (var (rule, list) in plan.Items)
        {
            PlaceItems(record, items[rule].Steps, list);
        }
    }

    /// <summary>Items go in the last <c>[*]</c> of the items selector, one element each; earlier wildcards get one shared element.</summary>
    private static void PlaceItems(JsonTreeNode record, PathStep[] steps, List<FieldValues> list)
    {
        var last = Array.FindLastIndex(steps, s => s.Kind == PathStepKind.Wildcard);
        var node = record;
        for (var i = 0; i < last; i++)
        {
            node = steps[i].Kind switch
            {
                PathStepKind.Property => node.Property(steps[i].Name!),
                PathStepKind.Index => node.Element(steps[i].Index),
                _ => node.Count > 0 ? node.Element(0) : node.Append(),
            };
        }

        node.EnsureArray();
        foreach (var item in list)
        {
            Apply(node.Append().Resolve(steps[(last + 1)..]), item);
        }
    }

    private static void Apply(JsonTreeNode node, FieldValues values)
    {
        foreach (var (slot, value) in values.Entries)
        {
            node.Resolve(slot.Steps!).Set(value);
        }
    }

    private byte[] WriteCsv(IReadOnlyList<RecordPlan> plans, Chooser chooser)
    {
        var csv = profile.Csv!;
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var index in numberedColumns)
        {
            positions[EncoderFields.ColumnKey(index)] = index;
        }

        var free = new List<int>();
        var count = columnCount;
        for (var i = 0; i < count; i++)
        {
            if (!numberedColumns.Contains(i))
            {
                free.Add(i);
            }
        }

        // With a header the columns may come in any order: a random order when asked, the profile's otherwise.
        var names = chooser.Shuffle("csv.columns", namedColumns);
        var header = new string[count];
        for (var i = 0; i < names.Count; i++)
        {
            positions[EncoderFields.ColumnKey(names[i])] = free[i];
            header[free[i]] = names[i];
        }

        for (var i = 0; i < count; i++)
        {
            header[i] ??= UnusedName(header, i);
        }

        var text = new StringBuilder();
        for (var i = 0; i < csv.SkipLines; i++)
        {
            text.Append(profile.Manufacturer).Append(" export\n");
        }

        if (csv.Header)
        {
            AppendLine(text, header, csv);
        }

        foreach (var plan in plans)
        {
            var cells = new string[count];
            Array.Fill(cells, string.Empty);
            foreach (var (slot, value) in plan.Record.Entries)
            {
                cells[positions[slot.Key]] = value.Text!;
            }

            AppendLine(text, cells, csv);
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static string UnusedName(string[] header, int index)
    {
        var name = "column" + (index + 1).ToString(CultureInfo.InvariantCulture);
        while (header.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            name += "_";
        }

        return name;
    }

    private static void AppendLine(StringBuilder text, string[] cells, CsvRule csv)
    {
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                text.Append(csv.Delimiter);
            }

            var cell = cells[i];
            var quote = cell.Contains(csv.Delimiter, StringComparison.Ordinal) || cell.Contains('"', StringComparison.Ordinal)
                || cell.Length != cell.Trim().Length
                || (i == 0 && csv.Comment is { } comment && cell.StartsWith(comment, StringComparison.Ordinal));
            text.Append(quote ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell);
        }

        text.Append('\n');
    }
}
