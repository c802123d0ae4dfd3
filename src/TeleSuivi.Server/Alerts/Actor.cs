namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Who performs a workflow action. The authenticated user's name when there is one; until authentication is in
/// place, the name the board sends in <see cref="Header"/> (a label, not a proof of identity: keep the web port
/// behind an authenticating proxy); otherwise <see cref="Anonymous"/>.
/// </summary>
public static class Actor
{
    public const string Header = "X-TeleSuivi-User";
    public const string Anonymous = "anonymous";
    private const int MaxLength = 100;

    public static string Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name })
        {
            return name;
        }

        var claimed = context.Request.Headers[Header].ToString().Trim();
        return claimed.Length == 0 ? Anonymous
            : claimed.Length > MaxLength ? claimed[..MaxLength]
            : claimed == AlertStore.SystemActor ? Anonymous
            : claimed;
    }
}
