using System.Security.Claims;

namespace TeleSuivi.Server.Audit;

/// <summary>Audit entries of web requests: the signed-in user (or key), their role, the request and the client's address.</summary>
public static class HttpAudit
{
    private const int MaxResourceLength = 2000;

    public static AuditEntry Entry(HttpContext context, string action, string? patient, string outcome, string? detail = null)
    {
        var user = context.User;
        var request = context.Request;
        var resource = $"{request.Method} {request.Path}{request.QueryString}";
        return new AuditEntry(
            ActorOf(user),
            user.FindFirstValue(ClaimTypes.Role) ?? "-",
            action,
            patient,
            resource.Length > MaxResourceLength ? resource[..MaxResourceLength] : resource,
            outcome,
            context.Connection.RemoteIpAddress?.ToString() ?? "-",
            detail);
    }

    public static string ActorOf(ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true ? user.Identity.Name ?? "-" : "anonymous";

    /// <summary>Appends to the trail of this host.</summary>
    public static Task AppendAsync(HttpContext context, IReadOnlyCollection<AuditEntry> entries) =>
        context.RequestServices.GetRequiredService<AuditLog>().AppendAsync(entries);

    public static Task AppendAsync(HttpContext context, string action, string? patient, string outcome, string? detail = null) =>
        AppendAsync(context, [Entry(context, action, patient, outcome, detail)]);
}
