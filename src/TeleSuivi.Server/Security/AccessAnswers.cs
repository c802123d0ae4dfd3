using Hl7.Fhir.Model;
using TeleSuivi.Server.Fhir;

namespace TeleSuivi.Server.Security;

/// <summary>
/// How refusals look: machine routes (<see cref="IsMachineRoute"/>) answer 401/403 with a body in their own format
/// (an OperationOutcome under <c>/fhir</c>, ProblemDetails elsewhere); pages redirect to the login page instead.
/// </summary>
public static class AccessAnswers
{
    private static readonly string[] MachinePrefixes = ["/api", "/fhir", "/metrics", "/hubs", "/health"];

    /// <summary>Routes read by programs, not people: they never redirect to the login page.</summary>
    public static bool IsMachineRoute(PathString path) =>
        MachinePrefixes.Any(prefix => path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase));

    public static System.Threading.Tasks.Task WriteAsync(HttpContext context, int status, string message)
    {
        if (context.Response.HasStarted)
        {
            return System.Threading.Tasks.Task.CompletedTask;
        }

        context.Response.StatusCode = status;
        if (context.Request.Path.StartsWithSegments("/fhir", StringComparison.OrdinalIgnoreCase))
        {
            var type = status == StatusCodes.Status401Unauthorized ? OperationOutcome.IssueType.Login : OperationOutcome.IssueType.Forbidden;
            return FhirResults.Outcome(status, type, message).ExecuteAsync(context);
        }

        return Results.Problem(title: message, statusCode: status).ExecuteAsync(context);
    }
}
