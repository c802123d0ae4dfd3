using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Web;

/// <summary>The status page (<c>/status</c>; <c>/</c> is the triage board) in a real browser: its script reads the API and shows the platform ready.</summary>
public sealed class StatusPageTests
{
    [Fact]
    public async Task StatusPage_InChromium_ShowsReadyAndCounters()
    {
        await using var host = TeleSuiviProcess.Start("serve");
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            var page = await browser.NewPageAsync();
            await page.GotoAsync(new Uri(host.BaseUrl, "/status").ToString());

            await page.Locator("#health").Filter(new() { HasText = "ready" }).WaitForAsync(new() { Timeout = 15_000 });
            Assert.Equal("0", await page.Locator("#deadLettered").InnerTextAsync());
            var checks = await page.Locator("#checks tbody tr").AllInnerTextsAsync();
            Assert.Contains(checks, row => row.StartsWith("broker", StringComparison.Ordinal) && row.Contains("Healthy", StringComparison.Ordinal));
            Assert.Contains(checks, row => row.StartsWith("store", StringComparison.Ordinal) && row.Contains("Healthy", StringComparison.Ordinal));
        }
    }
}
