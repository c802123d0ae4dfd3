using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using TeleSuivi.Server.Security;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Security;

/// <summary>People signing in on the real login page: anti-forgery, lockout, unlock, session, logout, disabling.</summary>
public sealed partial class LoginTests(SecuredHost host) : IClassFixture<SecuredHost>
{
    private const string Password = "correct horse battery";

    private readonly string user = $"nurse-{Guid.NewGuid().ToString("N")[..8]}";

    [Fact]
    public async Task Login_AfterRepeatedWrongPasswords_LocksTheAccountUntilEnabled()
    {
        await AddUserAsync();
        using var browser = Browser();
        var maxFailures = new SecurityOptions().MaxFailedLogins;
        for (var attempt = 1; attempt < maxFailures; attempt++)
        {
            var (wrong, wrongPage) = await SignInAsync(browser, "not the password");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong);
            Assert.Contains("Wrong user name or password", wrongPage, StringComparison.Ordinal);
        }

        var (locking, lockingPage) = await SignInAsync(browser, "not the password either");
        Assert.Equal(HttpStatusCode.Unauthorized, locking);
        Assert.Contains("This account is locked", lockingPage, StringComparison.Ordinal);

        // Locked: even the right password is refused.
        var (refused, refusedPage) = await SignInAsync(browser, Password);
        Assert.Equal(HttpStatusCode.Unauthorized, refused);
        Assert.Contains("This account is locked", refusedPage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);

        var unlock = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(60), "users", "enable", user, "--data", host.DataDirectory);
        Assert.Equal(0, unlock.ExitCode);

        var (signedIn, _) = await SignInAsync(browser, Password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task Login_WithoutAntiforgeryToken_IsRefused()
    {
        await AddUserAsync();
        using var browser = Browser();

        using var response = await browser.PostAsync(
            new Uri(LoginEndpoints.LoginPath, UriKind.Relative),
            new FormUrlEncodedContent([new("username", user), new("password", Password)]),
            TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task Session_LogoutAndDisable_EndIt()
    {
        await AddUserAsync();
        using var browser = Browser();
        var (signedIn, _) = await SignInAsync(browser, Password, returnUrl: "/index.html");
        Assert.Equal(HttpStatusCode.Redirect, signedIn);
        var page = await browser.GetAsync(new Uri("/index.html", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var me = JsonDocument.Parse(await browser.GetStringAsync(new Uri("/api/me", UriKind.Relative), TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(user, me.GetProperty("name").GetString());
        Assert.Equal(["north"], me.GetProperty("teams").EnumerateArray().Select(t => t.GetString()));

        using var logout = await browser.PostAsync(
            new Uri("/logout", UriKind.Relative),
            new FormUrlEncodedContent([new("__RequestVerificationToken", me.GetProperty("logoutToken").GetString()!)]),
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);

        // A disabled user's open session ends at the next request.
        Assert.Equal(HttpStatusCode.Redirect, (await SignInAsync(browser, Password)).Status);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
        await host.App.Services.GetRequiredService<AccountStore>().SetDisabledAsync(user, disabled: true, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(browser, Password)).Status);
    }

    private Task<UserAccount> AddUserAsync() =>
        host.App.Services.GetRequiredService<AccountStore>().AddUserAsync(user, Roles.Nurse, ["north"], Password, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);

    /// <summary>A browser-like client: keeps cookies, does not follow redirects (to see them).</summary>
    private HttpClient Browser() =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = host.BaseUrl };

    /// <summary>Loads the login page, then posts its form as a browser would, with its anti-forgery token.</summary>
    private async Task<(HttpStatusCode Status, string Page)> SignInAsync(HttpClient browser, string password, string returnUrl = "/")
    {
        var form = await browser.GetStringAsync(new Uri(LoginEndpoints.LoginPath, UriKind.Relative), TestContext.Current.CancellationToken);
        var token = TokenField().Match(form);
        Assert.True(token.Success, form);
        using var response = await browser.PostAsync(
            new Uri(LoginEndpoints.LoginPath, UriKind.Relative),
            new FormUrlEncodedContent([new("username", user), new("password", password), new("returnUrl", returnUrl), new(token.Groups[1].Value, WebUtility.HtmlDecode(token.Groups[2].Value))]),
            TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [GeneratedRegex("""<input type="hidden" name="(__RequestVerificationToken)" value="([^"]+)">""")]
    private static partial Regex TokenField();
}
