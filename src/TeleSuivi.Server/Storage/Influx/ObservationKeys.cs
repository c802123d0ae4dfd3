using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// What both stores index an Observation by, defined once so that they agree (kept here with the InfluxDB schema for
/// now; <see cref="SqliteObservationStore"/> uses it too).
/// </summary>
internal static class ObservationKeys
{
    /// <summary>Reads back what the stores wrote without validating it again: a stored Observation is returned as it was given.</summary>
    public static readonly FhirJsonDeserializer Deserializer = FhirJsonDeserializer.OSTRICH;

    public static readonly FhirJsonSerializer Serializer = new();

    /// <summary><c>system|code</c> of the first coding of <c>Observation.code</c> (the FHIR search token form), or empty.</summary>
    public static string CodeToken(Observation observation)
    {
        var coding = observation.Code?.Coding.FirstOrDefault();
        return coding is null ? string.Empty : $"{coding.System}|{coding.Code}";
    }

    /// <summary>The effective time in milliseconds since 1970: <c>effectiveDateTime</c>, the start of <c>effectivePeriod</c>, or <c>effectiveInstant</c>.</summary>
    public static long EffectiveMilliseconds(Observation observation) =>
        EffectiveTime(observation)?.ToUnixTimeMilliseconds()
        ?? throw new ArgumentException($"Observation {observation.Id} has no effective time", nameof(observation));

    /// <summary>
    /// The effective time (<c>effectiveDateTime</c>, the start of <c>effectivePeriod</c>, or <c>effectiveInstant</c>) with
    /// the offset it was written with, or null when there is none or it is not a whole dateTime. Safe to call from
    /// several threads on one Observation: Firely's <see cref="FhirDateTime"/> caches its parse in the element without
    /// a lock, and two threads parsing one element at once can see the cache emptied under them (a
    /// NullReferenceException from the alert engine in <c>demo</c>: the ingest pipeline hands each new Observation to the
    /// store, the alert engine and the risk scorer at once). So the text is read here, and a spelling this does not read
    /// is parsed by Firely from an element of its own.
    /// </summary>
    public static DateTimeOffset? EffectiveTime(Observation observation) => observation.Effective switch
    {
        FhirDateTime { Value: { } text } => ReadDateTime(text),
        Period { StartElement.Value: { } start } => ReadDateTime(start),
        Instant { JsonValue: string text } => ReadDateTime(text),
        _ => null,
    };

    private static DateTimeOffset? ReadDateTime(string text) =>
        FullDateTime(text) ?? (new FhirDateTime(text).TryToDateTimeOffset(out var value) ? value : null);

    /// <summary>
    /// A dateTime given to the second with an offset (<c>2026-01-15T08:00:00Z</c>, <c>…T08:00:00.123+01:00</c>: what
    /// devices and ingestion write), read directly; null for any other spelling, which Firely's parser reads (about ten
    /// times slower, and it is read several times per reading on the write path). The same value and offset as
    /// Firely's for every string it accepts (ObservationShapesTests).
    /// </summary>
    internal static DateTimeOffset? FullDateTime(string text)
    {
        // yyyy-MM-ddTHH:mm:ss, then an optional fraction of 1 to 7 digits, then Z or ±hh:mm.
        if (text.Length < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':'
            || Digits(text, 0, 4) is not (>= 1 and var year) || Digits(text, 5, 2) is not (>= 1 and <= 12 and var month)
            || Digits(text, 8, 2) is not { } day || day < 1 || day > DateTime.DaysInMonth(year, month)
            || Digits(text, 11, 2) is not (<= 23 and var hour) || Digits(text, 14, 2) is not (<= 59 and var minute)
            || Digits(text, 17, 2) is not (<= 59 and var second))
        {
            return null;
        }

        var at = 19;
        var ticks = 0L;
        if (text[at] == '.')
        {
            var digits = 0;
            while (at + 1 + digits < text.Length && char.IsAsciiDigit(text[at + 1 + digits]))
            {
                digits++;
            }

            if (digits is 0 or > 7)
            {
                return null;
            }

            ticks = Digits(text, at + 1, digits)!.Value * (long)Math.Pow(10, 7 - digits);
            at += 1 + digits;
        }

        TimeSpan offset;
        if (text.Length == at + 1 && text[at] == 'Z')
        {
            offset = TimeSpan.Zero;
        }
        else if (text.Length == at + 6 && text[at] is '+' or '-' && text[at + 3] == ':'
            && Digits(text, at + 1, 2) is (<= 14 and var offsetHours) && Digits(text, at + 4, 2) is (<= 59 and var offsetMinutes)
            && (offsetHours < 14 || offsetMinutes == 0))
        {
            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            offset = text[at] == '-' ? -offset : offset;
        }
        else
        {
            return null;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(ticks);

        // An instant before year 1 or after 9999 in UTC (0001-01-01T00:00:00+01:00) is left to Firely, as everything it refuses.
        var utcTicks = local.Ticks - offset.Ticks;
        return utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks ? null : new DateTimeOffset(local, offset);
    }

    /// <summary>The number written by <paramref name="count"/> ASCII digits at <paramref name="start"/>, or null.</summary>
    private static int? Digits(string text, int start, int count)
    {
        var number = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!char.IsAsciiDigit(text[i]))
            {
                return null;
            }

            number = (number * 10) + (text[i] - '0');
        }

        return number;
    }

    public static Observation Parse(string json) => Deserializer.Deserialize<Observation>(json);

    // Reads of an Observation that never change it. Firely's list properties create an empty list and store it in the
    // element the first time they are read. The ingest pipeline hands one Observation to the store, the alert engine
    // and the risk scorer at once, so such a read is a write racing with the others; and on a reading that has
    // outlived a collection or two, each of those lists is a young object referenced from an old one, which the
    // garbage collector must promote (about ten lists per reading written: most of the SQLite ingest benchmark's GC
    // pauses, BENCHMARKS.md "Storage", eighth round). Firely's TryGetValue reads the field without creating it.

    /// <summary>The components, or none, without creating the list.</summary>
    public static IReadOnlyList<Observation.ComponentComponent> ComponentsOf(Observation observation) =>
        ListOf<Observation.ComponentComponent>(observation, "component");

    /// <summary>The identifiers, or none, without creating the list.</summary>
    public static IReadOnlyList<Identifier> IdentifiersOf(Observation observation) => ListOf<Identifier>(observation, "identifier");

    /// <summary>The notes, or none, without creating the list.</summary>
    public static IReadOnlyList<Annotation> NotesOf(Observation observation) => ListOf<Annotation>(observation, "note");

    /// <summary>Whether the element has any extension, without creating its list.</summary>
    public static bool HasExtensions(Element element) => element.TryGetValue("extension", out _);

    private static IReadOnlyList<T> ListOf<T>(Base element, string name) =>
        element.TryGetValue(name, out var list) && list is IReadOnlyList<T> items ? items : [];

    /// <summary>The name of the Observation's own numeric value among its numeric fields.</summary>
    public const string ValueField = "value";

    /// <summary>The prefix of a component's numeric field: <c>c:</c> and the code of the component's first coding.</summary>
    public const string ComponentFieldPrefix = "c:";

    /// <summary>
    /// The numbers trends, aggregates and the board work on, as both stores keep them: <c>value</c> for
    /// <c>valueQuantity.value</c> (or <c>valueInteger</c>, or <c>valueBoolean</c> as 1 or 0), and <c>c:&lt;code&gt;</c> for the
    /// <c>valueQuantity.value</c> of the first component whose first coding has that code (a later component with the
    /// same code is not a field). The InfluxDB schema (SCHEMA.md) writes exactly these fields.
    /// </summary>
    public static IEnumerable<(string Field, double Value)> NumericFields(Observation observation)
    {
        if (ValueOf(observation.Value) is { } value)
        {
            yield return (ValueField, value);
        }

        HashSet<string>? claimed = null;
        foreach (var component in ComponentsOf(observation))
        {
            var key = ComponentKey(component);
            if (key is null || !(claimed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key))
            {
                continue;
            }

            if (component.Value is Quantity { Value: { } number })
            {
                yield return (key, (double)number);
            }
        }
    }

    /// <summary>The field key of a component's value: <c>c:</c> and the code of its first coding (e.g. <c>c:8480-6</c>).</summary>
    public static string? ComponentKey(Observation.ComponentComponent component) =>
        component.Code?.Coding.FirstOrDefault()?.Code is { Length: > 0 } code ? ComponentFieldPrefix + code : null;

    /// <summary>The unit of <c>valueQuantity</c>: its UCUM code, or its text when it has no code; null otherwise.</summary>
    public static string? UnitOf(Observation observation) =>
        observation.Value is Quantity quantity ? (string.IsNullOrEmpty(quantity.Code) ? quantity.Unit : quantity.Code) : null;

    /// <summary>The Observation's own value as a number: a quantity's value, an integer, a boolean as 1 or 0; else null.</summary>
    public static double? ValueOf(DataType? value) => value switch
    {
        Quantity { Value: { } number } => (double)number,
        Integer { Value: { } number } => number,
        FhirBoolean { Value: { } flag } => flag ? 1 : 0,
        _ => null,
    };
}
