using Microsoft.Playwright;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium driven by Playwright (its own browser download is never used). Flags keep Chromium
/// off the network: this machine has none beyond loopback.
/// </summary>
public static class Browser
{
    public const string ChromiumPath = "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: run infra/test.sh, which installs the chromium package");
        }

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            ],
        });
        return (playwright, browser);
    }

    /// <summary>Opens <paramref name="page"/> at <paramref name="target"/>, which sends to the login form, signs in, and waits to be back.</summary>
    public static async Task SignInAsync(IPage page, Uri target, string userName, string password)
    {
        await page.GotoAsync(target.ToString());
        if (!page.Url.Contains("/login", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{target} did not ask to sign in (now at {page.Url})");
        }

        await page.FillAsync("input[name=username]", userName);
        await page.FillAsync("input[name=password]", password);
        await page.ClickAsync("button[type=submit]");
        try
        {
            // Back at the target is enough (Commit): callers wait for what they need on the page. Waiting for its load
            // event as well once timed out in a full run with the URL already reached ("NetworkIdle event fired").
            await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == target.AbsolutePath, new() { Timeout = 15_000, WaitUntil = WaitUntilState.Commit });
        }
        catch (TimeoutException ex)
        {
            // Seen rarely under a full parallel run: say where the browser is and what the page says, to find out why.
            var shown = await page.Locator("body").InnerTextAsync(new() { Timeout = 2_000 });
            throw new TimeoutException($"signing in as {userName} did not return to {target.AbsolutePath} within 15 s: at {page.Url}, showing: {shown[..Math.Min(shown.Length, 500)]}", ex);
        }
    }
}
