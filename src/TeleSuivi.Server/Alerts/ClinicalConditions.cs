using Hl7.Fhir.Model;
using Condition = TeleSuivi.Risk.Cohort.Condition;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// A patient's chronic conditions, read from their FHIR <c>Patient</c>: one extension
/// <see cref="ExtensionUrl"/> per condition, a <c>valueCodeableConcept</c> with a SNOMED CT code. An extension rather
/// than <c>Condition</c> resources so that one <c>Patient</c> carries everything the alert defaults need, and a
/// registry import stays a Bundle of <c>Patient</c>, <c>Device</c> and <c>DeviceUseStatement</c>.
/// </summary>
public static class ClinicalConditions
{
    public const string ExtensionUrl = "https://telesuivi.org/fhir/StructureDefinition/condition";
    public const string Snomed = "http://snomed.info/sct";

    /// <summary>The SNOMED CT concept of each condition (and the subtypes hospitals commonly code instead).</summary>
    public static readonly IReadOnlyDictionary<string, Condition> BySnomedCode = new Dictionary<string, Condition>(StringComparer.Ordinal)
    {
        ["13645005"] = Condition.Copd,        // Chronic obstructive lung disease (disorder)
        ["84114007"] = Condition.HeartFailure, // Heart failure (disorder)
        ["42343007"] = Condition.HeartFailure, // Congestive heart failure (disorder)
        ["73211009"] = Condition.Diabetes,     // Diabetes mellitus (disorder)
        ["44054006"] = Condition.Diabetes,     // Diabetes mellitus type 2 (disorder)
        ["46635009"] = Condition.Diabetes,     // Diabetes mellitus type 1 (disorder)
        ["248279007"] = Condition.FrailElderly, // Frailty (finding)
    };

    public static string SnomedCodeOf(Condition condition) => condition switch
    {
        Condition.Copd => "13645005",
        Condition.HeartFailure => "84114007",
        Condition.Diabetes => "73211009",
        Condition.FrailElderly => "248279007",
        _ => throw new ArgumentOutOfRangeException(nameof(condition), condition, null),
    };

    public static string DisplayOf(Condition condition) => condition switch
    {
        Condition.Copd => "Chronic obstructive lung disease",
        Condition.HeartFailure => "Heart failure",
        Condition.Diabetes => "Diabetes mellitus",
        Condition.FrailElderly => "Frailty",
        _ => condition.ToString(),
    };

    /// <summary>The extension that records <paramref name="condition"/> on a Patient.</summary>
    public static Extension ToExtension(Condition condition) =>
        new(ExtensionUrl, new CodeableConcept(Snomed, SnomedCodeOf(condition), DisplayOf(condition)));

    /// <summary>The known conditions of a Patient, in enum order; unknown codes are ignored.</summary>
    public static IReadOnlyList<Condition> Of(Patient patient)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var found = new SortedSet<Condition>();
        foreach (var extension in patient.Extension.Where(e => e.Url == ExtensionUrl))
        {
            if (extension.Value is CodeableConcept concept)
            {
                foreach (var coding in concept.Coding.Where(c => c.System == Snomed && c.Code is not null))
                {
                    if (BySnomedCode.TryGetValue(coding.Code!, out var condition))
                    {
                        found.Add(condition);
                    }
                }
            }
        }

        return [.. found];
    }
}
