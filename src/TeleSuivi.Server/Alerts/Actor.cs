namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Who performs a workflow action: the signed-in user or API key (every alert route requires one, see README
/// "Security"), never a name the client declares.
/// </summary>
public static class Actor
{
    public static string Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name }
            ? name
            : throw new InvalidOperationException("a workflow action reached the alert API without an authenticated user");
    }
}
