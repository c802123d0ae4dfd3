using System.Reflection;
using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.CapabilityStatement;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// <c>GET /fhir/metadata</c>: the CapabilityStatement, listing exactly what <see cref="FhirEndpoints"/> serves. Change
/// both together, and <see cref="LastChanged"/> with them.
/// </summary>
internal static class FhirCapabilities
{
    /// <summary>When the capabilities last changed (CapabilityStatement.date).</summary>
    public const string LastChanged = "2026-11-23";

    private const string Spec = "http://hl7.org/fhir/SearchParameter/";

    public static CapabilityStatement Build(string baseUrl)
    {
        var assembly = typeof(FhirCapabilities).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "0.0.0";
        var rest = new RestComponent
        {
            Mode = RestfulCapabilityMode.Server,
            Documentation = new Markdown(
                "JSON only (application/fhir+json; _format=json and Accept application/json are accepted). " +
                "Unknown search parameters are refused with 400 unless the request says 'Prefer: handling=lenient', which ignores them and reports them in an OperationOutcome entry. " +
                "Searches take _count (default 50, at most 1000) and page with opaque next/previous links (a position in the order, stable while data arrives). " +
                "Dates without a time zone are read as UTC."),
            Security = new SecurityComponent
            {
                Cors = false,
                Description = new Markdown(
                    "Every interaction but this CapabilityStatement needs 'Authorization: Bearer <API key>' (telesuivi apikey create) or a signed-in session: 401 without. " +
                    "Nurses and physicians see the patients of their care teams only (Patient.generalPractitioner Organization/{team}): 403 otherwise; the transaction (POST /fhir) is for admins. " +
                    "Every answer about a patient is written to a hash-chained audit trail."),
            },
        };
        rest.Resource.Add(Resource(
            ResourceType.Observation,
            "http://hl7.org/fhir/StructureDefinition/Observation",
            "Readings of the connected devices and of the environment, read-only. A search must name its subject (subject or patient). " +
            "code matches the first coding of Observation.code (LOINC, or TeleSuivi's own code where LOINC has none); a bare code matches any system, system| any code of the system, and a comma-separated list any of them. " +
            "date compares the effective time (the start of effectivePeriod) with the prefixes eq (default), ge, gt, le, lt, at any precision (2026, 2026-01, 2026-01-15, …), repeatable (all apply). " +
            "_sort=date (default, oldest first) or -date (latest first). Bundle.total is given when the store counts cheaply (SQLite), not on InfluxDB.",
            [
                Parameter("subject", SearchParamType.Reference, "Observation-subject", "Patient/{id}, {id} (a patient), or Location/{zone} (environment readings); one subject; required unless patient is given"),
                Parameter("patient", SearchParamType.Reference, "clinical-patient", "Patient/{id} or {id}; the same as subject for a patient"),
                Parameter("code", SearchParamType.Token, "clinical-code", "system|code, |code, system| or code, comma-separated for any of them"),
                Parameter("date", SearchParamType.Date, "clinical-date", "prefixes eq, ge, gt, le, lt; repeatable"),
            ]));
        rest.Resource.Add(Resource(
            ResourceType.Patient,
            "http://hl7.org/fhir/StructureDefinition/Patient",
            "The registered patients, as imported with POST [base]; ordered by id.",
            [
                Parameter("_id", SearchParamType.Token, "Resource-id", "one id or a comma-separated list"),
                Parameter("identifier", SearchParamType.Token, "Patient-identifier", "system|value, |value, system| or value"),
            ]));
        rest.Resource.Add(Resource(
            ResourceType.Device,
            "http://hl7.org/fhir/StructureDefinition/Device",
            "The registered devices, as imported with POST [base]; ordered by id.",
            [
                Parameter("_id", SearchParamType.Token, "Resource-id", "one id or a comma-separated list"),
                Parameter("identifier", SearchParamType.Token, "Device-identifier", "system|value, |value, system| or value"),
                Parameter("patient", SearchParamType.Reference, "Device-patient", "the devices assigned to the patient now (by Device.patient or a DeviceUseStatement whose period covers now)"),
            ]));
        rest.Resource.Add(Resource(
            ResourceType.RiskAssessment,
            "http://hl7.org/fhir/StructureDefinition/RiskAssessment",
            FhirRiskAssessments.Documentation,
            [
                Parameter("subject", SearchParamType.Reference, "RiskAssessment-subject", "Patient/{id} or {id}; required, one patient"),
                Parameter("patient", SearchParamType.Reference, "clinical-patient", "Patient/{id} or {id}"),
                Parameter("date", SearchParamType.Date, "clinical-date", "occurrenceDateTime; prefixes eq, ge, gt, le, lt; repeatable"),
            ]));
        rest.Interaction.Add(new SystemInteractionComponent
        {
            Code = SystemRestfulInteraction.Transaction,
            Documentation = new Markdown(
                "POST [base] with a transaction (or batch, or collection) Bundle of Patient, Device (Device.patient: assigned from then on) and DeviceUseStatement (device, subject, timingPeriod): the registry import, applied all or nothing."),
        });

        return new CapabilityStatement
        {
            Url = $"{baseUrl}/metadata",
            Name = "TeleSuiviFhirApi",
            Title = "TeleSuivi FHIR API",
            Status = PublicationStatus.Active,
            Experimental = false,
            Date = LastChanged,
            Publisher = "TeleSuivi",
            Description = new Markdown("The FHIR R4 facade of a TeleSuivi platform: readings (Observation), patients and devices of the registry, risk assessments."),
            Kind = CapabilityStatementKind.Instance,
            Software = new SoftwareComponent { Name = "TeleSuivi", Version = version },
            Implementation = new ImplementationComponent { Description = "TeleSuivi remote patient telemonitoring", Url = baseUrl },
            FhirVersion = FHIRVersion.N4_0_1,
            Format = ["json", "application/fhir+json"],
            Rest = [rest],
        };
    }

    private static ResourceComponent Resource(ResourceType type, string profile, string documentation, IEnumerable<CapabilityStatement.SearchParamComponent> parameters)
    {
        var resource = new ResourceComponent
        {
            Type = type.ToString(),
            Profile = profile,
            Documentation = new Markdown(documentation),
            Versioning = ResourceVersionPolicy.NoVersion,
            ReadHistory = false,
            UpdateCreate = false,
            ConditionalCreate = false,
            ConditionalRead = ConditionalReadStatus.NotSupported,
            ConditionalUpdate = false,
            ConditionalDelete = ConditionalDeleteStatus.NotSupported,
            Interaction =
            [
                new ResourceInteractionComponent { Code = TypeRestfulInteraction.Read },
                new ResourceInteractionComponent { Code = TypeRestfulInteraction.SearchType, Documentation = new Markdown("GET [type]?… or POST [type]/_search with a form body") },
            ],
        };
        resource.SearchParam.AddRange(parameters);
        return resource;
    }

    private static CapabilityStatement.SearchParamComponent Parameter(string name, SearchParamType type, string definition, string documentation) => new()
    {
        Name = name,
        Type = type,
        Definition = Spec + definition,
        Documentation = new Markdown(documentation),
    };
}
