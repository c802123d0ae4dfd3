using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Condition = TeleSuivi.Risk.Cohort.Condition;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Alerts;

/// <summary>What the board and the alert engine need to know about a registered patient.</summary>
/// <param name="Team">The care teams following the patient (the <c>Organization</c>s of <c>Patient.generalPractitioner</c>, see README "Security"), comma-separated, or null.</param>
/// <param name="Physician">The first <c>Patient.generalPractitioner</c> that is not a care team (display or reference), to whom alerts escalate; or null.</param>
/// <param name="Gender">The FHIR <c>Patient.gender</c> code (<c>female</c>, <c>male</c>, <c>other</c>, <c>unknown</c>), or null.</param>
/// <param name="Severity">The severity (1–4) of the primary condition, from the extension <see cref="SeverityExtensionUrl"/>, or null.</param>
/// <param name="PriorYearExacerbations">The exacerbations of the 12 months before enrolment, from the extension <see cref="PriorYearExacerbationsExtensionUrl"/>, or null.</param>
public sealed record PatientInfo(
    string Id,
    string Name,
    string? Zone,
    string? Team,
    string? Physician,
    IReadOnlyList<Condition> Conditions,
    string? BirthDate,
    string? Gender = null,
    int? Severity = null,
    int? PriorYearExacerbations = null)
{
    /// <summary>A <c>valueInteger</c> 1–4 on the Patient: GOLD grade for COPD, NYHA class for heart failure (the risk model's severity).</summary>
    public const string SeverityExtensionUrl = "https://telesuivi.org/fhir/StructureDefinition/condition-severity";

    /// <summary>
    /// A <c>valueInteger</c> ≥ 0 on the Patient: the exacerbations of the 12 months before enrolment, as recorded at
    /// enrolment (the history GOLD's assessment asks for; a risk-model feature).
    /// </summary>
    public const string PriorYearExacerbationsExtensionUrl = "https://telesuivi.org/fhir/StructureDefinition/exacerbations-prior-year";

    /// <summary>The most exacerbations in a year the extension may record: more is a typing error, not a history.</summary>
    public const int MaxPriorYearExacerbations = 52;

    /// <summary>The severity scale of <see cref="SeverityExtensionUrl"/> (GOLD grades and NYHA classes both run 1 to 4).</summary>
    public const int MinSeverity = 1;
    public const int MaxSeverity = 4;

    /// <summary>The Patient's severity, or null when it records none in the scale (the import refuses those; a registry written before may hold one).</summary>
    public static int? SeverityOf(Patient patient) =>
        patient.GetExtensionValue<Integer>(SeverityExtensionUrl)?.Value is int severity and >= MinSeverity and <= MaxSeverity ? severity : null;

    /// <summary>The Patient's exacerbations of the year before enrolment, or null when it records none in 0 to <see cref="MaxPriorYearExacerbations"/>.</summary>
    public static int? PriorYearExacerbationsOf(Patient patient) =>
        patient.GetExtensionValue<Integer>(PriorYearExacerbationsExtensionUrl)?.Value is int prior and >= 0 and <= MaxPriorYearExacerbations ? prior : null;
}

/// <summary>A device assigned to a patient now, with its kind (the code of <c>Device.type</c>) for the monitoring plan.</summary>
public sealed record AssignedDevice(string Id, string? Kind);

/// <summary>
/// Reads patients and devices out of the registry's FHIR resources, once per version of each resource
/// (the registry keeps the JSON as imported).
/// </summary>
public sealed class PatientDirectory(DeviceRegistry registry)
{
    private static readonly FhirJsonDeserializer Deserializer = new(new DeserializerSettings().UsingMode(DeserializationMode.Ostrich));
    private readonly ConcurrentDictionary<string, (string Resource, PatientInfo Info)> patients = new(StringComparer.Ordinal);

    public PatientInfo? Find(string patientId)
    {
        if (registry.FindPatient(patientId) is not { } registered)
        {
            return null;
        }

        if (patients.TryGetValue(patientId, out var cached) && ReferenceEquals(cached.Resource, registered.Resource))
        {
            return cached.Info;
        }

        var info = Read(registered);
        patients[patientId] = (registered.Resource, info);
        return info;
    }

    public IReadOnlyList<PatientInfo> All() => registry.Patients.Select(p => Find(p.Id)).OfType<PatientInfo>().ToList();

    /// <summary>The devices assigned to each patient at <paramref name="now"/>.</summary>
    public IReadOnlyDictionary<string, List<AssignedDevice>> AssignedDevices(DateTimeOffset now)
    {
        var byPatient = new Dictionary<string, List<AssignedDevice>>(StringComparer.Ordinal);
        foreach (var device in registry.Devices)
        {
            if (registry.ResolvePatient(device.Id, now) is not { } patientId)
            {
                continue;
            }

            if (!byPatient.TryGetValue(patientId, out var list))
            {
                byPatient[patientId] = list = [];
            }

            list.Add(new AssignedDevice(device.Id, device.Kind));
        }

        return byPatient;
    }

    private static PatientInfo Read(RegisteredPatient registered)
    {
        Patient patient;
        try
        {
            patient = Deserializer.Deserialize<Patient>(registered.Resource);
        }
        catch (DeserializationFailedException)
        {
            return new PatientInfo(registered.Id, registered.Id, registered.Zone, TeamsOf(registered), null, [], null);
        }

        var name = patient.Name.FirstOrDefault() is { } human
            ? string.Join(' ', human.Given.Append(human.Family).Where(part => !string.IsNullOrWhiteSpace(part)))
            : string.Empty;
        var physician = patient.GeneralPractitioner.FirstOrDefault(gp => gp.Reference?.StartsWith("Organization/", StringComparison.Ordinal) != true) is { } gp
            ? gp.Display ?? gp.Reference
            : null;
        return new PatientInfo(
            registered.Id,
            name.Length > 0 ? name : registered.Id,
            registered.Zone,
            TeamsOf(registered),
            physician,
            ClinicalConditions.Of(patient),
            patient.BirthDate,
            patient.Gender?.ToString().ToLowerInvariant(),
            PatientInfo.SeverityOf(patient),
            PatientInfo.PriorYearExacerbationsOf(patient));
    }

    private static string? TeamsOf(RegisteredPatient registered) => registered.Teams.Count > 0 ? string.Join(", ", registered.Teams) : null;
}
