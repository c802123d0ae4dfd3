using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// <c>Patient</c> and <c>Device</c> search and read, from the registry (the resources as imported with <c>POST /fhir</c>),
/// Searches are ordered by id; pages are cut after an id.
/// </summary>
internal static class FhirRegistryResources
{
    private const string Id = "_id", Identifier = "identifier", Patient = "patient", Count = "_count";

    private static readonly FhirJsonDeserializer Parser = FhirJsonDeserializer.OSTRICH;
    private static readonly HashSet<string> PatientParameters = new(StringComparer.Ordinal) { Id, Identifier, Count, FhirPageToken.Parameter };
    private static readonly HashSet<string> DeviceParameters = new(StringComparer.Ordinal) { Id, Identifier, Patient, Count, FhirPageToken.Parameter };
    private static readonly string[] PatientType = ["Patient"];

    public static IResult SearchPatients(FhirRequest request, DeviceRegistry registry, PatientAccess access)
    {
        var ignored = request.CheckKnown(PatientParameters, "a Patient search");
        var (ids, identifiers, criteria) = Common(request);
        var candidates = registry.Patients
            .Where(p => ids is null || ids.Contains(p.Id))
            .Where(p => access.CanSee(p.Id))
            .Select(p => (p.Id, p.Resource));
        return Search<Patient>(request, "Patient", candidates, identifiers, p => p.Identifier, criteria, ignored);
    }

    public static IResult SearchDevices(FhirRequest request, DeviceRegistry registry, TimeProvider time, PatientAccess access)
    {
        var ignored = request.CheckKnown(DeviceParameters, "a Device search");
        var (ids, identifiers, criteria) = Common(request);
        string? patient = null;
        var patients = request.Values(Patient);
        if (patients.Count > 1 || (patients.Count == 1 && FhirSearchValues.SplitList(patients[0].Value).Count != 1))
        {
            throw FhirRequestException.NotSupported("'patient': one patient per search");
        }

        if (patients.Count == 1)
        {
            patient = FhirSearchValues.Reference(Patient, patients[0].Value, "Patient", PatientType, request.BaseUrl);
            FhirAccess.DemandSubject(request.Http, patient);
            criteria.Insert(0, (Patient, patient));
        }

        var now = time.GetUtcNow();
        var candidates = registry.Devices
            .Where(d => ids is null || ids.Contains(d.Id))
            .Where(d => patient is null || $"Patient/{registry.ResolvePatient(d.Id, now)}" == patient)
            .Where(d => access.CanSeeDevice(d.Id))
            .Select(d => (d.Id, d.Resource));
        return Search<Device>(request, "Device", candidates, identifiers, d => d.Identifier, criteria, ignored);
    }

    public static IResult ReadPatient(FhirRequest request, string id, DeviceRegistry registry) =>
        Read<Patient>(request, "Patient", id, registry.FindPatient(id)?.Resource);

    public static IResult ReadDevice(FhirRequest request, string id, DeviceRegistry registry) =>
        Read<Device>(request, "Device", id, registry.FindDevice(id)?.Resource);

    private static (HashSet<string>? Ids, List<FhirToken>? Identifiers, List<(string, string)> Criteria) Common(FhirRequest request)
    {
        var criteria = new List<(string, string)>();
        HashSet<string>? ids = null;
        foreach (var parameter in request.Values(Id))
        {
            var values = FhirSearchValues.SplitList(parameter.Value).ToHashSet(StringComparer.Ordinal);
            ids = ids is null ? values : [.. ids.Intersect(values)];
            criteria.Add((Id, parameter.Value));
        }

        List<FhirToken>? identifiers = null;
        foreach (var parameter in request.Values(Identifier))
        {
            (identifiers ??= []).AddRange(FhirSearchValues.SplitList(parameter.Value).Select(v => FhirSearchValues.Token(Identifier, v)));
            criteria.Add((Identifier, parameter.Value));
        }

        if (request.Values(Identifier).Count > 1)
        {
            throw FhirRequestException.NotSupported("'identifier' may be given once (a comma-separated list for any of several)");
        }

        return (ids, identifiers, criteria);
    }

    private static IResult Search<T>(
        FhirRequest request,
        string type,
        IEnumerable<(string Id, string Json)> candidates,
        List<FhirToken>? identifiers,
        Func<T, List<Hl7.Fhir.Model.Identifier>> identifiersOf,
        List<(string, string)> criteria,
        IReadOnlyList<FhirParameter> ignored)
        where T : Resource
    {
        var count = FhirSearchValues.Count(request.Once(Count));
        var fingerprint = FhirPageToken.FingerprintOf(criteria.Select(c => $"{c.Item1}={c.Item2}"));
        criteria.Add((Count, count.ToString(CultureInfo.InvariantCulture)));
        var pageValue = request.Once(FhirPageToken.Parameter);
        var page = pageValue is null ? null : FhirPageToken.Decode(pageValue, fingerprint);

        var matching = new List<(string Id, string Json, T? Resource)>();
        foreach (var (id, json) in candidates.OrderBy(c => c.Id, StringComparer.Ordinal))
        {
            // A cheap test before parsing: an identifier's value appears in the JSON of the resources that have it.
            if (identifiers is not null && !identifiers.Any(t => t.Code is null || json.Contains(t.Code, StringComparison.Ordinal)))
            {
                continue;
            }

            if (identifiers is null)
            {
                matching.Add((id, json, null));
                continue;
            }

            var resource = Parser.Deserialize<T>(json);
            if (identifiersOf(resource).Any(i => identifiers.Any(t => t.Matches(i.System ?? string.Empty, i.Value ?? string.Empty))))
            {
                matching.Add((id, json, resource));
            }
        }

        List<(string Id, string Json, T? Resource)> selected;
        bool more;
        if (page is { Forward: false })
        {
            var before = matching.Where(m => string.CompareOrdinal(m.Id, page.Id) < 0).ToList();
            more = before.Count > count;
            selected = before.Skip(Math.Max(0, before.Count - count)).ToList();
        }
        else
        {
            var after = page is null ? matching : matching.Where(m => string.CompareOrdinal(m.Id, page.Id) > 0).ToList();
            more = after.Count > count;
            selected = after.Take(count).ToList();
        }

        string? next = null, previous = null;
        if (selected.Count > 0)
        {
            var backwards = page is { Forward: false };
            if (backwards || more)
            {
                next = new FhirPageToken(true, 0, selected[^1].Id, fingerprint).Encode();
            }

            if (backwards ? more : page is not null)
            {
                previous = new FhirPageToken(false, 0, selected[0].Id, fingerprint).Encode();
            }
        }

        var resources = selected.Select(s => (Resource)(s.Resource ?? Parser.Deserialize<T>(s.Json))).ToList();
        var searchPage = new FhirSearchPage(type, resources, matching.Count, criteria, pageValue, next, previous, ignored);
        return FhirResults.Resource(searchPage.ToBundle(request), pretty: request.IsPretty);
    }

    private static IResult Read<T>(FhirRequest request, string type, string id, string? json)
        where T : Resource
    {
        request.CheckKnown(new HashSet<string>(), "a read");
        return json is null
            ? throw FhirRequestException.NotFound($"{type}/{id} is not known")
            : FhirResults.Resource(Parser.Deserialize<T>(json), pretty: request.IsPretty);
    }
}
