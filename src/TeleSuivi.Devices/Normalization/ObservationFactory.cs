using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;

namespace TeleSuivi.Devices.Normalization;

/// <summary>Who and what a reading is about, known to the ingest worker rather than to the payload.</summary>
/// <param name="DeviceId">The device id of the MQTT topic; becomes <c>Device/{id}</c> and part of the Observation id.</param>
/// <param name="PatientId">The patient the device was assigned to at the reading's time, or null when unknown.</param>
/// <param name="ReceivedAt">When the platform received the message: <c>issued</c>, and the reference of the clock checks.</param>
/// <param name="Source">The decoder that read it ("withings", "gatt/2a35"), recorded in <c>meta.source</c>.</param>
public sealed record ObservationContext(string DeviceId, string? PatientId, DateTimeOffset ReceivedAt, string Source);

/// <summary>The limits of the clock check; null disables a check.</summary>
public sealed record ObservationFactoryOptions
{
    /// <summary>How far after the receive time a reading may be dated (device clocks drift).</summary>
    public TimeSpan? MaxFutureSkew { get; init; }

    /// <summary>How long before the receive time a reading may be dated (older readings are a wrong clock or a stale replay).</summary>
    public TimeSpan? MaxAge { get; init; }
}

/// <summary>An Observation, or the precise reason the reading is rejected.</summary>
/// <summary>Why a reading was rejected: the ingest pipeline counts and replays dead letters by kind.</summary>
public enum RejectionKind
{
    None,

    /// <summary>A value that cannot be right: impossible, in an unconvertible unit, or of an unknown measure or specimen.</summary>
    Invalid,

    /// <summary>A time too far in the future or too old relative to the receive time.</summary>
    Clock,
}

public readonly record struct ObservationOutcome(Observation? Observation, string? Error, RejectionKind Kind = RejectionKind.None)
{
    public bool Succeeded => Error is null;

    public static ObservationOutcome Rejected(string reason, RejectionKind kind = RejectionKind.Invalid) => new(null, reason, kind);
}

/// <summary>The Observations of one message, and the reason of every reading that was rejected.</summary>
/// <remarks>
/// Readings are independent: one impossible value does not discard its neighbours. Storing the accepted ones and
/// dead-lettering the message with the rejections is safe to replay, since the ids are deterministic.
/// </remarks>
public sealed record NormalizedMessage(IReadOnlyList<Observation> Observations, IReadOnlyList<string> Rejections);

/// <summary>
/// Normalises one decoded reading into a FHIR R4 Observation: catalogue codes, canonical UCUM unit, plausibility
/// and clock validation, and an id that depends only on (device, code, effective time) so a redelivered or
/// duplicated message overwrites the same Observation instead of adding a second one.
/// </summary>
public sealed class ObservationFactory(ObservationFactoryOptions? options = null)
{
    public const string IdentifierSystem = "https://telesuivi.org/fhir/observation-id";
    public const string BodySiteSystem = "https://telesuivi.org/fhir/CodeSystem/body-site";
    public const string SourcePrefix = "https://telesuivi.org/fhir/ingest/";
    public const string UcumSystem = "http://unitsofmeasure.org";

    /// <summary>A free-text measurement method a profile may set as a qualifier; written in <c>Observation.method</c>.</summary>
    public const string MethodQualifier = "method";

    private readonly ObservationFactoryOptions settings = options ?? new ObservationFactoryOptions();

    /// <summary>Normalises every reading of one decoded message.</summary>
    public NormalizedMessage CreateAll(IReadOnlyList<DecodedReading> readings, ObservationContext context)
    {
        var observations = new List<Observation>(readings.Count);
        List<string>? rejections = null;
        foreach (var reading in readings)
        {
            var outcome = Create(reading, context);
            if (outcome.Observation is { } observation)
            {
                observations.Add(observation);
            }
            else
            {
                (rejections ??= []).Add(outcome.Error!);
            }
        }

        return new NormalizedMessage(observations, rejections ?? (IReadOnlyList<string>)[]);
    }

    public ObservationOutcome Create(DecodedReading reading, ObservationContext context)
    {
        if (!MeasureCatalog.TryGet(reading.Measure, out var definition))
        {
            return ObservationOutcome.Rejected($"'{reading.Measure}' is not a measure of the catalogue");
        }

        var effective = TruncateToMilliseconds((reading.Time ?? context.ReceivedAt).ToUniversalTime());
        if (CheckClock(definition.Key, effective, context.ReceivedAt.ToUniversalTime()) is { } clockError)
        {
            return ObservationOutcome.Rejected(clockError, RejectionKind.Clock);
        }

        var code = definition.Code;
        var additional = definition.AdditionalCodings;
        if (reading.Qualifiers is { } qualifiers && qualifiers.TryGetValue(QualifierKeys.Specimen, out var specimen)
            && definition.SpecimenVariants.Count > 0)
        {
            if (!TryResolveSpecimen(definition, specimen, out var variant))
            {
                return ObservationOutcome.Rejected($"{definition.Key}: specimen '{specimen}' is not known");
            }

            if (variant.RejectReason is { } reason)
            {
                return ObservationOutcome.Rejected($"{definition.Key}: specimen '{specimen}' is {reason}");
            }

            if (variant.Code is { } specific && specific != definition.Code)
            {
                // The MDC code of the measure names one sample type too; it would contradict the specific code.
                code = specific;
                additional = [];
            }
        }

        var observation = new Observation
        {
            Status = ObservationStatus.Final,
            Category = [Concept(new MeasureCoding(MeasureCatalog.CategorySystemOf(definition.Category), definition.Category, MeasureCatalog.CategoryDisplay(definition.Category)))],
            Code = Concept(code, additional),
            Effective = new FhirDateTime(FormatInstant(effective)),
            IssuedElement = new Instant(TruncateToMilliseconds(context.ReceivedAt.ToUniversalTime())),
            Device = new ResourceReference("Device/" + context.DeviceId),
        };

        if (context.PatientId is { } patient)
        {
            observation.Subject = new ResourceReference("Patient/" + patient);
        }

        var error = definition.IsPanel
            ? FillPanel(observation, definition, reading)
            : FillValue(observation, definition, reading);
        if (error is not null)
        {
            return ObservationOutcome.Rejected(error);
        }

        var naturalKey = string.Concat(context.DeviceId, "|", code.Code, "|", FormatInstant(effective));
        observation.Id = IdOf(naturalKey);
        observation.Identifier = [new Identifier(IdentifierSystem, naturalKey)];
        observation.Meta = new Meta { Source = SourcePrefix + context.Source };
        // The vital-signs profiles require a subject: an Observation of an unassigned device does not conform yet.
        if (definition.FhirProfile is { } profile && code == definition.Code && observation.Subject is not null)
        {
            observation.Meta.Profile = [profile];
        }

        ApplyQualifiers(observation, reading.Qualifiers);
        return new ObservationOutcome(observation, null);
    }

    /// <summary>
    /// The FHIR id of the Observation with this natural key: the first 128 bits of its SHA-256 as lowercase hex
    /// (32 characters of [a-f0-9], a valid FHIR id), collision-free for any realistic number of readings.
    /// </summary>
    public static string IdOf(string naturalKey)
    {
        Span<byte> utf8 = naturalKey.Length <= 256 ? stackalloc byte[naturalKey.Length * 3] : new byte[naturalKey.Length * 3];
        var length = Encoding.UTF8.GetBytes(naturalKey, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>UTC with a "Z", and milliseconds only when the time has some.</summary>
    public static string FormatInstant(DateTimeOffset utc) =>
        utc.Millisecond == 0
            ? utc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : utc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private string? CheckClock(string measure, DateTimeOffset effective, DateTimeOffset received)
    {
        if (settings.MaxFutureSkew is { } skew && effective - received > skew)
        {
            return $"{measure}: time {FormatInstant(effective)} is {Describe(effective - received)} after the receive time " +
                   $"{FormatInstant(received)} (tolerance {Describe(skew)})";
        }

        if (settings.MaxAge is { } age && received - effective > age)
        {
            return $"{measure}: time {FormatInstant(effective)} is {Describe(received - effective)} before the receive time " +
                   $"{FormatInstant(received)} (limit {Describe(age)})";
        }

        return null;
    }

    private static string? FillValue(Observation observation, MeasureDefinition definition, DecodedReading reading)
    {
        if (reading.Values.Count != 1)
        {
            return $"{definition.Key}: expected one value, got {reading.Values.Count}";
        }

        var value = reading.Values[0];
        if (!string.Equals(value.Measure, definition.Key, StringComparison.Ordinal))
        {
            return $"{definition.Key}: the value is labelled '{value.Measure}'";
        }

        var error = Normalize(definition, value, out var element);
        observation.Value = element;
        return error;
    }

    private static string? FillPanel(Observation observation, MeasureDefinition panel, DecodedReading reading)
    {
        var components = new Observation.ComponentComponent?[panel.Components.Count];
        var canonical = new double[panel.Components.Count];
        foreach (var value in reading.Values)
        {
            var slot = IndexOf(panel.Components, value.Measure);
            if (slot < 0)
            {
                return $"{panel.Key}: '{value.Measure}' is not a component of the panel";
            }

            if (components[slot] is not null)
            {
                return $"{panel.Key}: {value.Measure} is given twice";
            }

            var definition = MeasureCatalog.Get(value.Measure);
            if (Normalize(definition, value, out var element) is { } error)
            {
                return error;
            }

            canonical[slot] = (double)((Quantity)element!).Value!.Value;
            components[slot] = new Observation.ComponentComponent { Code = Concept(definition.Code, definition.AdditionalCodings), Value = element };
        }

        foreach (var required in panel.RequiredComponents)
        {
            if (components[IndexOf(panel.Components, required)] is null)
            {
                return $"{panel.Key}: {required} is missing";
            }
        }

        if (panel.Key == "blood-pressure")
        {
            var systolic = IndexOf(panel.Components, "systolic-pressure");
            var diastolic = IndexOf(panel.Components, "diastolic-pressure");
            if (canonical[systolic] <= canonical[diastolic])
            {
                return FormattableString.Invariant(
                    $"blood-pressure: systolic {canonical[systolic]} mmHg is not above diastolic {canonical[diastolic]} mmHg, which is impossible");
            }
        }

        var list = new List<Observation.ComponentComponent>(components.Length);
        foreach (var component in components)
        {
            if (component is not null)
            {
                list.Add(component);
            }
        }

        observation.Component = list;
        return null;
    }

    /// <summary>Converts, rounds and checks one value; <paramref name="element"/> is the FHIR value[x] to write.</summary>
    private static string? Normalize(MeasureDefinition definition, DecodedValue value, out DataType? element)
    {
        element = null;
        if (!double.IsFinite(value.Value))
        {
            return FormattableString.Invariant($"{definition.Key}: value {value.Value} is not a number");
        }

        switch (definition.Kind)
        {
            case MeasureValueKind.YesNo:
                if (value.Value is not (0 or 1))
                {
                    return FormattableString.Invariant($"{definition.Key}: value {value.Value} is not 0 (no) or 1 (yes)");
                }

                element = new FhirBoolean(value.Value == 1);
                return null;

            case MeasureValueKind.Score:
                if (value.Value != Math.Floor(value.Value) || Math.Abs(value.Value) > int.MaxValue)
                {
                    return FormattableString.Invariant($"{definition.Key}: value {value.Value} is not an integer");
                }

                if (definition.Range is { } scoreRange && !scoreRange.Contains(value.Value))
                {
                    return FormattableString.Invariant(
                        $"{definition.Key} {value.Value} is impossible (allowed {scoreRange.Describe(definition.UnitDisplay)})");
                }

                element = new Integer((int)value.Value);
                return null;
        }

        if (!UnitConverter.TryGetConversion(value.Unit, definition.Unit, definition.MolarMass, out var conversion, out var unitError))
        {
            return $"{definition.Key}: {unitError}";
        }

        var converted = conversion.Apply(value.Value);
        var decimals = QuantityPrecision.DecimalsAfter(QuantityPrecision.DecimalsOf(value.Value), conversion.Scale);
        var rounded = QuantityPrecision.ToDecimal(converted, decimals);
        if (definition.Range is { } range && !range.Contains(converted))
        {
            var source = string.Equals(value.Unit, definition.Unit, StringComparison.Ordinal)
                ? string.Empty
                : FormattableString.Invariant($" ({value.Value} {value.Unit})");
            return FormattableString.Invariant(
                $"{definition.Key} {rounded} {definition.UnitDisplay}{source} is impossible (allowed {range.Describe(definition.UnitDisplay)})");
        }

        element = new Quantity
        {
            Value = rounded,
            Unit = definition.UnitDisplay,
            System = UcumSystem,
            Code = definition.Unit,
        };
        return null;
    }

    private static void ApplyQualifiers(Observation observation, IReadOnlyDictionary<string, string>? qualifiers)
    {
        if (qualifiers is null)
        {
            return;
        }

        if (qualifiers.TryGetValue(QualifierKeys.BodySite, out var site) && site.Length > 0)
        {
            observation.BodySite = new CodeableConcept(BodySiteSystem, site, site) { Text = site };
        }

        if (qualifiers.TryGetValue(MethodQualifier, out var method) && method.Length > 0)
        {
            observation.Method = new CodeableConcept { Text = method };
        }

        if (qualifiers.TryGetValue(QualifierKeys.DeviceStatus, out var status) && status.Length > 0)
        {
            // Irregular pulse or a loose cuff changes how a nurse reads the value: it travels with it.
            observation.Note = [new Annotation { Text = new Markdown("device status: " + status.Replace(",", ", ", StringComparison.Ordinal)) }];
        }
    }

    private static bool TryResolveSpecimen(MeasureDefinition definition, string specimen, out SpecimenVariant variant)
    {
        foreach (var candidate in definition.SpecimenVariants)
        {
            if (specimen.Contains(candidate.Keyword, StringComparison.OrdinalIgnoreCase))
            {
                variant = candidate;
                return true;
            }
        }

        variant = null!;
        return false;
    }

    private static CodeableConcept Concept(MeasureCoding primary, IReadOnlyList<MeasureCoding>? additional = null)
    {
        var concept = new CodeableConcept { Text = primary.Display };
        concept.Coding.Add(new Coding(primary.System, primary.Code, primary.Display));
        if (additional is not null)
        {
            foreach (var coding in additional)
            {
                concept.Coding.Add(new Coding(coding.System, coding.Code, coding.Display));
            }
        }

        return concept;
    }

    private static int IndexOf(IReadOnlyList<string> keys, string key)
    {
        for (var i = 0; i < keys.Count; i++)
        {
            if (string.Equals(keys[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private static DateTimeOffset TruncateToMilliseconds(DateTimeOffset time) =>
        new(time.Ticks - (time.Ticks % TimeSpan.TicksPerMillisecond), time.Offset);

    private static string Describe(TimeSpan span)
    {
        if (span.TotalDays >= 2)
        {
            return FormattableString.Invariant($"{Math.Floor(span.TotalDays)} d");
        }

        if (span.TotalHours >= 1)
        {
            return span.Minutes == 0
                ? FormattableString.Invariant($"{Math.Floor(span.TotalHours)} h")
                : FormattableString.Invariant($"{Math.Floor(span.TotalHours)} h {span.Minutes} min");
        }

        if (span.TotalMinutes >= 1)
        {
            return span.Seconds == 0
                ? FormattableString.Invariant($"{Math.Floor(span.TotalMinutes)} min")
                : FormattableString.Invariant($"{Math.Floor(span.TotalMinutes)} min {span.Seconds} s");
        }

        return FormattableString.Invariant($"{span.TotalSeconds} s");
    }
}
