using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Security;

/// <summary>
/// Authentication (session cookie for people, bearer API keys for programs), authorization (every route needs a
/// nurse, physician or admin unless it says otherwise), security headers, errors without stack traces, the audit trail.
/// </summary>
public static class SecurityServices
{
    private const string SelectScheme = "TeleSuivi";

    /// <summary>Files served before sign-in: what the login page itself needs, and nothing with data in it.</summary>
    private static readonly HashSet<string> PublicAssets = new(StringComparer.OrdinalIgnoreCase) { "/site.css" };

    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static IServiceCollection AddTeleSuiviSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.Section);
        // One SQLite file each in the data folder, or the PostgreSQL database every node shares (Workflow:PostgreSql).
        services.AddSingleton(sp => new AccountStore(WorkflowDatabase.Create(sp, AccountStore.FileName)));
        services.AddSingleton(sp => new AuditLog(WorkflowDatabase.Create(sp, AuditLog.FileName), sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<SecurityInitializer>();
        services.AddHttpContextAccessor();
        services.AddScoped(sp => new PatientAccess(
            sp.GetRequiredService<IHttpContextAccessor>().HttpContext?.User ?? new System.Security.Claims.ClaimsPrincipal(),
            sp.GetRequiredService<DeviceRegistry>()));
        services.AddProblemDetails();
        services.AddExceptionHandler<Web.BadRequestAnswer>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        // The session cookie is encrypted with keys kept beside the data (or, with Workflow:PostgreSql, in the database
        // every node shares), so sessions survive a restart and any web node reads another's cookie.
        // The folder is readable by the service account only: whoever reads these keys can forge a session.
        var dataDirectory = configuration.GetSection(StoreOptions.Section).Get<StoreOptions>()?.DataDirectory ?? new StoreOptions().DataDirectory;
        var keys = Path.Combine(Path.GetFullPath(dataDirectory), "keys");
        if (!OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var dataProtection = services.AddDataProtection().SetApplicationName("telesuivi");
        if (string.IsNullOrWhiteSpace(configuration.GetSection(WorkflowOptions.Section).Get<WorkflowOptions>()?.PostgreSql))
        {
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(keys));
        }
        else
        {
            // Several web nodes: the keys are shared in PostgreSQL, so any node reads a cookie another one issued.
            services.AddOptions<KeyManagementOptions>().Configure<IServiceProvider>((options, sp) =>
                options.XmlRepository = new SharedDataProtectionKeys(WorkflowDatabase.Create(sp, "keys")));
        }
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "telesuivi.antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });

        services.AddAuthentication(SelectScheme)
            .AddPolicyScheme(SelectScheme, "Cookie or API key", o => o.ForwardDefaultSelector = context =>
                ApiKeyAuthenticationHandler.HasBearer(context.Request) ? ApiKeyAuthenticationHandler.SchemeName : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, _ => { });
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<IOptions<SecurityOptions>>((cookie, security) => ConfigureCookie(cookie, security.Value));

        var clinical = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().RequireRole(Roles.People).Build();
        services.AddAuthorizationBuilder()
            .SetDefaultPolicy(clinical)
            .SetFallbackPolicy(clinical)
            .AddPolicy(Policies.Clinical, clinical)
            .AddPolicy(Policies.Admin, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin))
            .AddPolicy(Policies.Metrics, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin, Roles.Metrics));
        return services;
    }

    /// <summary>The middleware, in order; call before mapping any endpoint.</summary>
    public static WebApplication UseTeleSuiviSecurity(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
            if (AccessAnswers.IsMachineRoute(context.Request.Path))
            {
                // Patient data must not stay in browser or proxy caches.
                headers.CacheControl = "no-store";
            }

            if (context.Request.IsHttps)
            {
                var maxAge = (long)context.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.HstsMaxAge.TotalSeconds;
                headers.StrictTransportSecurity = $"max-age={maxAge}; includeSubDomains";
            }

            return next(context);
        });
        app.UseWhen(context => PublicAssets.Contains(context.Request.Path), branch => branch.UseStaticFiles());
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapTeleSuiviLogin();
        app.MapAuditApi();
        return app;
    }

    private static void ConfigureCookie(CookieAuthenticationOptions cookie, SecurityOptions security)
    {
        cookie.Cookie.Name = "telesuivi.session";
        cookie.Cookie.HttpOnly = true;
        cookie.Cookie.SameSite = SameSiteMode.Strict;
        cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        cookie.ExpireTimeSpan = security.SessionIdleTimeout;
        cookie.SlidingExpiration = true;
        cookie.LoginPath = LoginEndpoints.LoginPath;
        cookie.ReturnUrlParameter = "returnUrl";
        cookie.Events.OnRedirectToLogin = context => AccessAnswers.IsMachineRoute(context.Request.Path)
            ? AccessAnswers.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "sign in, or send an API key: Authorization: Bearer <key>")
            : RedirectAsync(context);
        cookie.Events.OnRedirectToAccessDenied = context =>
            AccessAnswers.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, "your role does not allow this request");

        // Every request re-reads the account: a user disabled, or moved to another role or team, loses the old
        // session at once rather than when the cookie expires.
        cookie.Events.OnValidatePrincipal = async context =>
        {
            var name = context.Principal?.Identity?.Name;
            var account = name is null ? null : await context.HttpContext.RequestServices.GetRequiredService<AccountStore>().FindUserAsync(name, context.HttpContext.RequestAborted);
            var principal = context.Principal!;
            var teams = principal.FindAll(TeleSuiviClaims.Team).Select(c => c.Value).Order(StringComparer.Ordinal);
            if (account is null || account.Disabled || !principal.IsInRole(account.Role) || !teams.SequenceEqual(account.Teams.Order(StringComparer.Ordinal)))
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            }
        };
    }

    private static Task RedirectAsync(RedirectContext<CookieAuthenticationOptions> context)
    {
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
