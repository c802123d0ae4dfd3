using System.Globalization;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.Audit;

/// <summary><c>GET /api/audit?patient=&amp;user=&amp;from=&amp;to=&amp;after=&amp;limit=</c>: the trail, for admins (and itself audited).</summary>
public static class AuditEndpoints
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/audit", async (HttpContext context, AuditLog audit, string? patient, string? user, string? from, string? to, long? after, int? limit, CancellationToken cancellationToken) =>
        {
            var problems = new List<string>();
            var fromTime = ParseTime("from", from, problems);
            var toTime = ParseTime("to", to, problems);
            if (limit is < 1 or > 1000)
            {
                problems.Add("limit must be between 1 and 1000");
            }

            if (after is < 0)
            {
                problems.Add("after must be a row number (0 or more)");
            }

            if (problems.Count > 0)
            {
                return Results.Problem(title: string.Join("; ", problems), statusCode: StatusCodes.Status400BadRequest);
            }

            var rows = await audit.ListAsync(new AuditQuery(patient, user, fromTime, toTime, after ?? 0, limit ?? 100), cancellationToken);
            await HttpAudit.AppendAsync(context, "audit.query", patient, "200", $"{rows.Count} row(s)");
            return Results.Ok(rows.Select(r => new
            {
                r.Seq,
                r.Time,
                r.Entry.Actor,
                r.Entry.Role,
                r.Entry.Action,
                r.Entry.Patient,
                r.Entry.Resource,
                r.Entry.Outcome,
                r.Entry.Source,
                r.Entry.Detail,
                r.Hash,
            }));
        }).RequireAuthorization(Policies.Admin);
        return endpoints;
    }

    /// <summary>An ISO 8601 date or date-time; without an offset it is UTC.</summary>
    public static DateTimeOffset? ParseTime(string name, string? value, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        problems.Add($"{name} '{value}' is not an ISO 8601 date or date-time (e.g. 2026-01-15 or 2026-01-15T08:00:00Z)");
        return null;
    }
}
