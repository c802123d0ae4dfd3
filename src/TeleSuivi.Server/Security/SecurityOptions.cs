namespace TeleSuivi.Server.Security;

/// <summary>Bound from the <c>Security</c> configuration section (<c>TELESUIVI_SECURITY__*</c>).</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>
    /// An admin API key given by configuration, for automation that provisions the platform before any key exists
    /// (CI, deployment scripts): at least 32 characters, compared in constant time with its SHA-256; audited as
    /// <c>apikey:bootstrap</c>. Leave it unset in normal operation and create keys with <c>telesuivi apikey create</c>.
    /// </summary>
    public string? BootstrapApiKey { get; set; }

    /// <summary>A browser session ends after this long without a request (sliding: each request renews it).</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Wrong passwords in a row that lock an account.</summary>
    public int MaxFailedLogins { get; set; } = 5;

    /// <summary>How long a locked account refuses every password (an admin unlocks it sooner with <c>users enable</c>).</summary>
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary><c>Strict-Transport-Security</c> max-age sent on HTTPS responses.</summary>
    public TimeSpan HstsMaxAge { get; set; } = TimeSpan.FromDays(365);

    internal const int MinBootstrapKeyLength = 32;
}
