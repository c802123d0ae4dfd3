using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using TeleSuivi.Server.Storage.Shapes;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// The <c>observation_shape</c> measurement of one database (SCHEMA.md, "Schema 2"): the adapter between
/// <see cref="ObservationShapes"/> and InfluxDB. It decides which shapes may be shared by the readings of every patient
/// (none that refers to a person or carries free text about one), remembers which (shape, hour) points influxd has
/// acknowledged so that each is written once, and reads shapes back, cached, for the rebuild.
/// </summary>
/// <remarks>
/// A shape point is written at the start of the UTC hour of the readings that use it, in the same request and before
/// them: retention drops whole shard groups (whole hours), so a reading never outlives its shape. Per store instance,
/// because what was acknowledged is a fact about one database.
/// </remarks>
internal sealed partial class ShapePoints(ILogger logger)
{
    public const string Measurement = "observation_shape";
    public const string ShapeTag = "shape";
    public const string JsonField = "json";

    /// <summary>
    /// Distinct shapes a process shares before it stores further new ones as whole JSON: each is a series of
    /// <c>observation_shape</c>, and an element that varies per reading yet stays in the shape (an extension carrying a
    /// measurement, say) would otherwise make one series per reading.
    /// </summary>
    internal const int MaxShapes = 10_000;

    /// <summary>(shape, hour) pairs remembered as stored; forgetting them only costs writing a shape point again.</summary>
    private const int MaxStoredHours = 65_536;

    private const long NanosecondsPerHour = 3_600_000_000_000;

    private readonly ConcurrentDictionary<long, Shape?> shapes = new();
    private readonly ConcurrentDictionary<(long Shape, long Hour), byte> stored = new();
    private int refusedForCount;

    /// <summary>
    /// The shape to store the split Observation under, or null when its readings must keep their whole JSON: no shape,
    /// a shape that holds a reference, narrative, note or contained resource (patient data: it must go with the
    /// patient's series on erasure), a 64-bit hash another shape already has, or too many shapes.
    /// </summary>
    public Shape? Admit(SplitObservation split)
    {
        if (split.Shape is null || split.Parts is null || split.ShapeId == NoShape)
        {
            return null;
        }

        if (shapes.TryGetValue(split.ShapeId, out var known))
        {
            return known is not null && string.Equals(known.Json, split.Shape, StringComparison.Ordinal) ? known : null;
        }

        if (shapes.Count >= MaxShapes)
        {
            if (Interlocked.Increment(ref refusedForCount) == 1)
            {
                LogTooManyShapes(MaxShapes);
            }

            return null;
        }

        var parsed = ObservationKeys.Parse(split.Shape);
        var shape = IsShareable(parsed) ? new Shape(split.ShapeId, split.Shape, parsed) : null;
        return shapes.GetOrAdd(split.ShapeId, shape) is { } kept && string.Equals(kept.Json, split.Shape, StringComparison.Ordinal) ? kept : null;
    }

    /// <summary>The shape id that says "whole JSON in <c>resource</c>"; a shape hashing to it is not shared.</summary>
    public const long NoShape = 0;

    /// <summary>Whether the shape point of the hour holding <paramref name="nanoseconds"/> is known to be stored.</summary>
    public bool IsStored(long shape, long nanoseconds) => stored.ContainsKey((shape, HourOf(nanoseconds)));

    /// <summary>Appends the shape point for the hour holding <paramref name="nanoseconds"/>; returns that hour.</summary>
    public static long Write(LineProtocolWriter writer, Shape shape, long nanoseconds)
    {
        var hour = HourOf(nanoseconds);
        writer.Measurement(Measurement).Tag(ShapeTag, TagValue(shape.Id)).Field(JsonField, shape.Json).End(hour);
        return hour;
    }

    /// <summary>Remembers shape points influxd acknowledged.</summary>
    public void MarkStored(IEnumerable<(long Shape, long Hour)> points)
    {
        foreach (var point in points)
        {
            if (stored.Count >= MaxStoredHours)
            {
                stored.Clear();
            }

            stored.TryAdd(point, 0);
        }
    }

    /// <summary>
    /// The shapes of <paramref name="ids"/> read from <c>observation_shape</c> when not already known: one request,
    /// one statement for all of them (the last point of each shape's series). A shape that is not there is an error of
    /// the database (a dropped measurement): the caller says which Observation needs it.
    /// </summary>
    public async Task<IReadOnlyDictionary<long, Shape>> ResolveAsync(
        IReadOnlyCollection<long> ids, Func<string, Dictionary<string, object?>, Task<InfluxQueryResult>> query)
    {
        var found = new Dictionary<long, Shape>(ids.Count);
        var missing = new List<long>();
        foreach (var id in ids)
        {
            if (shapes.TryGetValue(id, out var known) && known is not null)
            {
                found[id] = known;
            }
            else
            {
                missing.Add(id);
            }
        }

        if (missing.Count == 0)
        {
            return found;
        }

        var filter = new StringBuilder();
        var parameters = new Dictionary<string, object?>(missing.Count);
        for (var i = 0; i < missing.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"s{i}");
            parameters[name] = TagValue(missing[i]);
            filter.Append(i == 0 ? string.Empty : " OR ").Append(InfluxQl.QuoteIdentifier(ShapeTag)).Append(" = $").Append(name);
        }

        using var result = await query(
            $"SELECT {InfluxQl.QuoteIdentifier(JsonField)} FROM {InfluxQl.QuoteIdentifier(Measurement)} WHERE {filter} GROUP BY {InfluxQl.QuoteIdentifier(ShapeTag)} ORDER BY time DESC LIMIT 1",
            parameters);
        foreach (var series in result.Series)
        {
            if (series.Rows is not [var row, ..] || row.GetString(series.IndexOf(JsonField)) is not { } json
                || !series.Tags.TryGetValue(ShapeTag, out var tag) || !TryParseTag(tag, out var id))
            {
                continue;
            }

            if (unchecked((long)ObservationPoint.Fnv1a(json)) != id)
            {
                throw new InvalidDataException($"the shape stored under {tag} in {Measurement} does not hash to its id: the database was changed by hand");
            }

            // Read back: shared already, whatever this process would decide for a new one.
            var shape = new Shape(id, json, ObservationKeys.Parse(json));
            if (shapes.Count < MaxShapes)
            {
                shapes.TryAdd(id, shape);
            }

            found[id] = shape;
        }

        return found;
    }

    /// <summary>A shape id as its tag: 16 hex digits.</summary>
    public static string TagValue(long id) => id.ToString("x16", CultureInfo.InvariantCulture);

    private static bool TryParseTag(string tag, out long id) =>
        long.TryParse(tag, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out id);

    /// <summary>The start of the UTC hour holding <paramref name="nanoseconds"/>, in nanoseconds.</summary>
    internal static long HourOf(long nanoseconds) =>
        (Math.DivRem(nanoseconds, NanosecondsPerHour, out var rest) - (rest < 0 ? 1 : 0)) * NanosecondsPerHour;

    /// <summary>
    /// No element that points at or describes a person: references (performer, encounter, an identifier's assigner, an
    /// extension's value...), narrative, notes, contained resources. What remains is vocabulary (codes, displays,
    /// units, category, body site, method, profile, source): the same for every patient.
    /// </summary>
    private static bool IsShareable(Observation shape) => shape.EnumerateElements().All(child => HoldsNothingPersonal(child.Value));

    private static bool HoldsNothingPersonal(object? element) => element switch
    {
        ResourceReference or Narrative or Annotation or Resource => false,
        Base single => single.EnumerateElements().All(child => HoldsNothingPersonal(child.Value)),
        IEnumerable<Base> many => many.All(HoldsNothingPersonal),
        _ => true,
    };

    /// <summary>A shape as stored, and what the rebuild needs to know of it.</summary>
    public sealed class Shape(long id, string json, Observation parsed)
    {
        public long Id { get; } = id;

        public string Json { get; } = json;

        /// <summary>Whether <c>valueQuantity</c> is there without its number (which the <c>value</c> field then holds).</summary>
        public bool TakesValue { get; } = parsed.Value is Quantity { Value: null };

        /// <summary>The component fields whose number the shape lacks (the first component of each code, as the split takes them).</summary>
        public IReadOnlyList<string> TakesComponents { get; } = ComponentsWithoutNumber(parsed);

        /// <summary>Whether the shape has one identifier without its value.</summary>
        public bool TakesIdentifier { get; } = parsed.Identifier is [{ Value: null }];

        private static List<string> ComponentsWithoutNumber(Observation parsed)
        {
            var keys = new List<string>();
            var claimed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var component in parsed.Component)
            {
                if (ObservationKeys.ComponentKey(component) is { } key && claimed.Add(key) && component.Value is Quantity { Value: null })
                {
                    keys.Add(key);
                }
            }

            return keys;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} distinct Observation shapes written by this process: further new shapes are stored as whole JSON (an element that varies per reading stays in the shape? see SCHEMA.md, \"The shape\")")]
    private partial void LogTooManyShapes(int count);
}
