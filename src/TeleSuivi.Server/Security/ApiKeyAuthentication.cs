using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace TeleSuivi.Server.Security;

/// <summary>
/// <c>Authorization: Bearer tsk_…</c>: a machine client's API key (see <see cref="AccountStore.CreateApiKeyAsync"/>),
/// or the configured <see cref="SecurityOptions.BootstrapApiKey"/>. The principal carries the key's role and teams.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AccountStore accounts,
    IOptions<SecurityOptions> security,
    TimeProvider time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string BootstrapActor = "apikey:bootstrap";

    public static bool HasBearer(HttpRequest request) =>
        request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!HasBearer(Request))
        {
            return AuthenticateResult.NoResult();
        }

        var token = Request.Headers.Authorization.ToString()["Bearer ".Length..].Trim();
        if (IsBootstrapKey(token))
        {
            return Success(BootstrapActor, Roles.Admin, [], "bootstrap");
        }

        var key = await accounts.AuthenticateApiKeyAsync(token, time.GetUtcNow(), Context.RequestAborted);
        return key is null
            ? AuthenticateResult.Fail("the API key is not valid or was revoked")
            : Success($"apikey:{key.Id}", key.Role, key.Teams, key.Id);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        return AccessAnswers.WriteAsync(Context, StatusCodes.Status401Unauthorized, "the API key is not valid or was revoked");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        AccessAnswers.WriteAsync(Context, StatusCodes.Status403Forbidden, "this API key's role does not allow this request");

    private bool IsBootstrapKey(string token)
    {
        var configured = security.Value.BootstrapApiKey;
        return configured is { Length: >= SecurityOptions.MinBootstrapKeyLength }
            && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }

    private static AuthenticateResult Success(string name, string role, IEnumerable<string> teams, string keyId)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, name),
            new(ClaimTypes.Role, role),
            new(TeleSuiviClaims.Method, "apikey"),
            new(TeleSuiviClaims.ApiKeyId, keyId),
        };
        claims.AddRange(teams.Select(team => new Claim(TeleSuiviClaims.Team, team)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }
}
