using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Storage.Shapes;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// One FHIR Observation as one InfluxDB point, and back, exactly: schema 2, the parts that vary between readings as
/// typed fields beside the id of the shape they fill (<see cref="ShapePoints"/>); schema 1 points are still read. The
/// schema and the reasons for it are in SCHEMA.md beside this file; keep the two in step.
/// </summary>
internal static class ObservationPoint
{
    public const string Measurement = "observation";
    public const string CodeTag = "code";
    public const string DeviceTag = "device";
    public const string PatientTag = "patient";
    public const string IdField = "id";
    public const string ValueField = ObservationKeys.ValueField;
    public const string UnitField = "unit";
    public const string ShapeField = "shape";
    public const string StyleField = "style";
    public const string IssuedField = "issued";
    public const string IdentifierField = "identifier";
    public const string ResourceField = "resource";

    /// <summary>The field of schema 1 (SCHEMA.md): the Observation without what the tags and fields hold. Read, no longer written.</summary>
    public const string FhirField = "fhir";

    /// <summary>A bit of <see cref="StyleField"/> above the <see cref="EffectiveStyle"/>: the identifier is the reading's natural key.</summary>
    internal const long IdentifierFromNaturalKey = 16;

    /// <summary>
    /// Where <see cref="StyleField"/> keeps the number of fields its line carries (bits 8 and up): a reader that sees fewer
    /// is looking at a point influxd has not finished storing (SCHEMA.md, "Points being written"). 0 in points written
    /// before it existed.
    /// </summary>
    internal const int FieldCountShift = 8;

    private const long StyleMask = 15;
    public const string ComponentFieldPrefix = ObservationKeys.ComponentFieldPrefix;

    public const long NanosecondsPerMillisecond = 1_000_000;

    /// <summary>The first and last millisecond InfluxDB can store (its times are signed 64-bit nanoseconds).</summary>
    public static readonly long MinMilliseconds = (long.MinValue / NanosecondsPerMillisecond) + 1;

    public static readonly long MaxMilliseconds = (long.MaxValue / NanosecondsPerMillisecond) - 1;

    /// <summary>
    /// Appends the point of <paramref name="observation"/> to a nanosecond-precision writer (schema 2, SCHEMA.md): its
    /// varying parts as typed fields and the id of its shape, preceded by the shape's own point when
    /// <paramref name="shapes"/> does not know it stored for that hour and this request does not carry it yet
    /// (<paramref name="shapePoints"/>, to which it is added). An Observation whose parts do not fit keeps its whole JSON.
    /// </summary>
    public static void Write(LineProtocolWriter writer, Observation observation, ShapePoints shapes, HashSet<(long Shape, long Hour)> shapePoints)
    {
        if (writer.Precision != TimePrecision.Nanoseconds)
        {
            throw new ArgumentException("observations are written with nanosecond timestamps", nameof(writer));
        }

        var id = observation.Id;
        if (string.IsNullOrEmpty(id))
        {
            throw new ArgumentException("an Observation must have an id to be stored", nameof(observation));
        }

        var milliseconds = ObservationKeys.EffectiveMilliseconds(observation);
        if (milliseconds < MinMilliseconds || milliseconds > MaxMilliseconds)
        {
            throw new ArgumentException($"Observation {id} is dated outside what InfluxDB can store (1677-09-21 to 2262-04-11)", nameof(observation));
        }

        var timestamp = Timestamp(milliseconds, id);
        var split = ObservationShapes.Split(observation);
        var shape = shapes.Admit(split);
        if (shape is not null && !shapes.IsStored(shape.Id, timestamp) && !shapePoints.Contains((shape.Id, ShapePoints.HourOf(timestamp))))
        {
            shapePoints.Add((shape.Id, ShapePoints.Write(writer, shape, timestamp)));
        }

        var code = ObservationKeys.CodeToken(observation);
        var device = observation.Device?.Reference;
        writer.Measurement(Measurement)
            .Tag(CodeTag, code)
            .Tag(DeviceTag, device)
            .Tag(PatientTag, observation.Subject?.Reference);
        var fields = 0;
        foreach (var (field, number) in ObservationKeys.NumericFields(observation))
        {
            writer.Field(field, number);
            fields++;
        }

        if (ObservationKeys.UnitOf(observation) is { Length: > 0 } unit)
        {
            writer.Field(UnitField, unit);
            fields++;
        }

        writer.Field(IdField, id);
        fields++;
        if (shape is not null && split.Parts is { } parts)
        {
            var style = (long)parts.Style;
            if (parts.Identifier is not null && string.Equals(parts.Identifier, NaturalKey(device, code, milliseconds, parts.Style), StringComparison.Ordinal))
            {
                style |= IdentifierFromNaturalKey;
            }
            else if (parts.Identifier is not null)
            {
                writer.Field(IdentifierField, parts.Identifier);
                fields++;
            }

            // shape and style, and issued when there is one.
            fields += parts.IssuedMs is null ? 2 : 3;
            style |= (long)fields << FieldCountShift;
            writer.Field(ShapeField, shape.Id).Field(StyleField, style);
            if (parts.IssuedMs is { } issued)
            {
                writer.Field(IssuedField, issued);
            }
        }
        else
        {
            writer.Field(ShapeField, ShapePoints.NoShape)
                .Field(ResourceField, split.OwnJson ?? ObservationKeys.Serializer.SerializeToString(observation));
        }

        writer.End(timestamp);
    }

    /// <summary>
    /// The identifier value the ingestion gives a reading, <c>{device id}|{code}|{effective time as written}</c>
    /// (<c>NormalisedObservation.NaturalKey</c>), from what the point holds anyway; null without a device.
    /// </summary>
    internal static string? NaturalKey(string? device, string codeToken, long milliseconds, EffectiveStyle style)
    {
        if (string.IsNullOrEmpty(device))
        {
            return null;
        }

        var bar = codeToken.IndexOf('|', StringComparison.Ordinal);
        var slash = device.IndexOf('/', StringComparison.Ordinal);
        return string.Concat(device[(slash + 1)..], "|", codeToken[(bar + 1)..], "|", ObservationShapes.Spell(milliseconds, style));
    }

    /// <summary>
    /// A copy of the Observation to strip the parts the point carries from, sharing every element it does not change:
    /// the top level, the value quantity and each component with its quantity are new objects (their values are taken
    /// out), the rest (codings, identifiers, extensions...) is the caller's, only read. A deep copy cost as much as a
    /// fifth of the write path's CPU time (BENCHMARKS.md, "Storage"); the caller's Observation is never changed.
    /// </summary>
    internal static Observation Template(Observation observation)
    {
        var template = ShallowCopy(observation);
        if (observation.Value is Quantity quantity)
        {
            template.Value = ShallowCopy(quantity);
        }

        if (ObservationKeys.ComponentsOf(observation) is { Count: > 0 } originals)
        {
            var components = new List<Observation.ComponentComponent>(originals.Count);
            foreach (var component in originals)
            {
                var copy = ShallowCopy(component);
                if (component.Value is Quantity componentQuantity)
                {
                    copy.Value = ShallowCopy(componentQuantity);
                }

                components.Add(copy);
            }

            template.Component = components;
        }

        return template;
    }

    /// <summary>
    /// <see cref="object.MemberwiseClone"/> of a FHIR element: its fields copied, the objects they point to shared. Firely's
    /// elements keep their children in private fields, so setting a property of the copy leaves the original as it was.
    /// </summary>
    internal static T ShallowCopy<T>(T element)
        where T : Base => (T)MemberwiseCloneOf(element);

    private static readonly Func<object, object> MemberwiseCloneOf = typeof(object)
        .GetMethod(nameof(MemberwiseClone), System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!
        .CreateDelegate<Func<object, object>>();

    /// <summary>
    /// The point's time: the effective millisecond, plus a sub-millisecond offset drawn from the id, so that two
    /// different Observations of one series in one millisecond are two points, and one Observation written twice is
    /// one point.
    /// </summary>
    public static long Timestamp(long milliseconds, string id) => (milliseconds * NanosecondsPerMillisecond) + Offset(id);

    /// <summary>
    /// Rebuilds the Observation from a row of <c>SELECT *</c> (with <c>epoch=ns</c>): schema 2 from its shape (in
    /// <paramref name="shapes"/>, see <see cref="ShapeIdOf"/>) and parts, or from its whole JSON; schema 1 from its
    /// <c>fhir</c> field.
    /// </summary>
    public static Observation Read(InfluxSeries series, InfluxRow row, Columns columns, IReadOnlyDictionary<long, ShapePoints.Shape> shapes)
    {
        if (row.GetInt64(columns.Shape) is not { } shapeId)
        {
            return ReadVersion1(series, row, columns);
        }

        var id = row.GetString(columns.Id)
            ?? throw new InvalidDataException($"a point of {series.Name} has a '{ShapeField}' field and no '{IdField}': it was not written by TeleSuivi");
        if (shapeId == ShapePoints.NoShape)
        {
            var json = row.GetString(columns.Resource)
                ?? throw new InvalidDataException($"the point of Observation {id} has neither a shape nor its '{ResourceField}' field");
            return Parse(json, id);
        }

        if (!shapes.TryGetValue(shapeId, out var shape))
        {
            throw new InvalidDataException(
                $"the shape {ShapePoints.TagValue(shapeId)} of Observation {id} is not in {ShapePoints.Measurement}: that measurement must never be dropped (SCHEMA.md)");
        }

        var milliseconds = FloorMilliseconds(row.GetEpoch(columns.Time));
        var flags = row.GetInt64(columns.Style) ?? 0;
        var style = (EffectiveStyle)(flags & StyleMask);
        var patient = row.GetString(columns.Patient);
        var device = row.GetString(columns.Device);
        var identifier = !shape.TakesIdentifier ? null
            : (flags & IdentifierFromNaturalKey) != 0 ? NaturalKey(device, series.Tags.GetValueOrDefault(CodeTag) ?? row.GetString(columns.Code) ?? string.Empty, milliseconds, style)
            : row.GetString(columns.Identifier);
        var components = new List<(string Field, double Value)>(shape.TakesComponents.Count);
        foreach (var key in shape.TakesComponents)
        {
            if (row.GetDouble(series.IndexOf(key)) is { } number)
            {
                components.Add((key, number));
            }
        }

        var parts = new ReadingParts(
            id,
            patient,
            device,
            milliseconds,
            style,
            row.GetInt64(columns.Issued),
            identifier,
            shape.TakesValue ? row.GetDouble(columns.Value) : null,
            components);
        return ObservationShapes.Rebuild(shape.Json, parts);
    }

    /// <summary>
    /// Whether a row of <c>SELECT *</c> is a whole point of this schema. influxd 1.x stores the fields of a point one by
    /// one (one cache entry per series and field, in no set order) and a query reads each field with its own cursor,
    /// so a query that runs while a point is being stored can return a row with only some of its fields, and the
    /// point's shape point (written in the same request) may not be visible yet either. Such a row is
    /// <see cref="PointState.BeingWritten"/>, with <paramref name="missing"/> saying what it lacks; a row that carries
    /// no field of this schema at all is <see cref="PointState.Foreign"/>.
    /// </summary>
    public static PointState StateOf(InfluxSeries series, InfluxRow row, Columns columns, IReadOnlyDictionary<long, ShapePoints.Shape> shapes, out string? missing)
    {
        missing = null;
        if (row.GetInt64(columns.Shape) is not { } shapeId)
        {
            if (!row.IsNull(columns.Fhir))
            {
                return PointState.Whole;
            }

            missing = $"no '{ShapeField}' field";
            return CarriesFieldsOfThisSchema(series, row, columns) ? PointState.BeingWritten : PointState.Foreign;
        }

        if (row.IsNull(columns.Id))
        {
            missing = $"no '{IdField}' field";
        }
        else if (shapeId == ShapePoints.NoShape)
        {
            missing = row.IsNull(columns.Resource) ? $"no '{ResourceField}' field" : null;
        }
        else if (row.GetInt64(columns.Style) is not { } style)
        {
            missing = $"no '{StyleField}' field";
        }
        else if (!shapes.ContainsKey(shapeId))
        {
            missing = $"its shape {ShapePoints.TagValue(shapeId)} is not in {ShapePoints.Measurement}";
        }
        else if (style >> FieldCountShift is var written and > 0 && FieldsOf(series, row, columns) is var seen && seen < written)
        {
            missing = string.Create(CultureInfo.InvariantCulture, $"{seen} of its {written} fields");
        }

        return missing is null ? PointState.Whole : PointState.BeingWritten;
    }

    /// <summary>Whether the row has a field this schema writes to every point or to some (a foreign point has none).</summary>
    private static bool CarriesFieldsOfThisSchema(InfluxSeries series, InfluxRow row, Columns columns)
    {
        if (!row.IsNull(columns.Id) || !row.IsNull(columns.Value) || !row.IsNull(columns.Style) || !row.IsNull(columns.Issued)
            || !row.IsNull(columns.Identifier) || !row.IsNull(columns.Resource) || !row.IsNull(series.IndexOf(UnitField)))
        {
            return true;
        }

        for (var i = 0; i < series.Columns.Count; i++)
        {
            if (series.Columns[i].StartsWith(ComponentFieldPrefix, StringComparison.Ordinal) && !row.IsNull(i))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The fields the row has: every cell that is not the time or one of this schema's tags. A field left by an earlier
    /// write of the point (fields are never removed) counts too, so a point written again is never taken for one being written.
    /// </summary>
    private static int FieldsOf(InfluxSeries series, InfluxRow row, Columns columns)
    {
        var count = 0;
        for (var i = 0; i < series.Columns.Count; i++)
        {
            if (i != columns.Time && i != columns.Patient && i != columns.Device && i != columns.Code && !row.IsNull(i))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The shape a row of schema 2 needs, or null (schema 1, or its whole JSON).</summary>
    public static long? ShapeIdOf(InfluxRow row, Columns columns) =>
        row.GetInt64(columns.Shape) is { } id && id != ShapePoints.NoShape ? id : null;

    private static Observation Parse(string json, string? id)
    {
        try
        {
            return ObservationKeys.Parse(json);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"the point of Observation {id} holds FHIR JSON that does not parse: {ex.Message}", ex);
        }
    }

    /// <summary>Schema 1: the <c>fhir</c> field is the Observation without what the tags and fields hold, put back here.</summary>
    private static Observation ReadVersion1(InfluxSeries series, InfluxRow row, Columns columns)
    {
        var json = row.GetString(columns.Fhir)
            ?? throw new InvalidDataException($"a point of {series.Name} has no '{FhirField}' nor '{ShapeField}' field: it was not written by TeleSuivi");
        var observation = Parse(json, row.GetString(columns.Id));

        if (observation.IdElement is null && row.GetString(columns.Id) is { } id)
        {
            observation.Id = id;
        }

        if (observation.Subject is null && row.GetString(columns.Patient) is { } patient)
        {
            observation.Subject = new ResourceReference(patient);
        }

        if (observation.Device is null && row.GetString(columns.Device) is { } device)
        {
            observation.Device = new ResourceReference(device);
        }

        if (observation.Effective is null)
        {
            observation.Effective = new FhirDateTime(CanonicalDateTime(FloorMilliseconds(row.GetEpoch(columns.Time))));
        }

        if (observation.Value is Quantity { Value: null } quantity && row.GetDouble(columns.Value) is { } value)
        {
            quantity.Value = (decimal)value;
        }

        HashSet<string>? claimed = null;
        foreach (var component in observation.Component)
        {
            var key = ComponentKey(component);
            if (key is null || !(claimed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key))
            {
                continue;
            }

            if (component.Value is Quantity { Value: null } componentQuantity
                && row.GetDouble(series.IndexOf(key)) is { } componentValue)
            {
                componentQuantity.Value = (decimal)componentValue;
            }
        }

        return observation;
    }

    private static long FloorMilliseconds(long nanoseconds) =>
        Math.DivRem(nanoseconds, NanosecondsPerMillisecond, out var rest) - (rest < 0 ? 1 : 0);

    /// <summary>
    /// How <c>effectiveDateTime</c> is written when it is rebuilt from the point's time: what Firely writes for a UTC
    /// <see cref="DateTimeOffset"/> at millisecond precision, e.g. <c>2026-01-15T08:00:00.123+00:00</c>. Any other
    /// spelling of the time is kept verbatim in the <c>fhir</c> field instead.
    /// </summary>
    public static string CanonicalDateTime(long milliseconds) =>
        new FhirDateTime(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds)).Value!;

    /// <summary>The field key of a component's value: <c>c:</c> and the code of its first coding (e.g. <c>c:8480-6</c>).</summary>
    public static string? ComponentKey(Observation.ComponentComponent component) => ObservationKeys.ComponentKey(component);

    /// <summary>
    /// The value of a quantity as a float field. When the double converts back to the very same decimal (digits and
    /// scale: 72.5 yes, 72.50 or 17 significant digits no), the value is removed from the template and rebuilt from
    /// the field; otherwise it stays in the template too, and the field only serves queries.
    /// </summary>
    internal static double? TakeValue(Quantity quantity)
    {
        if (quantity.Value is not { } exact)
        {
            return null;
        }

        var number = (double)exact;
        if (IsPlain(quantity.ValueElement) && SameDecimal((decimal)number, exact))
        {
            quantity.Value = null;
        }

        return number;
    }

    private static bool SameDecimal(decimal left, decimal right)
    {
        Span<int> a = stackalloc int[4];
        Span<int> b = stackalloc int[4];
        decimal.GetBits(left, a);
        decimal.GetBits(right, b);
        return a.SequenceEqual(b);
    }

    internal static bool IsPlain(Element? element) => element is not null && element.ElementId is null && !ObservationKeys.HasExtensions(element);

    /// <summary>A reference that is only its <c>reference</c> text: rebuilt exactly from a tag.</summary>
    internal static bool IsPlainReference(ResourceReference? reference) =>
        reference is not null
        && !string.IsNullOrEmpty(reference.Reference)
        && reference.ElementId is null
        && !ObservationKeys.HasExtensions(reference)
        && IsPlain(reference.ReferenceElement)
        && reference.TypeElement is null
        && reference.Identifier is null
        && reference.DisplayElement is null;

    /// <summary>FNV-1a (64-bit) of the id's UTF-8 bytes, modulo one million: stable across processes and versions.</summary>
    internal static long Offset(string id) => (long)(Fnv1a(id) % NanosecondsPerMillisecond);

    /// <summary>FNV-1a (64-bit) of the id's UTF-8 bytes: stable across processes and versions.</summary>
    internal static ulong Fnv1a(string id)
    {
        const ulong offsetBasis = 14695981039346656037;
        const ulong prime = 1099511628211;
        var hash = offsetBasis;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in id.EnumerateRunes())
        {
            var count = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < count; i++)
            {
                hash = (hash ^ utf8[i]) * prime;
            }
        }

        return hash;
    }

    /// <summary>What <see cref="StateOf"/> makes of a row.</summary>
    public enum PointState
    {
        /// <summary>Everything the point was written with is there.</summary>
        Whole,

        /// <summary>Some fields of a point of this schema, not all: influxd is storing it, or it was damaged.</summary>
        BeingWritten,

        /// <summary>No field of this schema: a point TeleSuivi did not write.</summary>
        Foreign,
    }

    /// <summary>The positions of the schema's columns in one series of <c>SELECT *</c>.</summary>
    public readonly record struct Columns(
        int Time, int Fhir, int Id, int Patient, int Device, int Code, int Value, int Shape, int Style, int Issued, int Identifier, int Resource)
    {
        public static Columns Of(InfluxSeries series) => new(
            series.IndexOf("time"),
            series.IndexOf(FhirField),
            series.IndexOf(IdField),
            series.IndexOf(PatientTag),
            series.IndexOf(DeviceTag),
            series.IndexOf(CodeTag),
            series.IndexOf(ValueField),
            series.IndexOf(ShapeField),
            series.IndexOf(StyleField),
            series.IndexOf(IssuedField),
            series.IndexOf(IdentifierField),
            series.IndexOf(ResourceField));
    }
}
