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
            // Back at the target is enough: callers wait for what they need on the page.
            await WaitForPathAsync(page, target.AbsolutePath, TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException ex)
        {
            // Say where the browser is and what the page says.
            var shown = await page.Locator("body").InnerTextAsync(new() { Timeout = 2_000 });
            throw new TimeoutException($"signing in as {userName} did not return to {target.AbsolutePath} within 15 s: at {page.Url}, showing: {shown[..Math.Min(shown.Length, 500)]}", ex);
        }
    }

    /// <summary>
    /// Waits until the page's address has this path. Not WaitForURLAsync: when the URL already matches as it is called,
    /// it waits for the load event whatever WaitUntil says (microsoft/playwright-dotnet#3365); under full parallel runs
    /// it timed out with the page already shown (the board after signing in, the login page after signing out).
    /// </summary>
    public static Task WaitForPathAsync(IPage page, string path, TimeSpan timeout) =>
        Poll.UntilAsync(() => Task.FromResult(page.Url), url => new Uri(url).AbsolutePath == path, timeout, $"the browser at {path}");
}
