using System.Globalization;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// The alert REST API under <c>/api/alerts</c>: the ranked board, one alert with its actions, and the workflow steps.
/// Errors are <c>application/problem+json</c>: 400 bad input, 404 unknown alert, 409 a step the alert's state refuses
/// (claimed by someone else, closed, not claimed). A nurse or physician sees and acts on the alerts of their care
/// teams' patients only: the list is filtered, and any other alert answers 403 (written to the audit trail).
/// </summary>
public static class AlertEndpoints
{
    public static RouteGroupBuilder MapAlertApi(this IEndpointRouteBuilder app)
    {
        var alerts = app.MapGroup("/api/alerts").WithTags("Alerts");
        alerts.MapGet("/", async (BoardNotifier board, PatientAccess access, bool? closed, string? severity, string? state, string? team, string? zone, string? patient, CancellationToken ct) =>
        {
            var snapshot = await board.SnapshotAsync(new AlertQuery { IncludeClosed = closed == true, PatientId = patient }, access, ct);
            var filtered = snapshot.Alerts.Where(a =>
                (severity is null || a.Severity == severity) && (state is null || a.State == state)
                && (team is null || (a.Team?.Split(", ").Contains(team) ?? false)) && (zone is null || a.Zone == zone)).ToList();
            return Results.Ok(snapshot with { Alerts = filtered });
        });
        alerts.MapGet("/{id:long}", async (long id, AlertStore store, BoardNotifier board, TimeProvider time, CancellationToken ct) =>
            await store.GetAsync(id, ct) is { } alert
                ? Results.Ok(new { alert = board.View(alert, null, 0, time.GetUtcNow()), actions = await store.ActionsAsync(id, null, null, null, ct) })
                : Results.Problem(statusCode: 404, detail: $"no alert {id}"));

        alerts.MapPost("/{id:long}/claim", (long id, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.ClaimAsync(id, Actor.Of(http), ct)));
        alerts.MapPost("/{id:long}/release", (long id, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.ReleaseAsync(id, Actor.Of(http), ct)));
        alerts.MapPost("/{id:long}/acknowledge", (long id, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.AcknowledgeAsync(id, Actor.Of(http), ct)));
        alerts.MapPost("/{id:long}/notes", (long id, NoteRequest body, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.AddNoteAsync(id, Actor.Of(http), body.Text, ct)));
        alerts.MapPost("/{id:long}/calls", (long id, CallRequest body, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.LogCallAsync(id, Actor.Of(http), body.Summary, body.Reached, ct)));
        alerts.MapPost("/{id:long}/snooze", (long id, SnoozeRequest body, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, body.Until is null && body.Minutes is { } minutes
                ? workflow.SnoozeForAsync(id, Actor.Of(http), minutes, body.Reason, ct)
                : workflow.SnoozeAsync(id, Actor.Of(http), body.Until, body.Reason, ct)));
        alerts.MapPost("/{id:long}/escalate", (long id, EscalateRequest? body, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.EscalateAsync(id, Actor.Of(http), body?.To, body?.Reason, ct)));
        alerts.MapPost("/{id:long}/resolve", (long id, ResolveRequest body, HttpContext http, AlertWorkflow workflow, CancellationToken ct) =>
            Answer(http, workflow.ResolveAsync(id, Actor.Of(http), body.Outcome, body.Note, ct)));
        alerts.AddEndpointFilter(RequireAccessToTheAlertsPatient);
        return alerts;
    }

    /// <summary>Routes about one alert (<c>{id}</c>) reach their handler only for users who see its patient.</summary>
    private static async ValueTask<object?> RequireAccessToTheAlertsPatient(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!long.TryParse(http.GetRouteValue("id")?.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            || await http.RequestServices.GetRequiredService<AlertStore>().GetAsync(id, http.RequestAborted) is not { } alert)
        {
            return await next(context);
        }

        var action = "alert." + (HttpMethods.IsGet(http.Request.Method) ? "view" : http.Request.Path.Value?.Split('/')[^1]);
        return await PatientAccessEndpoints.CheckAsync(context, next, alert.PatientId, action, $"you are not in a care team of the patient of alert {id}");
    }

    private static async Task<IResult> Answer(HttpContext http, Task<WorkflowResult> step)
    {
        var result = await step;
        var board = http.RequestServices.GetRequiredService<BoardNotifier>();
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return result.Error switch
        {
            null => Results.Ok(board.View(result.Alert!, null, 0, now)),
            { Kind: WorkflowErrorKind.NotFound } error => Results.Problem(statusCode: 404, detail: error.Message),
            { Kind: WorkflowErrorKind.Invalid } error => Results.Problem(statusCode: 400, detail: error.Message),
            { } error => Results.Problem(statusCode: 409, detail: error.Message, extensions: new Dictionary<string, object?> { ["claimedBy"] = result.Alert?.ClaimedBy }),
        };
    }
}

public sealed record NoteRequest(string? Text);

public sealed record CallRequest(string? Summary, bool Reached);

/// <param name="Until">The end of the snooze; or <paramref name="Minutes"/> from now.</param>
public sealed record SnoozeRequest(DateTimeOffset? Until, double? Minutes, string? Reason);

public sealed record EscalateRequest(string? To, string? Reason);

public sealed record ResolveRequest(string? Outcome, string? Note);
