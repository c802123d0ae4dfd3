using System.Globalization;
using System.Security.Claims;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Security;

/// <summary>
/// Which patients a signed-in person or API key may see: an admin sees every patient; a nurse or physician sees the
/// patients of their care teams (a patient's teams are the <c>Organization</c>s its FHIR <c>Patient.generalPractitioner</c>
/// names, see <see cref="RegistryBundleImporter"/>).
/// </summary>
/// <remarks>
/// This is THE place to authorise anything about one patient. In an endpoint, take <see cref="PatientAccess"/> as a
/// parameter (it is a scoped service built from the request's user), or put <see cref="PatientAccessEndpoints.RequirePatientAccess{TBuilder}"/>
/// on a route with a patient id in it: it answers 403 to anyone outside the patient's teams and writes the view to the
/// audit trail. Outside a request (e.g. a SignalR hub pushing to connected users), build one with
/// <c>new PatientAccess(user, registry)</c> and filter with <see cref="CanSee"/>.
/// </remarks>
public sealed class PatientAccess(ClaimsPrincipal user, DeviceRegistry registry)
{
    private readonly HashSet<string> teams = user.FindAll(TeleSuiviClaims.Team).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);

    public ClaimsPrincipal User => user;

    /// <summary>An admin (person or key): every patient, every dead letter.</summary>
    public bool SeesEveryPatient => user.IsInRole(Roles.Admin);

    public IReadOnlySet<string> Teams => teams;

    /// <summary>Whether this user may see the patient (an unknown patient is seen by admins only).</summary>
    public bool CanSee(string patientId)
    {
        if (SeesEveryPatient)
        {
            return true;
        }

        return (user.IsInRole(Roles.Nurse) || user.IsInRole(Roles.Physician))
            && registry.FindPatient(patientId) is { } patient
            && patient.Teams.Any(teams.Contains);
    }

    /// <summary>A device is seen by whoever sees a patient it was ever assigned to.</summary>
    public bool CanSeeDevice(string deviceIdOrAlias)
    {
        if (SeesEveryPatient)
        {
            return true;
        }

        var id = registry.CanonicalDeviceId(deviceIdOrAlias);
        return id is not null && registry.AssignmentsOf(id).Any(a => CanSee(a.PatientId));
    }

    /// <summary>The patient a device was assigned to at a time (for dead letters and readings of that device).</summary>
    public string? PatientOfDevice(string deviceIdOrAlias, DateTimeOffset time) => registry.ResolvePatient(deviceIdOrAlias, time);

    public static PatientAccess Of(HttpContext context) => context.RequestServices.GetRequiredService<PatientAccess>();
}

/// <summary>The endpoint filter of routes about one patient.</summary>
public static class PatientAccessEndpoints
{
    /// <summary>
    /// Only users who see the patient named by the route value <paramref name="routeParameter"/> reach the handler; the
    /// others get 403. Every call, allowed or not, is written to the audit trail as <paramref name="action"/> with the
    /// patient id and the answer's status. E.g. <c>app.MapGet("/api/patients/{patientId}/trend", …).RequirePatientAccess("patientId", "trend.view")</c>.
    /// </summary>
    public static TBuilder RequirePatientAccess<TBuilder>(this TBuilder builder, string routeParameter = "patientId", string action = "patient.view")
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter((context, next) =>
            CheckAsync(context, next, context.HttpContext.GetRouteValue(routeParameter)?.ToString(), action));

    /// <summary>
    /// The check of <see cref="RequirePatientAccess{TBuilder}"/> for a route about something of one patient (an alert,
    /// say) once the caller has found whose it is: 403 and an audit row when the user does not see
    /// <paramref name="patient"/> (or it is unknown), otherwise the handler's answer, audited with its status.
    /// <paramref name="refusal"/> replaces the 403's title when naming the patient would tell more than the route did.
    /// </summary>
    public static async ValueTask<object?> CheckAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, string? patient, string action, string? refusal = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        if (patient is null || !PatientAccess.Of(http).CanSee(patient))
        {
            await HttpAudit.AppendAsync(http, action, patient, "403");
            return Results.Problem(title: refusal ?? $"you are not in a care team of patient '{patient}'", statusCode: StatusCodes.Status403Forbidden);
        }

        var result = await next(context);
        var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : http.Response.StatusCode;
        await HttpAudit.AppendAsync(http, action, patient, status.ToString(CultureInfo.InvariantCulture));
        return result;
    }
}
