using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TeleSuivi.Devices.Profiles;

/// <summary>Where a selector starts: the current record or item, the payload root, or an enclosing record.</summary>
internal enum SelectorAnchor
{
    Current,
    Root,
    Parent,
}

/// <summary>
/// A compiled JSONPath-like selector: <c>$.a.b[0]</c> from the root, <c>a.b</c> or <c>@</c> from the current
/// record, <c>^.a</c> / <c>^^.a</c> from the enclosing element one or two wildcards up, with <c>[*]</c> for every
/// element of an array (an object there counts as a one-element array, so "a batch or a single reading" needs no
/// second profile) and <c>['odd name']</c> for names with dots or spaces.
/// </summary>
internal sealed class JsonSelector
{
    private readonly Segment[] segments;

    private JsonSelector(string text, SelectorAnchor anchor, int parentLevel, Segment[] segments)
    {
        Text = text;
        Anchor = anchor;
        ParentLevel = parentLevel;
        this.segments = segments;
        foreach (var segment in segments)
        {
            if (segment.Kind == SegmentKind.Wildcard)
            {
                WildcardCount++;
            }
        }
    }

    private enum SegmentKind
    {
        Property,
        Index,
        Wildcard,
    }

    public string Text { get; }

    public SelectorAnchor Anchor { get; }

    /// <summary>For <see cref="SelectorAnchor.Parent"/>: 1 for <c>^</c>, 2 for <c>^^</c>.</summary>
    public int ParentLevel { get; }

    public int WildcardCount { get; }

    /// <summary>True when the last step is <c>[*]</c>: the designated elements are then the wildcard's own elements.</summary>
    public bool EndsWithWildcard => segments.Length > 0 && segments[^1].Kind == SegmentKind.Wildcard;

    /// <summary>How many elements enclose each designated element, for <c>^</c>: the wildcards not at the last step.</summary>
    public int EnclosingLevels => EndsWithWildcard ? WildcardCount - 1 : WildcardCount;

    public static JsonSelector Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FormatException("a selector is empty");
        }

        var position = 0;
        var anchor = SelectorAnchor.Current;
        var level = 0;
        if (text[0] == '$')
        {
            anchor = SelectorAnchor.Root;
            position = 1;
        }
        else if (text[0] == '^')
        {
            anchor = SelectorAnchor.Parent;
            while (position < text.Length && text[position] == '^')
            {
                level++;
                position++;
            }
        }
        else if (text[0] == '@')
        {
            position = 1;
        }

        var segments = new List<Segment>();
        var needsDot = anchor != SelectorAnchor.Current || position > 0;
        while (position < text.Length)
        {
            var c = text[position];
            if (c == '[')
            {
                var close = text.IndexOf(']', position);
                if (close < 0)
                {
                    throw new FormatException($"selector '{text}': '[' at {position} is not closed");
                }

                var inner = text[(position + 1)..close];
                if (inner == "*")
                {
                    segments.Add(new Segment(SegmentKind.Wildcard, null, 0));
                }
                else if (inner.Length >= 2 && inner[0] == '\'' && inner[^1] == '\'')
                {
                    segments.Add(Segment.Property(inner[1..^1]));
                }
                else if (int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    segments.Add(new Segment(SegmentKind.Index, null, index));
                }
                else
                {
                    throw new FormatException($"selector '{text}': '[{inner}]' is neither [*], [n] nor ['name']");
                }

                position = close + 1;
                needsDot = true;
                continue;
            }

            if (needsDot)
            {
                if (c != '.')
                {
                    throw new FormatException($"selector '{text}': expected '.' or '[' at {position}");
                }

                position++;
            }

            var end = position;
            while (end < text.Length && text[end] != '.' && text[end] != '[')
            {
                end++;
            }

            if (end == position)
            {
                throw new FormatException($"selector '{text}': empty name at {position}");
            }

            segments.Add(Segment.Property(text[position..end]));
            position = end;
            needsDot = true;
        }

        return new JsonSelector(text, anchor, level, [.. segments]);
    }

    /// <summary>The single element this selector (without wildcards) designates from <paramref name="start"/>; false if absent or null.</summary>
    public bool TryGet(JsonElement start, out JsonElement result)
    {
        result = start;
        foreach (var segment in segments)
        {
            switch (segment.Kind)
            {
                case SegmentKind.Property:
                    if (result.ValueKind != JsonValueKind.Object || !result.TryGetProperty(segment.Utf8Name, out result))
                    {
                        return false;
                    }

                    break;
                case SegmentKind.Index:
                    if (result.ValueKind != JsonValueKind.Array || segment.Index >= result.GetArrayLength())
                    {
                        return false;
                    }

                    result = result[segment.Index];
                    break;
                default:
                    throw new InvalidOperationException($"selector '{Text}' has a wildcard and designates many elements");
            }
        }

        return result.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined);
    }

    /// <summary>
    /// Every element the selector designates from <paramref name="start"/>, with the element and index each wildcard
    /// stood on. Returns the location of the first missing step (for "x is missing") when the selector cannot be
    /// followed; an empty array is no error, it designates nothing.
    /// </summary>
    public string? Select(JsonElement start, List<JsonMatch> matches)
    {
        var chain = new JsonElement[WildcardCount];
        var indices = new int[WildcardCount];
        return Walk(start, 0, 0, chain, indices, matches);
    }

    /// <summary>The concrete location of a match, e.g. "measuregrps[2]" for "$.measuregrps[*]" with index 2.</summary>
    public void AppendLocation(StringBuilder builder, ReadOnlySpan<int> indices)
    {
        var wildcard = 0;
        foreach (var segment in segments)
        {
            switch (segment.Kind)
            {
                case SegmentKind.Property:
                    if (builder.Length > 0)
                    {
                        builder.Append('.');
                    }

                    builder.Append(segment.Name);
                    break;
                case SegmentKind.Index:
                    builder.Append('[').Append(segment.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
                    break;
                default:
                    builder.Append('[').Append(indices[wildcard++].ToString(CultureInfo.InvariantCulture)).Append(']');
                    break;
            }
        }
    }

    private string? Walk(JsonElement element, int segmentIndex, int wildcard, JsonElement[] chain, int[] indices, List<JsonMatch> matches)
    {
        for (var i = segmentIndex; i < segments.Length; i++)
        {
            var segment = segments[i];
            switch (segment.Kind)
            {
                case SegmentKind.Property:
                    if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment.Utf8Name, out element)
                        || element.ValueKind == JsonValueKind.Null)
                    {
                        return Location(i + 1, indices);
                    }

                    break;
                case SegmentKind.Index:
                    if (element.ValueKind != JsonValueKind.Array || segment.Index >= element.GetArrayLength())
                    {
                        return Location(i + 1, indices);
                    }

                    element = element[segment.Index];
                    break;
                default:
                    if (element.ValueKind == JsonValueKind.Array)
                    {
                        var index = 0;
                        foreach (var item in element.EnumerateArray())
                        {
                            chain[wildcard] = item;
                            indices[wildcard] = index++;
                            if (Walk(item, i + 1, wildcard + 1, chain, indices, matches) is { } missing)
                            {
                                return missing;
                            }
                        }

                        return null;
                    }

                    if (element.ValueKind != JsonValueKind.Object)
                    {
                        return Location(i + 1, indices);
                    }

                    chain[wildcard] = element;
                    indices[wildcard] = 0;
                    wildcard++;
                    break;
            }
        }

        matches.Add(new JsonMatch(element, [.. chain], [.. indices]));
        return null;
    }

    /// <summary>The concrete text of the first <paramref name="segmentCount"/> steps, for "… is missing".</summary>
    private string Location(int segmentCount, int[] indices)
    {
        var builder = new StringBuilder();
        var wildcard = 0;
        for (var i = 0; i < segmentCount; i++)
        {
            var segment = segments[i];
            _ = segment.Kind switch
            {
                SegmentKind.Property => builder.Append(builder.Length > 0 ? "." : string.Empty).Append(segment.Name),
                SegmentKind.Index => builder.Append('[').Append(segment.Index.ToString(CultureInfo.InvariantCulture)).Append(']'),
                _ => builder.Append('[').Append(indices[wildcard++].ToString(CultureInfo.InvariantCulture)).Append(']'),
            };
        }

        return builder.ToString();
    }

    private readonly record struct Segment(SegmentKind Kind, string? Name, int Index)
    {
        public byte[] Utf8Name { get; private init; } = [];

        public static Segment Property(string name) => new(SegmentKind.Property, name, 0) { Utf8Name = Encoding.UTF8.GetBytes(name) };
    }
}

/// <summary>One element designated by a selector with wildcards, with the element and index at each wildcard.</summary>
internal readonly record struct JsonMatch(JsonElement Element, JsonElement[] Chain, int[] Indices);
