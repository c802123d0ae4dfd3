using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Web;

/// <summary>
/// The status page (<c>/status</c>; <c>/</c> is the triage board) in a real browser: sign in, its script reads the API
/// and shows the platform ready, sign out.
/// </summary>
public sealed class StatusPageTests
{
    [Fact]
    public async Task StatusPage_InChromiumAfterLogin_ShowsReadyAndCounters()
    {
        const string password = "status page password";
        await using var host = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string> { ["TELESUIVI_ADMIN_PASSWORD"] = password });
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            // The page sends to the login form first, then back to itself.
            var page = await browser.NewPageAsync();
            await Browser.SignInAsync(page, new Uri(host.BaseUrl, "/status"), "admin", password);
            await page.Locator("#user").Filter(new() { HasText = "admin" }).WaitForAsync(new() { Timeout = 15_000 });

            await page.Locator("#health").Filter(new() { HasText = "ready" }).WaitForAsync(new() { Timeout = 15_000 });
            Assert.Equal("0", await page.Locator("#deadLettered").InnerTextAsync());
            var checks = await page.Locator("#checks tbody tr").AllInnerTextsAsync();
            Assert.Contains(checks, row => row.StartsWith("broker", StringComparison.Ordinal) && row.Contains("Healthy", StringComparison.Ordinal));
            Assert.Contains(checks, row => row.StartsWith("store", StringComparison.Ordinal) && row.Contains("Healthy", StringComparison.Ordinal));

            await page.ClickAsync("#logout button");
            await Browser.WaitForPathAsync(page, "/login", TimeSpan.FromSeconds(30));
        }
    }
}
