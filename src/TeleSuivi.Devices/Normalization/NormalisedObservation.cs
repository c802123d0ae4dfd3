using Hl7.Fhir.Model;

namespace TeleSuivi.Devices.Normalization;

/// <summary>
/// One reading normalised: checked, coded, converted to the canonical unit, rounded and given its deterministic id,
/// held as a few numbers and shared immutable references rather than as a FHIR tree. <see cref="ToObservation"/>
/// builds the Hl7.Fhir.R4 Observation from it, the same one every time; a store can write its rows or line protocol
/// from these properties without building that tree at all.
/// </summary>
/// <remarks>
/// The hot path of ingestion builds this value: the Firely POCO tree of a single reading costs more than everything
/// else normalising does (BENCHMARKS.md, "What limits these figures"), so it is built only where FHIR is needed.
/// Every property is immutable, and each <see cref="ToObservation"/> call builds a tree of its own, so a consumer that
/// changes its Observation changes no other.
/// </remarks>
public sealed class NormalisedObservation
{
    /// <summary>The most components a panel of the catalogue has (blood pressure: systolic, diastolic, mean).</summary>
    internal const int MaxComponents = 3;

    private readonly MeasurePlan plan;
    private readonly decimal first;
    private readonly decimal second;
    private readonly decimal third;

    internal NormalisedObservation(
        MeasurePlan plan,
        MeasureCoding code,
        long effectiveTicks,
        long issuedTicks,
        ObservationContext context,
        UInt128 id,
        ReadOnlySpan<decimal> values,
        int presentComponents,
        ReadingQualifiers qualifiers)
    {
        this.plan = plan;
        Code = code;
        EffectiveTicks = effectiveTicks;
        IssuedTicks = issuedTicks;
        DeviceId = context.DeviceId;
        PatientId = context.PatientId;
        Source = context.Source;
        Id = id;
        first = values.Length > 0 ? values[0] : default;
        second = values.Length > 1 ? values[1] : default;
        third = values.Length > 2 ? values[2] : default;
        PresentComponents = presentComponents;
        BodySite = qualifiers.BodySite;
        Method = qualifiers.Method;
        DeviceStatus = qualifiers.DeviceStatus;
    }

    /// <summary>The measure of the catalogue: its key, canonical unit, category and, for a panel, its components.</summary>
    public MeasureDefinition Definition => plan.Definition;

    /// <summary>
    /// The code of the Observation: the measure's own, or the code of the reading's specimen (glucose in plasma), in
    /// which case the measure's additional codings (its MDC code names one sample type) are not written.
    /// </summary>
    public MeasureCoding Code { get; }

    /// <summary>When the reading was taken, UTC ticks truncated to the millisecond.</summary>
    public long EffectiveTicks { get; }

    /// <summary>When the platform received it (<c>issued</c>), UTC ticks truncated to the millisecond.</summary>
    public long IssuedTicks { get; }

    public DateTimeOffset Effective => new(EffectiveTicks, TimeSpan.Zero);

    public DateTimeOffset Issued => new(IssuedTicks, TimeSpan.Zero);

    public string DeviceId { get; }

    /// <summary>The patient the device was assigned to at the reading's time; null when unknown.</summary>
    public string? PatientId { get; }

    /// <summary>The decoder that read it ("withings", "gatt/2a35").</summary>
    public string Source { get; }

    /// <summary>
    /// The first 128 bits of the SHA-256 of <see cref="NaturalKey"/>, big-endian: <see cref="FhirId"/> as a number.
    /// </summary>
    public UInt128 Id { get; }

    /// <summary>The Observation's FHIR id: <see cref="Id"/> as 32 lowercase hex digits (what ObservationFactory.IdOf gives for the natural key).</summary>
    public string FhirId => DeterministicId.ToFhirId(Id);

    /// <summary><c>{device}|{code}|{effective time}</c>: the Observation's identifier value, from which its id is hashed.</summary>
    public string NaturalKey => NaturalKeyOf(ObservationFactory.FormatInstant(Effective));

    /// <summary>
    /// The value in the canonical unit of <see cref="Definition"/> (a quantity, a score, or 1/0 for yes/no); for a
    /// panel, use <see cref="TryGetComponent"/>.
    /// </summary>
    public decimal Value => Definition.IsPanel
        ? throw new InvalidOperationException($"{Definition.Key} is a panel: its values are components")
        : first;

    /// <summary>For a panel, a bit per component of <see cref="MeasureDefinition.Components"/> given by the reading.</summary>
    public int PresentComponents { get; }

    public string? BodySite { get; }

    /// <summary>A free-text measurement method set by a profile.</summary>
    public string? Method { get; }

    /// <summary>Comma-separated device status flags, with "battery-low" added for a low charge; null when none.</summary>
    public string? DeviceStatus { get; }

    /// <summary>The value of the panel component <paramref name="measure"/> in its canonical unit, if the reading gave it.</summary>
    public bool TryGetComponent(string measure, out decimal value)
    {
        var slot = plan.IndexOfComponent(measure);
        if (slot < 0 || (PresentComponents & (1 << slot)) == 0)
        {
            value = default;
            return false;
        }

        value = ValueAt(slot);
        return true;
    }

    /// <summary>
    /// A primitive with its text written now. Firely keeps an Instant made from a DateTimeOffset, or a code made from an
    /// enum, as that value and writes its text into the element the first time anything reads it: later, from whichever
    /// of the store, the alert engine and the risk scorer reads it first, and into an Observation that may have outlived
    /// a garbage collection by then (a young string held by an old object, which the collector must promote:
    /// BENCHMARKS.md, "Storage", eighth round).
    /// </summary>
    private static T Spelled<T>(T primitive)
        where T : PrimitiveType
    {
        _ = primitive.JsonValue;
        return primitive;
    }

    /// <summary>The Hl7.Fhir.R4 Observation of this reading: a new tree on every call, sharing only immutable strings.</summary>
    public Observation ToObservation()
    {
        var definition = plan.Definition;
        var additional = Code == definition.Code ? definition.AdditionalCodings : [];
        // Written once and shared by effectiveDateTime and the identifier (strings are immutable).
        var effectiveText = ObservationFactory.FormatInstant(Effective);
        var naturalKey = NaturalKeyOf(effectiveText);
        var observation = new Observation
        {
            Id = FhirId,
            Meta = new Meta { Source = ReferenceCache.Source(Source) },
            Identifier = [new Identifier(ObservationFactory.IdentifierSystem, naturalKey)],
            StatusElement = Spelled(new Code<ObservationStatus>(ObservationStatus.Final)),
            Category = [Concept(plan.CategorySystem, definition.Category, plan.CategoryDisplay, [])],
            Code = Concept(Code.System, Code.Code, Code.Display, additional),
            Effective = new FhirDateTime(effectiveText),
            IssuedElement = Spelled(new Instant(Issued)),
            Device = new ResourceReference(ReferenceCache.Device(DeviceId)),
        };

        if (PatientId is { } patient)
        {
            observation.Subject = new ResourceReference(ReferenceCache.Patient(patient));

            // The vital-signs profiles require a subject: an Observation of an unassigned device does not conform yet.
            if (definition.FhirProfile is { } profile && Code == definition.Code)
            {
                // What Meta.Profile's setter builds, without its enumeration of a temporary list.
                observation.Meta.ProfileElement = new List<PrimitiveType>(1) { new Canonical(profile) };
            }
        }

        if (definition.IsPanel)
        {
            observation.Component = Components();
        }
        else
        {
            observation.Value = definition.Kind switch
            {
                MeasureValueKind.YesNo => new FhirBoolean(first == 1),
                MeasureValueKind.Score => new Integer((int)first),
                _ => Quantity(definition, first),
            };
        }

        if (BodySite is { } site)
        {
            observation.BodySite = new CodeableConcept(ObservationFactory.BodySiteSystem, site, site) { Text = site };
        }

        if (Method is { } method)
        {
            observation.Method = new CodeableConcept { Text = method };
        }

        if (DeviceStatus is { } status)
        {
            // Irregular pulse or a loose cuff changes how a nurse reads the value: it travels with it.
            observation.Note = [new Annotation { Text = new Markdown("device status: " + status.Replace(",", ", ", StringComparison.Ordinal)) }];
        }

        return observation;
    }

    private string NaturalKeyOf(string effectiveText) => string.Concat(DeviceId, "|", Code.Code, "|", effectiveText);

    private List<Observation.ComponentComponent> Components()
    {
        var components = new List<Observation.ComponentComponent>(int.PopCount(PresentComponents));
        for (var slot = 0; slot < plan.Components.Length; slot++)
        {
            if ((PresentComponents & (1 << slot)) == 0)
            {
                continue;
            }

            var definition = plan.Components[slot].Definition;
            components.Add(new Observation.ComponentComponent
            {
                Code = Concept(definition.Code.System, definition.Code.Code, definition.Code.Display, definition.AdditionalCodings),
                Value = Quantity(definition, ValueAt(slot)),
            });
        }

        return components;
    }

    private decimal ValueAt(int slot) => slot switch
    {
        0 => first,
        1 => second,
        _ => third,
    };

    private static Quantity Quantity(MeasureDefinition definition, decimal value) => new()
    {
        Value = value,
        Unit = definition.UnitDisplay,
        System = ObservationFactory.UcumSystem,
        Code = definition.Unit,
    };

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
}

/// <summary>What the qualifiers of a reading put in its Observation; every field null when absent or empty.</summary>
internal readonly record struct ReadingQualifiers(string? BodySite, string? Method, string? DeviceStatus);
