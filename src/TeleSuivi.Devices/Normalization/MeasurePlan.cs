using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Normalization;

/// <summary>
/// What normalising one measure needs beyond its definition, worked out once per measure rather than per reading:
/// category strings, the definitions and slots of a panel's components, and the last unit conversion and specimen
/// resolved. Every cached answer is a pure function of its key, so a stale or racing cache entry is still right.
/// </summary>
internal sealed class MeasurePlan
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
            if (definition.Components.Count > NormalisedObservation.MaxComponents)
            {
                // A normalised value holds a panel's components in fixed slots, a bit each.
                throw new InvalidOperationException(
                    $"{definition.Key} has {definition.Components.Count} components; a panel has at most {NormalisedObservation.MaxComponents}");
            }

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
internal sealed record ConversionEntry(string Unit, UnitConversion Conversion, int DigitsMoved);

internal sealed record SpecimenEntry(string Specimen, SpecimenVariant? Variant);
