using Microsoft.AspNetCore.Diagnostics;

namespace TeleSuivi.Server.Web;

/// <summary>
/// A request the API cannot bind (a body that is not JSON, a value of the wrong type, a body too large) is answered
/// with its status and the reason as problem details, instead of an empty 400: a client, or the nurse behind it,
/// learns what to fix. Needs <see cref="RouteHandlerOptions.ThrowOnBadRequest"/>.
/// </summary>
public sealed class BadRequestAnswer : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }

        // The message names the parameter and what was wrong with it, never a value of the request.
        var problem = TypedResults.Problem(detail: bad.InnerException is System.Text.Json.JsonException json ? $"{bad.Message} {json.Message}" : bad.Message, statusCode: bad.StatusCode);
        await problem.ExecuteAsync(httpContext);
        return true;
    }
}
