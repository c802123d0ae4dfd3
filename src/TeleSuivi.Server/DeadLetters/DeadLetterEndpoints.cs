using System.Text;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.DeadLetters;

/// <summary><c>/api/deadletters</c>: list, show and replay dead letters (the CLI's <c>deadletter</c> command uses it).</summary>
public static class DeadLetterEndpoints
{
    public static IEndpointRouteBuilder MapDeadLetterApi(this IEndpointRouteBuilder endpoints)
    {
        // Nurses and physicians see the letters of their patients' devices only (DeadLetterAccess); replay is for admins.
        var api = endpoints.MapGroup("/api/deadletters");
        api.MapGet("/", async (HttpContext context, DeadLetterStore store, string? reason, long? after, int? limit, bool? all, CancellationToken cancellationToken) =>
        {
            if (limit is < 1 or > 1000)
            {
                return Results.Problem(title: "limit must be between 1 and 1000", statusCode: StatusCodes.Status400BadRequest);
            }

            var letters = await DeadLetterAccess.ListAsync(
                context, store, new DeadLetterQuery { ReasonCode = reason, AfterId = after ?? 0, Limit = limit ?? 100, IncludeReplayed = all ?? false }, cancellationToken);
            return Results.Ok(letters.Select(View));
        });
        api.MapGet("/counts", async (HttpContext context, DeadLetterStore store, CancellationToken cancellationToken) =>
            Results.Ok(await DeadLetterAccess.CountByReasonAsync(context, store, cancellationToken)));
        api.MapGet("/{id:long}", async (HttpContext context, long id, DeadLetterStore store, CancellationToken cancellationToken) =>
            await store.FindAsync(id, cancellationToken) is { } letter
                ? await DeadLetterAccess.ShowAsync(context, letter, View)
                : Results.Problem(title: $"no dead letter {id}", statusCode: StatusCodes.Status404NotFound));
        api.MapPost("/replay", async (HttpContext context, ReplayRequest? request, DeadLetterReplayer replayer, CancellationToken cancellationToken) =>
        {
            var query = new DeadLetterQuery { ReasonCode = request?.Reason, Ids = request?.Ids };
            var result = await replayer.ReplayAsync(query, cancellationToken);
            await HttpAudit.AppendAsync(context, "deadletter.replay", null, "200", System.Text.Json.JsonSerializer.Serialize(request));
            return Results.Ok(result);
        }).RequireAuthorization(Policies.Admin);
        return endpoints;
    }

    /// <summary>The payload as text when it is printable UTF-8, and always as base64 so nothing is lost.</summary>
    public static object View(DeadLetter letter) => new
    {
        letter.Id,
        letter.Topic,
        letter.ReceivedAt,
        letter.ReasonCode,
        letter.Reason,
        letter.ReasonFr,
        letter.Attempts,
        letter.ReplayedAt,
        PayloadBytes = letter.Payload.Length,
        PayloadText = AsText(letter.Payload),
        PayloadBase64 = Convert.ToBase64String(letter.Payload),
    };

    private static string? AsText(byte[] payload)
    {
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(payload);
            return text.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')) ? null : text;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}

/// <summary>Body of <c>POST /api/deadletters/replay</c>: the letters to replay (all pending when both are empty).</summary>
public sealed record ReplayRequest(IReadOnlyCollection<long>? Ids, string? Reason);
