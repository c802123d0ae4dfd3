using System.Globalization;
using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Audit;

namespace TeleSuivi.Server.Security;

/// <summary>
/// <c>GET /login</c> (the form), <c>POST /login</c> (password check, lockout, session cookie), <c>POST /logout</c>, and
/// <c>GET /api/me</c> (who is signed in, and the anti-forgery token a page needs for its logout form). Both forms
/// carry an anti-forgery token, checked before anything else.
/// </summary>
public static class LoginEndpoints
{
    public const string LoginPath = "/login";

    public static IEndpointRouteBuilder MapTeleSuiviLogin(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(LoginPath, (HttpContext context, IAntiforgery antiforgery, string? returnUrl) =>
            LoginPage(context, antiforgery, LocalOrRoot(returnUrl), error: null, StatusCodes.Status200OK)).AllowAnonymous();

        endpoints.MapPost(LoginPath, SignInAsync).AllowAnonymous().DisableAntiforgery();

        endpoints.MapPost("/logout", async (HttpContext context, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.Problem(title: "the logout form has expired: reload the page", statusCode: StatusCodes.Status400BadRequest);
            }

            await HttpAudit.AppendAsync(context, "logout", null, "ok");
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect(LoginPath);
        }).DisableAntiforgery();

        endpoints.MapGet("/api/me", (HttpContext context, IAntiforgery antiforgery) => Results.Ok(new
        {
            name = context.User.Identity!.Name,
            role = context.User.FindFirstValue(ClaimTypes.Role),
            teams = context.User.FindAll(TeleSuiviClaims.Team).Select(c => c.Value),
            logoutToken = antiforgery.GetAndStoreTokens(context).RequestToken,
        }));
        return endpoints;
    }

    private static async Task<IResult> SignInAsync(HttpContext context, IAntiforgery antiforgery, AccountStore accounts, IOptions<SecurityOptions> options, TimeProvider time)
    {
        if (!context.Request.HasFormContentType)
        {
            return Results.Problem(title: "POST /login takes the login form (application/x-www-form-urlencoded)", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        IFormCollection form;
        try
        {
            form = await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException)
        {
            // Over the form limits (a 4 MiB value) or not a form at all: the user's request, not a server error.
            return LoginPage(context, antiforgery, LocalOrRoot(null), "The form could not be read: please sign in again.", StatusCodes.Status400BadRequest);
        }

        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return LoginPage(context, antiforgery, LocalOrRoot(null), "The form has expired: please sign in again.", StatusCodes.Status400BadRequest);
        }

        var name = form["username"].ToString().Trim();
        var password = form["password"].ToString();
        var returnUrl = LocalOrRoot(form["returnUrl"].ToString());
        if (name.Length == 0 || password.Length == 0 || name.Length > 64 || password.Length > 1024)
        {
            return LoginPage(context, antiforgery, returnUrl, "Enter your user name and password.", StatusCodes.Status400BadRequest);
        }

        var settings = options.Value;
        var result = await accounts.CheckPasswordAsync(name, password, settings.MaxFailedLogins, settings.LockoutDuration, time.GetUtcNow(), context.RequestAborted);
        var outcome = result.Outcome.ToString().ToLowerInvariant();
        var attempt = HttpAudit.Entry(context, "login", null, outcome) with { Actor = result.Account?.Name ?? name, Role = result.Account?.Role ?? "-" };
        await HttpAudit.AppendAsync(context, [attempt]);
        switch (result.Outcome)
        {
            case LoginOutcome.Succeeded:
                var account = result.Account!;
                await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, PrincipalOf(account));
                return Results.Redirect(returnUrl);
            case LoginOutcome.LockedOut:
                return LoginPage(context, antiforgery, returnUrl,
                    string.Create(CultureInfo.InvariantCulture, $"This account is locked after {settings.MaxFailedLogins} wrong passwords, until {result.LockedUntil:HH:mm} UTC. An administrator can unlock it sooner."),
                    StatusCodes.Status401Unauthorized);
            default:
                // A disabled account gets the same answer as a wrong password: nothing tells which accounts exist.
                return LoginPage(context, antiforgery, returnUrl, "Wrong user name or password.", StatusCodes.Status401Unauthorized);
        }
    }

    public static ClaimsPrincipal PrincipalOf(UserAccount account)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, account.Name),
            new(ClaimTypes.Role, account.Role),
            new(TeleSuiviClaims.Method, "password"),
        };
        claims.AddRange(account.Teams.Select(team => new Claim(TeleSuiviClaims.Team, team)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme));
    }

    /// <summary>Only a path of this site: an absolute or protocol-relative URL would make the login page an open redirect.</summary>
    private static string LocalOrRoot(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) ? url : "/";

    private static IResult LoginPage(HttpContext context, IAntiforgery antiforgery, string returnUrl, string? error, int status)
    {
        var token = antiforgery.GetAndStoreTokens(context);
        var message = error is null ? string.Empty : $"""<p class="error" role="alert">{WebUtility.HtmlEncode(error)}</p>""";
        var html = $$"""
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>Sign in · TeleSuivi</title>
              <link rel="stylesheet" href="/site.css">
            </head>
            <body>
              <header><h1>TeleSuivi</h1></header>
              <main class="login">
                <form method="post" action="{{LoginPath}}">
                  <h2>Sign in</h2>
                  {{message}}
                  <label>User name <input name="username" autocomplete="username" required maxlength="64" autofocus></label>
                  <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
                  <input type="hidden" name="{{WebUtility.HtmlEncode(token.FormFieldName)}}" value="{{WebUtility.HtmlEncode(token.RequestToken)}}">
                  <input type="hidden" name="returnUrl" value="{{WebUtility.HtmlEncode(returnUrl)}}">
                  <button type="submit">Sign in</button>
                </form>
              </main>
            </body>
            </html>
            """;
        return Results.Content(html, "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);
    }
}
