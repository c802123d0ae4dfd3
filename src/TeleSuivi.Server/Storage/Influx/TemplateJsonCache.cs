using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// The <c>fhir</c> field of a point without serialising the template of every reading. After
/// <see cref="ObservationPoint"/> has taken the id, subject, device, time and value out, the templates of one
/// source's readings of one code differ only by <c>issued</c> (when the message was received), the one
/// identifier's value (device, code and time) and <c>effectiveDateTime</c> when the point's time cannot rebuild its
/// text (a device's "…Z"): the JSON around those values is cached once per template shape and the values are written
/// between its fragments. The field is byte for byte what the serializer writes (checked when
/// a shape is cached), so the schema and the reads do not change.
/// </summary>
/// <remarks>
/// A shape is the template with those values replaced by fixed ones, compared with Firely's exact equality
/// (<see cref="PocoEqualityComparisons.IsExactly(Base, Base)"/>), which walks the template without writing it. A template
/// whose values JSON would escape, or with another layout (no issued, several identifiers, extensions on them), is
/// serialised as before. Bounded: <see cref="VariantsPerKey"/> shapes per (code, source), <see cref="MaxKeys"/> keys.
/// </remarks>
internal sealed class TemplateJsonCache
{
    internal const int VariantsPerKey = 4;
    internal const int MaxKeys = 4_096;

    // Hold every punctuation character IsVerbatim lets through: if the serializer escaped any, a sentinel is not found
    // verbatim and the shape is not cached.
    private const string IdentifierSentinel = "telesuivi|cached:identifier.slot+0/1_2 3-4";
    private const string EffectiveSentinel = "1999-12-31T23:59:58.999Z";
    private static readonly Instant IssuedSentinel = new(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private static readonly string IssuedSentinelText = IssuedText(IssuedSentinel);
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ConcurrentDictionary<(string Code, string? Source), Shape[]> shapes = new();
    private long hits;
    private long misses;

    /// <summary>The one cache of the process: the shapes do not depend on the database written to.</summary>
    public static TemplateJsonCache Shared { get; } = new();

    /// <summary>Fields written from cached fragments since start.</summary>
    public long Hits => Interlocked.Read(ref hits);

    /// <summary>Fields serialised since start (a new shape, or a template the cache does not take).</summary>
    public long Misses => Interlocked.Read(ref misses);

    /// <summary>Writes the FHIR JSON of <paramref name="template"/> as the string field <paramref name="key"/>.</summary>
    public void WriteField(LineProtocolWriter writer, string key, string code, Observation template)
    {
        if (!TryTakeSlots(template, out var values))
        {
            Interlocked.Increment(ref misses);
            writer.Field(key, ObservationKeys.Serializer.SerializeToString(template));
            return;
        }

        var cacheKey = (code, template.Meta?.Source);
        var probe = WithSentinels(template, values);
        if (shapes.TryGetValue(cacheKey, out var known))
        {
            foreach (var shape in known)
            {
                if (shape.Template.IsExactly(probe))
                {
                    if (shape.Fragments is { } fragments)
                    {
                        Interlocked.Increment(ref hits);
                        writer.StringField(key, fragments.Parts, fragments.Order, values);
                        return;
                    }

                    // A shape known not to rebuild from fragments: serialised, and not examined again.
                    Interlocked.Increment(ref misses);
                    writer.Field(key, ObservationKeys.Serializer.SerializeToString(template));
                    return;
                }
            }
        }

        Interlocked.Increment(ref misses);
        var json = ObservationKeys.Serializer.SerializeToString(template);
        writer.Field(key, json);
        Remember(cacheKey, probe, json, values);
    }

    /// <summary>Forgets every shape.</summary>
    internal void Clear() => shapes.Clear();

    private void Remember((string Code, string? Source) cacheKey, Observation probe, string json, string?[] values)
    {
        // The probe shares elements with the Observation being written: the cache keeps a copy of its own.
        var shape = new Shape((Observation)probe.DeepCopy(), Split(ObservationKeys.Serializer.SerializeToString(probe), json, values));
        if (shapes.Count >= MaxKeys)
        {
            shapes.Clear();
        }

        shapes.AddOrUpdate(
            cacheKey,
            [shape],
            (_, known) => known.Any(k => k.Template.IsExactly(shape.Template)) ? known : [shape, .. known.Take(VariantsPerKey - 1)]);
    }

    /// <summary>
    /// The fragments around the values in the probe's JSON, if they give back the template's JSON exactly with its own
    /// values (the serializer wrote them unescaped, as the cache will); null when not.
    /// </summary>
    private static Fragments? Split(string probeJson, string json, string?[] values)
    {
        var found = new List<(int At, int Length, int Slot)>(Slots);
        for (var slot = 0; slot < Slots; slot++)
        {
            if (values[slot] is null)
            {
                continue;
            }

            var sentinel = Sentinel(slot);
            var at = probeJson.IndexOf(string.Concat("\"", sentinel, "\""), StringComparison.Ordinal);
            if (at < 0)
            {
                return null;
            }

            found.Add((at + 1, sentinel.Length, slot));
        }

        found.Sort((a, b) => a.At.CompareTo(b.At));
        var parts = new List<string>(found.Count + 1);
        var rebuilt = new StringBuilder(json.Length);
        var from = 0;
        foreach (var (at, length, slot) in found)
        {
            parts.Add(probeJson[from..at]);
            rebuilt.Append(probeJson, from, at - from).Append(values[slot]);
            from = at + length;
        }

        parts.Add(probeJson[from..]);
        rebuilt.Append(probeJson, from, probeJson.Length - from);
        return string.Equals(rebuilt.ToString(), json, StringComparison.Ordinal)
            ? new Fragments([.. parts.Select(Escaped)], [.. found.Select(f => f.Slot)])
            : null;
    }

    private const int Slots = 3;

    private static string Sentinel(int slot) => slot switch
    {
        0 => IdentifierSentinel,
        1 => EffectiveSentinel,
        _ => IssuedSentinelText,
    };

    /// <summary>
    /// The values of the slots (identifier, effective, issued; effective null when the template has none), when the
    /// template has exactly one plain issued and one plain identifier value, and JSON writes all of them as they are.
    /// </summary>
    private static bool TryTakeSlots(Observation template, out string?[] values)
    {
        values = [];
        if (template.IssuedElement is not { Value: not null } issuedElement || !IsPlain(issuedElement)
            || template.Identifier is not [{ ValueElement: { Value: { } identifier } identifierElement }] || !IsPlain(identifierElement))
        {
            return false;
        }

        string? effective = null;
        if (template.Effective is not null)
        {
            if (template.Effective is not FhirDateTime { Value: { } text } dateTime || !IsPlain(dateTime))
            {
                return false;
            }

            effective = text;
        }

        values = [identifier, effective, IssuedText(issuedElement)];
        return values.All(v => v is null || IsVerbatim(v));
    }

    /// <summary>A shallow copy of the template with the values replaced by the sentinels (the template is left as it was).</summary>
    private static Observation WithSentinels(Observation template, string?[] values)
    {
        var probe = ObservationPoint.ShallowCopy(template);
        probe.IssuedElement = IssuedSentinel;
        var identifier = ObservationPoint.ShallowCopy(template.Identifier[0]);
        identifier.Value = IdentifierSentinel;
        probe.Identifier = [identifier];
        if (values[1] is not null)
        {
            probe.Effective = new FhirDateTime(EffectiveSentinel);
        }

        return probe;
    }

    /// <summary>
    /// An instant's text as Firely writes it in JSON (its primitive converter's format: fraction without trailing zeros,
    /// offset as +hh:mm). A shape is cached only if this gives back the serializer's own text (<see cref="Split"/>).
    /// </summary>
    private static string IssuedText(Instant instant) =>
        instant.Value!.Value.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'FFFFFFFK", CultureInfo.InvariantCulture);

    private static bool IsPlain(Element element) => element.ElementId is null && element.Extension.Count == 0;

    /// <summary>Letters, digits and the punctuation of the sentinels: what neither JSON nor a line-protocol string field escapes.</summary>
    private static bool IsVerbatim(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('|' or ':' or '.' or '+' or '/' or '_' or ' ' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>UTF-8 with line protocol's string-field escaping (a backslash before each double quote and backslash).</summary>
    private static byte[] Escaped(string json) =>
        Utf8.GetBytes(json.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal));

    /// <param name="Parts">The escaped JSON around the values, one more than <paramref name="Order"/>.</param>
    /// <param name="Order">Which value (slot) goes after each part but the last.</param>
    private sealed record Fragments(byte[][] Parts, int[] Order);

    /// <summary>A template shape; <see cref="Fragments"/> null when its JSON cannot be rebuilt from fragments (always serialised).</summary>
    private sealed record Shape(Observation Template, Fragments? Fragments);
}
