using System.Globalization;
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
/// <param name="ErrorFr">The reason in French, for the board (<see cref="RejectionReason"/>).</param>
public readonly record struct ObservationOutcome(Observation? Observation, string? Error, RejectionKind Kind = RejectionKind.None, string? ErrorFr = null)
{
    public bool Succeeded => Error is null;
}

/// <summary>A reading normalised into its compact value, or the precise reason it is rejected.</summary>
/// <param name="ErrorFr">The reason in French, for the board (<see cref="RejectionReason"/>).</param>
public readonly record struct NormalisationOutcome(NormalisedObservation? Value, string? Error, RejectionKind Kind = RejectionKind.None, string? ErrorFr = null)
{
    public bool Succeeded => Error is null;

    public static NormalisationOutcome Rejected(RejectionReason reason, RejectionKind kind = RejectionKind.Invalid) => new(null, reason.En, kind, reason.Fr);
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

    /// <summary>Normalises one reading and builds its Hl7.Fhir.R4 Observation (<see cref="NormalisedObservation.ToObservation"/>).</summary>
    public ObservationOutcome Create(DecodedReading reading, ObservationContext context)
    {
        var outcome = Normalise(reading, context);
        return outcome.Value is { } value
            ? new ObservationOutcome(value.ToObservation(), null)
            : new ObservationOutcome(null, outcome.Error, outcome.Kind, outcome.ErrorFr);
    }

    /// <summary>
    /// Normalises one reading into its compact value, or the precise reason it is rejected: everything
    /// <see cref="Create"/> does but building the FHIR tree.
    /// </summary>
    public NormalisationOutcome Normalise(DecodedReading reading, ObservationContext context)
    {
        if (!MeasurePlan.TryGet(reading.Measure, out var plan))
        {
            return NormalisationOutcome.Rejected(new($"'{reading.Measure}' is not a measure of the catalogue", $"'{reading.Measure}' n'est pas une mesure connue"));
        }

        var definition = plan.Definition;
        var effective = TruncateToMilliseconds((reading.Time ?? context.ReceivedAt - reading.TimeBeforeReceipt).ToUniversalTime());
        if (CheckClock(definition.Key, effective, context.ReceivedAt.ToUniversalTime()) is { } clockError)
        {
            return NormalisationOutcome.Rejected(clockError, RejectionKind.Clock);
        }

        var code = definition.Code;
        if (definition.SpecimenVariants.Count > 0 && reading.Qualifiers is { } qualifiers
            && qualifiers.TryGetValue(QualifierKeys.Specimen, out var specimen))
        {
            if (!plan.TryResolveSpecimen(specimen, out var variant))
            {
                return NormalisationOutcome.Rejected(new($"{definition.Key}: specimen '{specimen}' is not known", $"{definition.NameFr} : prélèvement '{specimen}' inconnu"));
            }

            if (variant.RejectReason is { } reason)
            {
                return NormalisationOutcome.Rejected(new($"{definition.Key}: specimen '{specimen}' is {reason}", $"{definition.NameFr} : prélèvement '{specimen}' : {variant.RejectReasonFr ?? reason}"));
            }

            if (variant.Code is { } specific && specific != definition.Code)
            {
                // The MDC code of the measure names one sample type too; the value drops it for this code.
                code = specific;
            }
        }

        Span<decimal> values = stackalloc decimal[NormalisedObservation.MaxComponents];
        var present = 0;
        var error = definition.IsPanel
            ? NormalisePanel(plan, reading, values, out present)
            : NormaliseValue(plan, reading, out values[0]);
        if (error is not null)
        {
            return NormalisationOutcome.Rejected(error);
        }

        var id = DeterministicId.Of(context.DeviceId, code.Code, effective);
        var issued = TruncateToMilliseconds(context.ReceivedAt.ToUniversalTime());
        return new NormalisationOutcome(
            new NormalisedObservation(plan, code, effective.Ticks, issued.Ticks, context, id, values, present, QualifiersOf(reading.Qualifiers)),
            null);
    }

    /// <summary>
    /// The FHIR id of the Observation with this natural key: the first 128 bits of its SHA-256 as lowercase hex
    /// (32 characters of [a-f0-9], a valid FHIR id), collision-free for any realistic number of readings.
    /// </summary>
    public static string IdOf(string naturalKey) => DeterministicId.ToFhirId(DeterministicId.Of(naturalKey));

    /// <summary>UTC with a "Z", and milliseconds only when the time has some.</summary>
    /// <remarks>
    /// Exactly <c>yyyy-MM-dd'T'HH:mm:ss'Z'</c> or <c>yyyy-MM-dd'T'HH:mm:ss.fff'Z'</c> of the invariant culture,
    /// written digit by digit: the custom-format parser of DateTime.ToString costs more than the digits.
    /// </remarks>
    public static string FormatInstant(DateTimeOffset utc)
    {
        Span<byte> ascii = stackalloc byte[MaxInstantLength];
        return Encoding.ASCII.GetString(ascii[..WriteInstant(ascii, utc)]);
    }

    /// <summary>The longest text of <see cref="FormatInstant"/>: <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    internal const int MaxInstantLength = 24;

    /// <summary><see cref="FormatInstant"/> as ASCII into <paramref name="destination"/>; the number of bytes written.</summary>
    internal static int WriteInstant(Span<byte> destination, DateTimeOffset utc)
    {
        var time = utc.UtcDateTime;
        time.Deconstruct(out var year, out var month, out var day);
        var milliseconds = time.Millisecond;
        var length = milliseconds == 0 ? 20 : MaxInstantLength;
        var text = destination[..length];
        Digits(text[..4], year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), day);
        text[10] = (byte)'T';
        Digits(text.Slice(11, 2), time.Hour);
        text[13] = (byte)':';
        Digits(text.Slice(14, 2), time.Minute);
        text[16] = (byte)':';
        Digits(text.Slice(17, 2), time.Second);
        if (milliseconds != 0)
        {
            text[19] = (byte)'.';
            Digits(text.Slice(20, 3), milliseconds);
        }

        text[^1] = (byte)'Z';
        return length;

        static void Digits(Span<byte> destination, int value)
        {
            for (var i = destination.Length - 1; i >= 0; i--)
            {
                destination[i] = (byte)('0' + (value % 10));
                value /= 10;
            }
        }
    }

    /// <summary>Why a reading of <paramref name="measure"/> (a catalogue key) stamped <paramref name="effective"/> and received at <paramref name="received"/> has a wrong clock; null when its time is plausible.</summary>
    public RejectionReason? CheckClock(string measure, DateTimeOffset effective, DateTimeOffset received)
    {
        if (settings.MaxFutureSkew is { } skew && effective - received > skew)
        {
            return new(
                $"{measure}: time {FormatInstant(effective)} is {Describe(effective - received)} after the receive time {FormatInstant(received)} (tolerance {Describe(skew)})",
                $"{NameFr(measure)} : mesure datée du {FormatInstant(effective)}, {DescribeFr(effective - received)} après sa réception le {FormatInstant(received)} (tolérance {DescribeFr(skew)})");
        }

        if (settings.MaxAge is { } age && received - effective > age)
        {
            return new(
                $"{measure}: time {FormatInstant(effective)} is {Describe(received - effective)} before the receive time {FormatInstant(received)} (limit {Describe(age)})",
                $"{NameFr(measure)} : mesure datée du {FormatInstant(effective)}, {DescribeFr(received - effective)} avant sa réception le {FormatInstant(received)} (limite {DescribeFr(age)})");
        }

        return null;

        static string NameFr(string measure) => MeasureCatalog.TryGet(measure, out var definition) ? definition.NameFr : measure;
    }

    private static RejectionReason? NormaliseValue(MeasurePlan plan, DecodedReading reading, out decimal normalised)
    {
        var definition = plan.Definition;
        normalised = default;
        if (reading.Values.Count != 1)
        {
            return new($"{definition.Key}: expected one value, got {reading.Values.Count}", $"{definition.NameFr} : une valeur attendue, {reading.Values.Count} reçues");
        }

        var value = reading.Values[0];
        if (!string.Equals(value.Measure, definition.Key, StringComparison.Ordinal))
        {
            return new($"{definition.Key}: the value is labelled '{value.Measure}'", $"{definition.NameFr} : la valeur est étiquetée '{value.Measure}'");
        }

        return Normalize(plan, value, out normalised);
    }

    /// <summary>The components of a panel into their slots of <paramref name="values"/>, a bit of <paramref name="present"/> each.</summary>
    private static RejectionReason? NormalisePanel(MeasurePlan plan, DecodedReading reading, Span<decimal> values, out int present)
    {
        var panel = plan.Definition;
        present = 0;
        var readingValues = reading.Values;
        for (var i = 0; i < readingValues.Count; i++)
        {
            var value = readingValues[i];
            var slot = plan.IndexOfComponent(value.Measure);
            if (slot < 0)
            {
                return new($"{panel.Key}: '{value.Measure}' is not a component of the panel", $"{panel.NameFr} : '{value.Measure}' n'en fait pas partie");
            }

            var component = plan.Components[slot];
            if ((present & (1 << slot)) != 0)
            {
                return new($"{panel.Key}: {value.Measure} is given twice", $"{panel.NameFr} : {component.Definition.NameFr} donnée deux fois");
            }

            if (component.Definition.Kind != MeasureValueKind.Quantity)
            {
                // The catalogue's panels are made of quantities; a component of another kind would be a catalogue error.
                return new($"{panel.Key}: component {value.Measure} is not a quantity", $"{panel.NameFr} : {component.Definition.NameFr} n'est pas une quantité");
            }

            if (Normalize(component, value, out values[slot]) is { } error)
            {
                return error;
            }

            present |= 1 << slot;
        }

        foreach (var required in plan.RequiredSlots)
        {
            if ((present & (1 << required)) == 0)
            {
                return new($"{panel.Key}: {panel.Components[required]} is missing", $"{panel.NameFr} : {plan.Components[required].Definition.NameFr} manquante");
            }
        }

        if (plan.SystolicSlot >= 0 && values[plan.SystolicSlot] <= values[plan.DiastolicSlot])
        {
            var (systolic, diastolic) = ((double)values[plan.SystolicSlot], (double)values[plan.DiastolicSlot]);
            return new(
                FormattableString.Invariant($"blood-pressure: systolic {systolic} mmHg is not above diastolic {diastolic} mmHg, which is impossible"),
                RejectionReason.French($"{panel.NameFr} : systolique {systolic} mmHg non supérieure à la diastolique {diastolic} mmHg, ce qui est impossible"));
        }

        return null;
    }

    /// <summary>Converts, rounds and checks one value: <paramref name="normalised"/> in the canonical unit (a score as an integer, yes/no as 1/0).</summary>
    private static RejectionReason? Normalize(MeasurePlan plan, DecodedValue value, out decimal normalised)
    {
        var definition = plan.Definition;
        normalised = default;
        if (!double.IsFinite(value.Value))
        {
            return new(FormattableString.Invariant($"{definition.Key}: value {value.Value} is not a number"), RejectionReason.French($"{definition.NameFr} : la valeur {value.Value} n'est pas un nombre"));
        }

        switch (definition.Kind)
        {
            case MeasureValueKind.YesNo:
                if (value.Value is not (0 or 1))
                {
                    return new(
                        FormattableString.Invariant($"{definition.Key}: value {value.Value} is not 0 (no) or 1 (yes)"),
                        RejectionReason.French($"{definition.NameFr} : la valeur {value.Value} n'est ni 0 (non) ni 1 (oui)"));
                }

                normalised = value.Value == 1 ? 1 : 0;
                return null;

            case MeasureValueKind.Score:
                if (value.Value != Math.Floor(value.Value) || Math.Abs(value.Value) > int.MaxValue)
                {
                    return new(FormattableString.Invariant($"{definition.Key}: value {value.Value} is not an integer"), RejectionReason.French($"{definition.NameFr} : la valeur {value.Value} n'est pas un entier"));
                }

                if (definition.Range is { } scoreRange && !scoreRange.Contains(value.Value))
                {
                    return new(
                        FormattableString.Invariant($"{definition.Key} {value.Value} is impossible (allowed {scoreRange.Describe(definition.UnitDisplay)})"),
                        RejectionReason.French($"{definition.NameFr} {value.Value} impossible (admis : {scoreRange.DescribeFr(definition.UnitDisplayFr)})"));
                }

                normalised = (int)value.Value;
                return null;
        }

        if (!plan.TryGetConversion(value.Unit, out var conversion, out var unitError))
        {
            return new($"{definition.Key}: {unitError}", $"{definition.NameFr} : l'unité '{value.Unit}' ne se convertit pas en {definition.UnitDisplayFr}");
        }

        var converted = conversion.Conversion.Apply(value.Value);
        var decimals = Math.Clamp(QuantityPrecision.DecimalsOf(value.Value) + conversion.DigitsMoved, 0, QuantityPrecision.MaxDecimals);
        // Checked before rounding: a value beyond decimal's range (a corrupt exponent) must be rejected, not throw.
        var representable = QuantityPrecision.TryToDecimal(converted, decimals, out var rounded);
        if (definition.Range is { } range && !range.Contains(converted))
        {
            var asSent = string.Equals(value.Unit, definition.Unit, StringComparison.Ordinal);
            var source = asSent ? string.Empty : FormattableString.Invariant($" ({value.Value} {value.Unit})");
            var sourceFr = asSent ? string.Empty : RejectionReason.French($" ({value.Value} {value.Unit})");
            var shown = representable ? rounded.ToString(CultureInfo.InvariantCulture) : converted.ToString("G6", CultureInfo.InvariantCulture);
            var shownFr = representable ? rounded.ToString(RejectionReason.FrenchNumbers) : converted.ToString("G6", RejectionReason.FrenchNumbers);
            return new(
                FormattableString.Invariant($"{definition.Key} {shown} {definition.UnitDisplay}{source} is impossible (allowed {range.Describe(definition.UnitDisplay)})"),
                $"{definition.NameFr} {shownFr} {definition.UnitDisplayFr}{sourceFr} impossible (admis : {range.DescribeFr(definition.UnitDisplayFr)})");
        }

        if (!representable)
        {
            return new(
                FormattableString.Invariant($"{definition.Key}: value {value.Value} {value.Unit} is too large to be a measurement"),
                RejectionReason.French($"{definition.NameFr} : la valeur {value.Value} {value.Unit} est trop grande pour une mesure"));
        }

        normalised = rounded;
        return null;
    }

    private static ReadingQualifiers QualifiersOf(IReadOnlyDictionary<string, string>? qualifiers)
    {
        if (qualifiers is null)
        {
            return default;
        }

        var site = qualifiers.TryGetValue(QualifierKeys.BodySite, out var bodySite) && bodySite.Length > 0 ? bodySite : null;
        var method = qualifiers.TryGetValue(MethodQualifier, out var text) && text.Length > 0 ? text : null;
        var status = qualifiers.TryGetValue(QualifierKeys.DeviceStatus, out var flags) ? flags : string.Empty;
        if (IsLowBattery(qualifiers) && !status.Split(',').Contains(LowBatteryStatus, StringComparer.Ordinal))
        {
            // A charge reported as a percentage becomes the flag GATT devices send, which the alert engine acts on.
            status = status.Length == 0 ? LowBatteryStatus : status + "," + LowBatteryStatus;
        }

        return new ReadingQualifiers(site, method, status.Length > 0 ? status : null);
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

    /// <summary><see cref="Describe"/> in French: days are "j".</summary>
    private static string DescribeFr(TimeSpan span) =>
        span.TotalDays >= 2 ? Describe(span).Replace(" d", " j", StringComparison.Ordinal) : Describe(span).Replace('.', ',');
}
