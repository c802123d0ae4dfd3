using Hl7.Fhir.Model;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// One FHIR Observation as one InfluxDB point, and back, exactly. The schema and the reasons for it are in SCHEMA.md
/// beside this file; keep the two in step.
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
    public const string FhirField = "fhir";
    public const string ComponentFieldPrefix = ObservationKeys.ComponentFieldPrefix;

    public const long NanosecondsPerMillisecond = 1_000_000;

    /// <summary>The first and last millisecond InfluxDB can store (its times are signed 64-bit nanoseconds).</summary>
    public static readonly long MinMilliseconds = (long.MinValue / NanosecondsPerMillisecond) + 1;

    public static readonly long MaxMilliseconds = (long.MaxValue / NanosecondsPerMillisecond) - 1;

    /// <summary>Appends the point of <paramref name="observation"/> to a nanosecond-precision writer.</summary>
    /// <param name="templates">Where the <c>fhir</c> field's JSON is cached (the process's own cache by default).</param>
    public static void Write(LineProtocolWriter writer, Observation observation, TemplateJsonCache? templates = null)
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

        var template = Template(observation);
        if (IsPlain(template.IdElement))
        {
            template.IdElement = null;
        }

        var patient = observation.Subject?.Reference;
        if (IsPlainReference(template.Subject))
        {
            template.Subject = null;
        }

        var device = observation.Device?.Reference;
        if (IsPlainReference(template.Device))
        {
            template.Device = null;
        }

        if (template.Effective is FhirDateTime effective && IsPlain(effective)
            && string.Equals(effective.Value, CanonicalDateTime(milliseconds), StringComparison.Ordinal))
        {
            template.Effective = null;
        }

        double? value;
        string? unit = null;
        if (template.Value is Quantity quantity)
        {
            value = TakeValue(quantity);
            unit = string.IsNullOrEmpty(quantity.Code) ? quantity.Unit : quantity.Code;
        }
        else
        {
            // valueInteger, valueBoolean (1 or 0): a field for queries only; the template keeps the value as written.
            value = ObservationKeys.ValueOf(template.Value);
        }

        var code = ObservationKeys.CodeToken(observation);
        writer.Measurement(Measurement)
            .Tag(CodeTag, code)
            .Tag(DeviceTag, device)
            .Tag(PatientTag, patient);

        HashSet<string>? claimed = null;
        foreach (var component in template.Component)
        {
            var key = ComponentKey(component);
            if (key is null || !(claimed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key))
            {
                continue;
            }

            if (component.Value is Quantity componentQuantity && TakeValue(componentQuantity) is { } componentValue)
            {
                writer.Field(key, componentValue);
            }
        }

        if (value is { } number)
        {
            writer.Field(ValueField, number);
        }

        if (!string.IsNullOrEmpty(unit))
        {
            writer.Field(UnitField, unit);
        }

        writer.Field(IdField, id);
        (templates ?? TemplateJsonCache.Shared).WriteField(writer, FhirField, code, template);
        writer.End(Timestamp(milliseconds, id));
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

        if (observation.Component.Count > 0)
        {
            var components = new List<Observation.ComponentComponent>(observation.Component.Count);
            foreach (var component in observation.Component)
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

    /// <summary>Rebuilds the Observation from a row of <c>SELECT *</c> (with <c>epoch=ns</c>).</summary>
    public static Observation Read(InfluxSeries series, InfluxRow row, Columns columns)
    {
        var json = row.GetString(columns.Fhir)
            ?? throw new InvalidDataException($"a point of {series.Name} has no '{FhirField}' field: it was not written by TeleSuivi");
        Observation observation;
        try
        {
            observation = ObservationKeys.Parse(json);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"the point of Observation {row.GetString(columns.Id)} holds FHIR JSON that does not parse: {ex.Message}", ex);
        }

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
            var nanoseconds = row.GetEpoch(columns.Time);
            var milliseconds = Math.DivRem(nanoseconds, NanosecondsPerMillisecond, out var rest) - (rest < 0 ? 1 : 0);
            observation.Effective = new FhirDateTime(CanonicalDateTime(milliseconds));
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

    internal static bool IsPlain(Element? element) => element is not null && element.ElementId is null && element.Extension.Count == 0;

    /// <summary>A reference that is only its <c>reference</c> text: rebuilt exactly from a tag.</summary>
    internal static bool IsPlainReference(ResourceReference? reference) =>
        reference is not null
        && !string.IsNullOrEmpty(reference.Reference)
        && reference.ElementId is null
        && reference.Extension.Count == 0
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

    /// <summary>The positions of the schema's columns in one series of <c>SELECT *</c>.</summary>
    public readonly record struct Columns(int Time, int Fhir, int Id, int Patient, int Device, int Value)
    {
        public static Columns Of(InfluxSeries series) => new(
            series.IndexOf("time"),
            series.IndexOf(FhirField),
            series.IndexOf(IdField),
            series.IndexOf(PatientTag),
            series.IndexOf(DeviceTag),
            series.IndexOf(ValueField));
    }
}
