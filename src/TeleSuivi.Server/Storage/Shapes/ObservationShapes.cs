using System.Collections.Concurrent;
using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Server.Storage.Shapes;

/// <summary>
/// How an Observation's effective time is spelled, so that the text can be rebuilt from the millisecond alone.
/// </summary>
public enum EffectiveStyle
{
    /// <summary>UTC with <c>Z</c>, milliseconds only when not zero (<c>2026-01-15T08:00:00Z</c>, <c>…:00.123Z</c>): what ingestion writes.</summary>
    UtcZ = 1,

    /// <summary>What Firely writes for a UTC <see cref="DateTimeOffset"/> (<c>2026-01-15T08:00:00.123+00:00</c>).</summary>
    Firely = 2,
}

/// <summary>
/// The parts of one Observation that vary from reading to reading, as typed values; the rest is its shape.
/// </summary>
/// <param name="Identifier">The value of the first (and only) identifier, when the shape has one.</param>
/// <param name="Value">The number of <c>valueQuantity</c>, when the shape has a quantity without one.</param>
/// <param name="Components">The numbers of the components the shape has without one, by field key (<c>c:8480-6</c>).</param>
public sealed record ReadingParts(
    string Id,
    string? Subject,
    string? Device,
    long EffectiveMs,
    EffectiveStyle Style,
    long? IssuedMs,
    string? Identifier,
    double? Value,
    IReadOnlyList<(string Field, double Value)> Components);

/// <summary>One Observation split: either a shape (FHIR JSON without the varying parts) and the parts, or its own JSON.</summary>
/// <param name="Shape">The shape's FHIR JSON, null when the Observation does not fit the parts (then <paramref name="OwnJson"/>).</param>
/// <param name="ShapeId">A 64-bit hash of <paramref name="Shape"/> (FNV-1a), the key the shape is stored under.</param>
public sealed record SplitObservation(string? Shape, long ShapeId, ReadingParts? Parts, string? OwnJson);

/// <summary>
/// Splits an Observation into a shape, shared by every reading of one device kind and code (codes, category, units,
/// display texts, profile, source), and the parts that vary (id, subject, device, effective time, issued, identifier
/// value, numbers), and rebuilds it exactly. Store-neutral: a store keeps each shape once and each reading's parts in
/// typed columns (README "Storage"). An Observation whose varying parts do not fit those parts exactly (a time in
/// another zone, a text value, an extension on a number, a reference with a display...) is not split: the store keeps
/// its own JSON, so nothing is ever lost or changed, only stored less compactly.
/// </summary>
public static class ObservationShapes
{
    private const int MaxParsedShapes = 4_096;

    /// <summary>The most shapes <see cref="Known"/> keeps per code before new ones of that code are serialised each time.</summary>
    private const int MaxKnownPerCode = 8;

    private static readonly ConcurrentDictionary<string, Observation> Parsed = new(StringComparer.Ordinal);

    /// <summary>
    /// The shapes met so far, by the system and code of their first coding. A reading whose template is exactly one of
    /// them takes its text and id from here instead of serialising the template to a new string and hashing it, which
    /// is most of what a split costs (BENCHMARKS.md, "Storage", sixth round).
    /// </summary>
    private static readonly ConcurrentDictionary<(string? System, string? Code), KnownShape[]> Known = new();

    /// <summary>The ids of shapes <see cref="Known"/> cannot hold (<see cref="SpelledByValueOnly"/>), so that they are walked once, not per reading.</summary>
    private static readonly ConcurrentDictionary<long, bool> NotComparable = new();

    private static int knownCount;

    /// <param name="Template">A deep copy of the template, never changed, compared with <c>IsExactly</c>.</param>
    /// <param name="Text">The shape as <see cref="ObservationKeys.Serializer"/> spells it.</param>
    /// <param name="Id">The FNV-1a hash of <paramref name="Text"/>.</param>
    private sealed record KnownShape(Observation Template, string Text, long Id);

    /// <summary>Splits <paramref name="observation"/> (never changed).</summary>
    public static SplitObservation Split(Observation observation)
    {
        var id = observation.Id ?? throw new ArgumentException("an Observation must have an id to be stored", nameof(observation));
        var effectiveMs = ObservationKeys.EffectiveMilliseconds(observation);
        var parts = Parts(observation, id, effectiveMs, out var template);
        if (parts is null || template is null)
        {
            return new SplitObservation(null, 0, null, ObservationKeys.Serializer.SerializeToString(observation));
        }

        var (shape, shapeId) = Identify(template);
        return new SplitObservation(shape, shapeId, parts, null);
    }

    /// <summary>The text and id of <paramref name="template"/>'s shape, from <see cref="Known"/> when it was met before.</summary>
    private static (string Text, long Id) Identify(Observation template)
    {
        var coding = template.Code?.Coding.Count > 0 ? template.Code.Coding[0] : null;
        var key = (coding?.System, coding?.Code);
        var known = Known.GetValueOrDefault(key, []);
        foreach (var shape in known)
        {
            if (template.IsExactly(shape.Template))
            {
                return (shape.Text, shape.Id);
            }
        }

        var text = ObservationKeys.Serializer.SerializeToString(template);
        var id = unchecked((long)ObservationPoint.Fnv1a(text));
        if (known.Length >= MaxKnownPerCode || NotComparable.ContainsKey(id))
        {
            return (text, id);
        }

        if (!SpelledByValueOnly(template))
        {
            if (NotComparable.Count >= MaxParsedShapes)
            {
                NotComparable.Clear();
            }

            NotComparable[id] = true;
            return (text, id);
        }

        // Bounded overall too: codes are open-ended (a device may send any LOINC code).
        if (Interlocked.Increment(ref knownCount) > MaxParsedShapes)
        {
            Known.Clear();
            Volatile.Write(ref knownCount, 0);
        }

        // A race adds a shape twice at worst, which only costs a comparison.
        Known[key] = [.. known, new KnownShape((Observation)template.DeepCopy(), text, id)];

        return (text, id);
    }

    /// <summary>
    /// Whether every element of <paramref name="element"/> is written as its value alone, so that two templates that
    /// <c>IsExactly</c> calls equal have the same JSON. Not so for decimals: IsExactly finds 60.0 and 60 equal, which
    /// are written apart, so a template holding a decimal is serialised every time. (It compares the other primitives by
    /// what is written, instants with their offsets included: ObservationShapesTests.)
    /// </summary>
    private static bool SpelledByValueOnly(Base element)
    {
        foreach (var (_, value) in element.EnumerateElements())
        {
            var spelledByValue = value switch
            {
                FhirDecimal => false,
                Base child => SpelledByValueOnly(child),
                IEnumerable<Base> children => children.All(SpelledByValueOnly),
                _ => true,
            };
            if (!spelledByValue)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Rebuilds the Observation from its shape's JSON and its parts: the inverse of <see cref="Split"/>. The shape is
    /// parsed once per process and copied for each reading.
    /// </summary>
    public static Observation Rebuild(string shape, ReadingParts parts)
    {
        if (!Parsed.TryGetValue(shape, out var parsed))
        {
            // Bounded: a part the split leaves in the shape (a note per reading) makes a shape per reading.
            if (Parsed.Count >= MaxParsedShapes)
            {
                Parsed.Clear();
            }

            parsed = Parsed.GetOrAdd(shape, ObservationKeys.Parse);
        }

        var observation = (Observation)parsed.DeepCopy();
        observation.Id = parts.Id;
        if (parts.Subject is not null)
        {
            observation.Subject = new ResourceReference(parts.Subject);
        }

        if (parts.Device is not null)
        {
            observation.Device = new ResourceReference(parts.Device);
        }

        observation.Effective = new FhirDateTime(Spell(parts.EffectiveMs, parts.Style));
        if (parts.IssuedMs is { } issued)
        {
            observation.IssuedElement = IssuedAt(issued);
        }

        if (parts.Identifier is not null)
        {
            observation.Identifier[0].Value = parts.Identifier;
        }

        if (parts.Value is { } value)
        {
            ((Quantity)observation.Value!).Value = (decimal)value;
        }

        foreach (var (field, number) in parts.Components)
        {
            var component = observation.Component.First(c => ObservationKeys.ComponentKey(c) == field);
            ((Quantity)component.Value!).Value = (decimal)number;
        }

        return observation;
    }

    /// <summary>The effective time as <paramref name="style"/> spells it.</summary>
    public static string Spell(long milliseconds, EffectiveStyle style) => style switch
    {
        EffectiveStyle.UtcZ => DateTimeOffset.FromUnixTimeMilliseconds(milliseconds).UtcDateTime.ToString(
            milliseconds % 1000 == 0 ? "yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'" : "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z'", CultureInfo.InvariantCulture),
        EffectiveStyle.Firely => ObservationPoint.CanonicalDateTime(milliseconds),
        _ => throw new ArgumentOutOfRangeException(nameof(style), style, "unknown effective time style"),
    };

    /// <summary>The varying parts and the template without them, or null when something varying would stay in the shape.</summary>
    private static ReadingParts? Parts(Observation observation, string id, long effectiveMs, out Observation? template)
    {
        template = null;

        // The template's are these too: a shallow copy shares the list.
        var identifiers = ObservationKeys.IdentifiersOf(observation);
        if (!ObservationPoint.IsPlain(observation.IdElement)
            || (observation.Subject is not null && !ObservationPoint.IsPlainReference(observation.Subject))
            || (observation.Device is not null && !ObservationPoint.IsPlainReference(observation.Device))
            || observation.Effective is not FhirDateTime { Value: { } effectiveText } effective || !ObservationPoint.IsPlain(effective)
            || Style(effectiveText, effectiveMs) is not { } style
            || Issued(observation.IssuedElement) is not { } issuedMs
            || identifiers.Count > 1
            || (identifiers is [var onlyIdentifier] && !ObservationPoint.IsPlain(onlyIdentifier.ValueElement))
            || observation.Value is not (null or Quantity))
        {
            return null;
        }

        var copy = ObservationPoint.Template(observation);
        double? value = null;
        if (copy.Value is Quantity quantity && quantity.Value is not null)
        {
            value = ObservationPoint.TakeValue(quantity);
            if (quantity.Value is not null)
            {
                return null;
            }
        }

        // Most readings have no component: nothing allocated for them.
        var copyComponents = ObservationKeys.ComponentsOf(copy);
        List<(string Field, double Value)>? components = null;
        HashSet<string>? claimed = null;
        foreach (var component in copyComponents)
        {
            // The first component of a code owns its field, with or without a number (ObservationKeys.NumericFields).
            var key = ObservationKeys.ComponentKey(component);
            var owner = key is not null && (claimed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key);
            if (component.Value is null or Quantity { Value: null })
            {
                continue;
            }

            // A number the parts cannot name (no code, a later component of one code), not a quantity, or not exact as a double.
            if (!owner || component.Value is not Quantity componentQuantity
                || ObservationPoint.TakeValue(componentQuantity) is not { } number || componentQuantity.Value is not null)
            {
                return null;
            }

            (components ??= new List<(string Field, double Value)>(copyComponents.Count)).Add((key!, number));
        }

        string? identifier = null;
        if (identifiers is [var only])
        {
            // A copy of the identifier alone: its other elements stay shared, only read.
            var first = ObservationPoint.ShallowCopy(only);
            identifier = first.Value;
            first.ValueElement = null;
            copy.Identifier = [first];
        }

        copy.IdElement = null;
        copy.Subject = null;
        copy.Device = null;
        copy.Effective = null;
        copy.IssuedElement = null;
        template = copy;
        return new ReadingParts(
            id, observation.Subject?.Reference, observation.Device?.Reference, effectiveMs, style,
            issuedMs == long.MinValue ? null : issuedMs, identifier, value, (IReadOnlyList<(string Field, double Value)>?)components ?? []);
    }

    private static EffectiveStyle? Style(string text, long milliseconds) =>
        IsSpelled(text, milliseconds, EffectiveStyle.UtcZ) ? EffectiveStyle.UtcZ
        : IsSpelled(text, milliseconds, EffectiveStyle.Firely) ? EffectiveStyle.Firely
        : null;

    /// <summary>
    /// Whether <paramref name="text"/> is <see cref="Spell"/>'s text for <paramref name="milliseconds"/> in
    /// <paramref name="style"/>, without writing that text to a new string (twice per reading on the write path).
    /// </summary>
    internal static bool IsSpelled(ReadOnlySpan<char> text, long milliseconds, EffectiveStyle style)
    {
        // yyyy-MM-ddTHH:mm:ss, a fraction of at most 3 digits, then Z or +00:00.
        Span<char> spelled = stackalloc char[32];
        var time = DateTimeOffset.FromUnixTimeMilliseconds(milliseconds).UtcDateTime;
        if (!time.TryFormat(spelled, out var length, "yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture))
        {
            return false;
        }

        var fraction = (int)(((milliseconds % 1000) + 1000) % 1000);
        if (fraction != 0)
        {
            // UtcZ writes three digits; Firely drops the trailing zeros (.1, .12, .123).
            var digits = style == EffectiveStyle.Firely ? (fraction % 100 == 0 ? 1 : fraction % 10 == 0 ? 2 : 3) : 3;
            spelled[length++] = '.';
            fraction.TryFormat(spelled[length..], out _, "D3", CultureInfo.InvariantCulture);
            length += digits;
        }

        var zone = style switch
        {
            EffectiveStyle.UtcZ => "Z",
            EffectiveStyle.Firely => "+00:00",
            _ => throw new ArgumentOutOfRangeException(nameof(style), style, "unknown effective time style"),
        };
        zone.CopyTo(spelled[length..]);
        return text.SequenceEqual(spelled[..(length + zone.Length)]);
    }

    /// <summary>
    /// The issued time in milliseconds when it is rebuilt exactly from them (the text Firely writes for that UTC
    /// millisecond), <see cref="long.MinValue"/> when there is none, null when it does not fit.
    /// </summary>
    private static long? Issued(Instant? issued)
    {
        if (issued is null)
        {
            return long.MinValue;
        }

        // The text, not Firely's Value: that parses into a cache of the shared element (ObservationKeys.EffectiveTime).
        if (!ObservationPoint.IsPlain(issued) || issued.JsonValue is not string text || ObservationKeys.FullDateTime(text) is not { } value)
        {
            return null;
        }

        // What Firely writes for an Instant of a UTC DateTimeOffset is what it writes for a dateTime of one.
        var milliseconds = value.ToUnixTimeMilliseconds();
        return IsSpelled(text, milliseconds, EffectiveStyle.Firely) ? milliseconds : null;
    }

    private static Instant IssuedAt(long milliseconds) => new(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
}
