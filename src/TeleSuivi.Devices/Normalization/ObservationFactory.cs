using System.Diagnostics.CodeAnalysis;
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

/// <summary>Why a reading was rejected: the ingest pipeline counts and replays dead letters by kind.</summary>
public enum RejectionKind
{
    None,

    /// <summary>A value that cannot be right: impossible, in an unconvertible unit, or of an unknown measure or specimen.</summary>
    Invalid,

    /// <summary>A time too far in the future or too old relative to the receive time.</summary>
    Clock,
}

/// <summary>An Observation, or the precise reason the reading is rejected.</summary>
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

    [ThreadStatic]
    private static IncrementalHash? threadSha256;

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
        if (!MeasurePlan.TryGet(reading.Measure, out var plan))
        {
            return ObservationOutcome.Rejected($"'{reading.Measure}' is not a measure of the catalogue");
        }

        var definition = plan.Definition;
        var effective = TruncateToMilliseconds((reading.Time ?? context.ReceivedAt - reading.TimeBeforeReceipt).ToUniversalTime());
        if (CheckClock(definition.Key, effective, context.ReceivedAt.ToUniversalTime()) is { } clockError)
        {
            return ObservationOutcome.Rejected(clockError, RejectionKind.Clock);
        }

        var code = definition.Code;
        var additional = definition.AdditionalCodings;
        if (reading.Qualifiers is { } qualifiers && qualifiers.TryGetValue(QualifierKeys.Specimen, out var specimen)
            && definition.SpecimenVariants.Count > 0)
        {
            if (!plan.TryResolveSpecimen(specimen, out var variant))
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

        // The effective time is written once and shared by effectiveDateTime and the natural key (strings are immutable).
        var effectiveText = FormatInstant(effective);
        var observation = new Observation
        {
            Status = ObservationStatus.Final,
            Category = [Concept(plan.CategorySystem, definition.Category, plan.CategoryDisplay, [])],
            Code = Concept(code.System, code.Code, code.Display, additional),
            Effective = new FhirDateTime(effectiveText),
            IssuedElement = new Instant(TruncateToMilliseconds(context.ReceivedAt.ToUniversalTime())),
            Device = new ResourceReference(ReferenceCache.Device(context.DeviceId)),
        };

        if (context.PatientId is { } patient)
        {
            observation.Subject = new ResourceReference(ReferenceCache.Patient(patient));
        }

        var error = definition.IsPanel
            ? FillPanel(observation, plan, reading)
            : FillValue(observation, plan, reading);
        if (error is not null)
        {
            return ObservationOutcome.Rejected(error);
        }

        var naturalKey = string.Concat(context.DeviceId, "|", code.Code, "|", effectiveText);
        observation.Id = IdOf(naturalKey);
        observation.Identifier = [new Identifier(IdentifierSystem, naturalKey)];
        observation.Meta = new Meta { Source = ReferenceCache.Source(context.Source) };
        // The vital-signs profiles require a subject: an Observation of an unassigned device does not conform yet.
        if (definition.FhirProfile is { } profile && code == definition.Code && observation.Subject is not null)
        {
            // What Meta.Profile's setter builds, without its enumeration of a temporary list.
            observation.Meta.ProfileElement = new List<PrimitiveType>(1) { new Canonical(profile) };
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

        // The same SHA-256 as SHA256.HashData, on a hash object kept per thread: the one-shot call sets up and tears
        // down a native digest context every time, which cost as much as the digest itself.
        var sha256 = threadSha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha256.AppendData(utf8[..length]);
        sha256.GetHashAndReset(hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>UTC with a "Z", and milliseconds only when the time has some.</summary>
    /// <remarks>
    /// Exactly <c>yyyy-MM-dd'T'HH:mm:ss'Z'</c> or <c>yyyy-MM-dd'T'HH:mm:ss.fff'Z'</c> of the invariant culture,
    /// written digit by digit: the custom-format parser of DateTime.ToString costs more than the digits.
    /// </remarks>
    public static string FormatInstant(DateTimeOffset utc)
    {
        var time = utc.UtcDateTime;
        var milliseconds = utc.Millisecond;
        return string.Create(milliseconds == 0 ? 20 : 24, (Time: time, Milliseconds: milliseconds), static (chars, state) =>
        {
            var (time, milliseconds) = state;
            Digits(chars[..4], time.Year);
            chars[4] = '-';
            Digits(chars.Slice(5, 2), time.Month);
            chars[7] = '-';
            Digits(chars.Slice(8, 2), time.Day);
            chars[10] = 'T';
            Digits(chars.Slice(11, 2), time.Hour);
            chars[13] = ':';
            Digits(chars.Slice(14, 2), time.Minute);
            chars[16] = ':';
            Digits(chars.Slice(17, 2), time.Second);
            if (milliseconds != 0)
            {
                chars[19] = '.';
                Digits(chars.Slice(20, 3), milliseconds);
            }

            chars[^1] = 'Z';
        });

        static void Digits(Span<char> destination, int value)
        {
            for (var i = destination.Length - 1; i >= 0; i--)
            {
                destination[i] = (char)('0' + (value % 10));
                value /= 10;
            }
        }
    }

    /// <summary>Why a reading stamped <paramref name="effective"/> and received at <paramref name="received"/> has a wrong clock; null when its time is plausible.</summary>
    public string? CheckClock(string measure, DateTimeOffset effective, DateTimeOffset received)
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

    private static string? FillValue(Observation observation, MeasurePlan plan, DecodedReading reading)
    {
        var definition = plan.Definition;
        if (reading.Values.Count != 1)
        {
            return $"{definition.Key}: expected one value, got {reading.Values.Count}";
        }

        var value = reading.Values[0];
        if (!string.Equals(value.Measure, definition.Key, StringComparison.Ordinal))
        {
            return $"{definition.Key}: the value is labelled '{value.Measure}'";
        }

        var error = Normalize(plan, value, out var element);
        observation.Value = element;
        return error;
    }

    private static string? FillPanel(Observation observation, MeasurePlan plan, DecodedReading reading)
    {
        var panel = plan.Definition;
        var count = plan.Components.Length;
        var components = new Observation.ComponentComponent?[count];
        Span<double> canonical = stackalloc double[count];
        var values = reading.Values;
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i];
            var slot = plan.IndexOfComponent(value.Measure);
            if (slot < 0)
            {
                return $"{panel.Key}: '{value.Measure}' is not a component of the panel";
            }

            if (components[slot] is not null)
            {
                return $"{panel.Key}: {value.Measure} is given twice";
            }

            var component = plan.Components[slot];
            if (Normalize(component, value, out var element) is { } error)
            {
                return error;
            }

            var definition = component.Definition;
            canonical[slot] = (double)((Quantity)element!).Value!.Value;
            components[slot] = new Observation.ComponentComponent
            {
                Code = Concept(definition.Code.System, definition.Code.Code, definition.Code.Display, definition.AdditionalCodings),
                Value = element,
            };
        }

        var present = 0;
        foreach (var component in components)
        {
            present += component is null ? 0 : 1;
        }

        foreach (var required in plan.RequiredSlots)
        {
            if (components[required] is null)
            {
                return $"{panel.Key}: {panel.Components[required]} is missing";
            }
        }

        if (plan.SystolicSlot >= 0 && canonical[plan.SystolicSlot] <= canonical[plan.DiastolicSlot])
        {
            return FormattableString.Invariant(
                $"blood-pressure: systolic {canonical[plan.SystolicSlot]} mmHg is not above diastolic {canonical[plan.DiastolicSlot]} mmHg, which is impossible");
        }

        var list = new List<Observation.ComponentComponent>(present);
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
    private static string? Normalize(MeasurePlan plan, DecodedValue value, out DataType? element)
    {
        var definition = plan.Definition;
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

        if (!plan.TryGetConversion(value.Unit, out var conversion, out var unitError))
        {
            return $"{definition.Key}: {unitError}";
        }

        var converted = conversion.Conversion.Apply(value.Value);
        var decimals = Math.Clamp(QuantityPrecision.DecimalsOf(value.Value) + conversion.DigitsMoved, 0, QuantityPrecision.MaxDecimals);
        // Checked before rounding: a value beyond decimal's range (a corrupt exponent) must be rejected, not throw.
        var representable = QuantityPrecision.TryToDecimal(converted, decimals, out var rounded);
        if (definition.Range is { } range && !range.Contains(converted))
        {
            var source = string.Equals(value.Unit, definition.Unit, StringComparison.Ordinal)
                ? string.Empty
                : FormattableString.Invariant($" ({value.Value} {value.Unit})");
            var shown = representable ? rounded.ToString(CultureInfo.InvariantCulture) : converted.ToString("G6", CultureInfo.InvariantCulture);
            return FormattableString.Invariant(
                $"{definition.Key} {shown} {definition.UnitDisplay}{source} is impossible (allowed {range.Describe(definition.UnitDisplay)})");
        }

        if (!representable)
        {
            return FormattableString.Invariant($"{definition.Key}: value {value.Value} {value.Unit} is too large to be a measurement");
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

        var status = qualifiers.TryGetValue(QualifierKeys.DeviceStatus, out var flags) ? flags : string.Empty;
        if (IsLowBattery(qualifiers) && !status.Split(',').Contains(LowBatteryStatus, StringComparer.Ordinal))
        {
            // A charge reported as a percentage becomes the flag GATT devices send, which the alert engine acts on.
            status = status.Length == 0 ? LowBatteryStatus : status + "," + LowBatteryStatus;
        }

        if (status.Length > 0)
        {
            // Irregular pulse or a loose cuff changes how a nurse reads the value: it travels with it.
            observation.Note = [new Annotation { Text = new Markdown("device status: " + status.Replace(",", ", ", StringComparison.Ordinal)) }];
        }
    }

    /// <summary>
    /// At or below this charge a device's battery is reported low: home devices warn between 10 and 20 %, and a nurse
    /// needs the day or two that is left to have the patient charge or change it before readings stop.
    /// </summary>
    public const int LowBatteryPercent = 20;

    /// <summary>The device-status flag of a low battery (GATT glucose sensor status, and <see cref="LowBatteryPercent"/>).</summary>
    public const string LowBatteryStatus = "battery-low";

    private static bool IsLowBattery(IReadOnlyDictionary<string, string> qualifiers) =>
        qualifiers.TryGetValue(QualifierKeys.BatteryPercent, out var text)
        && decimal.TryParse(text, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var percent)
        && percent is >= 0 and <= LowBatteryPercent;

    /// <summary>A CodeableConcept with its codings, in a list of the exact size (the lazily created one starts at 4).</summary>
    private static CodeableConcept Concept(string system, string code, string display, IReadOnlyList<MeasureCoding> additional)
    {
        var codings = new List<Coding>(1 + additional.Count) { new(system, code, display) };
        for (var i = 0; i < additional.Count; i++)
        {
            var coding = additional[i];
            codings.Add(new Coding(coding.System, coding.Code, coding.Display));
        }

        return new CodeableConcept { Coding = codings, Text = display };
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

    /// <summary>
    /// What normalising one measure needs beyond its definition, worked out once per measure rather than per reading:
    /// category strings, the definitions and slots of a panel's components, and the last unit conversion and specimen
    /// resolved. Every cached answer is a pure function of its key, so a stale or racing cache entry is still right.
    /// </summary>
    private sealed class MeasurePlan
    {
        private static readonly Dictionary<string, MeasurePlan> ByKey = Build();

        private readonly string[] componentKeys;
        private ConversionEntry? lastConversion;
        private SpecimenEntry? lastSpecimen;

        private MeasurePlan(MeasureDefinition definition)
        {
            Definition = definition;
            CategorySystem = MeasureCatalog.CategorySystemOf(definition.Category);
            CategoryDisplay = MeasureCatalog.CategoryDisplay(definition.Category);
            componentKeys = [.. definition.Components];
            var required = new int[definition.RequiredComponents.Count];
            for (var i = 0; i < required.Length; i++)
            {
                required[i] = Array.IndexOf(componentKeys, definition.RequiredComponents[i]);
            }

            RequiredSlots = required;
            var isBloodPressure = definition.Key == "blood-pressure";
            SystolicSlot = isBloodPressure ? Array.IndexOf(componentKeys, "systolic-pressure") : -1;
            DiastolicSlot = isBloodPressure ? Array.IndexOf(componentKeys, "diastolic-pressure") : -1;
        }

        public MeasureDefinition Definition { get; }

        public string CategorySystem { get; }

        public string CategoryDisplay { get; }

        /// <summary>The plans of a panel's components, in the order of <see cref="MeasureDefinition.Components"/>.</summary>
        public MeasurePlan[] Components { get; private set; } = [];

        /// <summary>Slots of <see cref="MeasureDefinition.RequiredComponents"/>, in their order.</summary>
        public int[] RequiredSlots { get; }

        /// <summary>For the blood-pressure panel, the slots compared with each other; -1 otherwise.</summary>
        public int SystolicSlot { get; }

        public int DiastolicSlot { get; }

        public static bool TryGet(string key, [NotNullWhen(true)] out MeasurePlan? plan) => ByKey.TryGetValue(key, out plan);

        public int IndexOfComponent(string key)
        {
            for (var i = 0; i < componentKeys.Length; i++)
            {
                if (string.Equals(componentKeys[i], key, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            return -1;
        }

        /// <summary>The conversion from <paramref name="unit"/> to the canonical unit, and how many decimals it moves.</summary>
        public bool TryGetConversion(string unit, out ConversionEntry conversion, [NotNullWhen(false)] out string? error)
        {
            // Decoders pass the same unit string instance reading after reading: the last answer is nearly always it.
            if (lastConversion is { } last && string.Equals(last.Unit, unit, StringComparison.Ordinal))
            {
                conversion = last;
                error = null;
                return true;
            }

            if (!UnitConverter.TryGetConversion(unit, Definition.Unit, Definition.MolarMass, out var found, out error))
            {
                conversion = null!;
                return false;
            }

            conversion = new ConversionEntry(unit, found, QuantityPrecision.DigitsMovedBy(found.Scale));
            lastConversion = conversion;
            return true;
        }

        /// <summary>The first specimen variant whose keyword the specimen contains, ignoring case.</summary>
        public bool TryResolveSpecimen(string specimen, [NotNullWhen(true)] out SpecimenVariant? variant)
        {
            if (lastSpecimen is { } last && string.Equals(last.Specimen, specimen, StringComparison.Ordinal))
            {
                variant = last.Variant;
                return variant is not null;
            }

            variant = null;
            foreach (var candidate in Definition.SpecimenVariants)
            {
                if (specimen.Contains(candidate.Keyword, StringComparison.OrdinalIgnoreCase))
                {
                    variant = candidate;
                    break;
                }
            }

            lastSpecimen = new SpecimenEntry(specimen, variant);
            return variant is not null;
        }

        private static Dictionary<string, MeasurePlan> Build()
        {
            var plans = new Dictionary<string, MeasurePlan>(StringComparer.Ordinal);
            foreach (var definition in MeasureCatalog.All)
            {
                plans.Add(definition.Key, new MeasurePlan(definition));
            }

            foreach (var plan in plans.Values)
            {
                plan.Components = [.. plan.componentKeys.Select(key => plans[key])];
            }

            return plans;
        }
    }

    /// <summary>A conversion to a measure's canonical unit, with the decimal digits it moves (QuantityPrecision.DecimalsAfter).</summary>
    private sealed record ConversionEntry(string Unit, UnitConversion Conversion, int DigitsMoved);

    private sealed record SpecimenEntry(string Specimen, SpecimenVariant? Variant);

    /// <summary>
    /// The reference strings of the last device, patient and source seen on this thread: the readings of one message
    /// share them, and a string is immutable, so Observations may share it too.
    /// </summary>
    private static class ReferenceCache
    {
        [ThreadStatic]
        private static string? device;
        [ThreadStatic]
        private static string? deviceReference;
        [ThreadStatic]
        private static string? patient;
        [ThreadStatic]
        private static string? patientReference;
        [ThreadStatic]
        private static string? source;
        [ThreadStatic]
        private static string? sourceUri;

        public static string Device(string id) => Prefixed(id, "Device/", ref device, ref deviceReference);

        public static string Patient(string id) => Prefixed(id, "Patient/", ref patient, ref patientReference);

        public static string Source(string name) => Prefixed(name, SourcePrefix, ref source, ref sourceUri);

        private static string Prefixed(string value, string prefix, ref string? lastValue, ref string? lastResult)
        {
            if (lastResult is not null && string.Equals(lastValue, value, StringComparison.Ordinal))
            {
                return lastResult;
            }

            var result = prefix + value;
            lastValue = value;
            lastResult = result;
            return result;
        }
    }
}
