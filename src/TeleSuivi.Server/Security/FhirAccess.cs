using System.Globalization;
using Hl7.Fhir.Model;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Fhir;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Security;

/// <summary>
/// Care-team access and the audit trail for the FHIR facade. Searches are narrowed before they run (an Observation
/// search must name a patient the user sees; Patient and Device searches list only those the user sees); then, as a
/// second line, every answer is checked: a resource about a patient outside the user's teams is never sent (403).
/// Every answer about patients is audited, one row per patient in it.
/// </summary>
public static class FhirAccess
{
    private const string DeniedPatientKey = "telesuivi.denied-patient";

    /// <summary>Refuses (403) a search whose subject is outside the user's teams. <paramref name="reference"/> is <c>Type/id</c>.</summary>
    public static void DemandSubject(HttpRequest http, string reference)
    {
        var access = PatientAccess.Of(http.HttpContext);
        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        var (type, id) = slash < 0 ? ("Patient", reference) : (reference[..slash], reference[(slash + 1)..]);
        var allowed = type switch
        {
            "Patient" => access.CanSee(id),
            "Device" => access.CanSeeDevice(id),
            "Location" => true, // a zone's environment readings: no patient data
            _ => access.SeesEveryPatient,
        };
        if (!allowed)
        {
            http.HttpContext.Items[DeniedPatientKey] = type == "Patient" ? id : null;
            throw new FhirRequestException(StatusCodes.Status403Forbidden, OperationOutcome.IssueType.Forbidden,
                $"{reference} is not in your care teams' patients");
        }
    }

    /// <summary>The group filter: checks every answer against the user's teams and writes it to the audit trail.</summary>
    public static async ValueTask<object?> CheckAndAuditAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var action = ActionOf(http.Request);
        object? result;
        try
        {
            result = await next(context);
        }
        catch (FhirRequestException ex) when (ex.StatusCode == StatusCodes.Status403Forbidden)
        {
            await HttpAudit.AppendAsync(http, action ?? "fhir.other", http.Items[DeniedPatientKey] as string, "403", ex.Message);
            throw;
        }

        if (action is null)
        {
            return result;
        }

        if (result is not FhirResourceResult answer || answer.StatusCode >= 300)
        {
            var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : http.Response.StatusCode;
            await HttpAudit.AppendAsync(http, action, null, status.ToString(CultureInfo.InvariantCulture));
            return result;
        }

        var access = PatientAccess.Of(http);
        var registry = http.RequestServices.GetRequiredService<DeviceRegistry>();
        var patients = new SortedSet<string>(StringComparer.Ordinal);
        var hidden = new List<string>();
        foreach (var resource in ResourcesIn(answer.Resource))
        {
            switch (resource)
            {
                case Device device when device.Id is { } id:
                    if (!access.CanSeeDevice(id))
                    {
                        hidden.Add($"Device/{id}");
                    }

                    foreach (var assignment in registry.AssignmentsOf(id))
                    {
                        if (access.CanSee(assignment.PatientId))
                        {
                            patients.Add(assignment.PatientId);
                        }
                    }

                    break;
                default:
                    if (PatientOf(resource) is { } patient)
                    {
                        (access.CanSee(patient) ? patients : (ICollection<string>)hidden).Add(patient);
                    }

                    break;
            }
        }

        if (hidden.Count > 0)
        {
            await HttpAudit.AppendAsync(http, hidden.Select(p => HttpAudit.Entry(http, action, p.StartsWith("Device/", StringComparison.Ordinal) ? null : p, "403", p)).ToList());
            return FhirResults.Outcome(StatusCodes.Status403Forbidden, OperationOutcome.IssueType.Forbidden, "the answer concerns patients outside your care teams");
        }

        var status200 = answer.StatusCode.ToString(CultureInfo.InvariantCulture);
        await HttpAudit.AppendAsync(http, patients.Count == 0
            ? [HttpAudit.Entry(http, action, null, status200)]
            : patients.Select(p => HttpAudit.Entry(http, action, p, status200)).ToList());
        return result;
    }

    /// <summary>What the request does, for the trail; null for what concerns no patient (the CapabilityStatement).</summary>
    private static string? ActionOf(HttpRequest request)
    {
        var segments = request.Path.Value!.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments switch
        {
            ["fhir"] when HttpMethods.IsPost(request.Method) => "fhir.import",
            ["fhir", "metadata"] => null,
            ["fhir", _, "_search"] => "fhir.search",
            ["fhir", _] => "fhir.search",
            ["fhir", _, _] => "fhir.read",
            _ => "fhir.other",
        };
    }

    private static IEnumerable<Resource> ResourcesIn(Resource resource)
    {
        if (resource is Bundle bundle)
        {
            return bundle.Entry.Where(e => e.Resource is not null).SelectMany(e => ResourcesIn(e.Resource!));
        }

        return [resource];
    }

    private static string? PatientOf(Resource resource)
    {
        var reference = resource switch
        {
            Patient patient => $"Patient/{patient.Id}",
            Observation observation => observation.Subject?.Reference,
            RiskAssessment risk => risk.Subject?.Reference,
            _ => null,
        };
        return reference is not null && reference.StartsWith("Patient/", StringComparison.Ordinal) ? reference["Patient/".Length..] : null;
    }
}
