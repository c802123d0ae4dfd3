using System.Net.Http.Json;
using Microsoft.Playwright;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Board;

/// <summary>
/// The board and the patient page in real headless Chromium against a real host, readings published over MQTT to
/// the real mosquitto. Screenshots go to <c>artifacts/screenshots/</c>.
/// </summary>
public sealed class BoardPageTests(BoardHost host) : IClassFixture<BoardHost>
{
    private const int SpO2 = 54;
    private const int HeartRate = 11;
    private const int Weight = 1;
    private static readonly string[] Nurses = ["alice", "bob"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Board_ReadingOverMqttCrossingLimit_AppearsWithinOneSecondWithoutReload()
    {
        var (patient, device) = await host.RegisterPatientAsync("Durand");
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            var page = await OpenBoardAsync(browser, "carol");
            var loadedAt = await page.EvaluateAsync<double>("window.boardLoadedAt");

            // From the moment the device publishes: through the broker, ingestion, the store, the alert engine and the
            // hub, the open board must show the alert within 1 s.
            var sincePublish = System.Diagnostics.Stopwatch.StartNew();
            await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 84);
            var patientRow = page.Locator($"#alerts tr[data-patient-id='{patient}']");
            await patientRow.WaitForAsync(new() { Timeout = (float)Math.Max(1, 1000 - sincePublish.Elapsed.TotalMilliseconds) });
            var shownAfter = sincePublish.Elapsed;
            Assert.True(shownAfter < TimeSpan.FromSeconds(1), $"shown {shownAfter.TotalMilliseconds:F0} ms after the publish");

            var alert = await host.WaitForAlertAsync(patient, a => a.Subject == "spo2");
            var row = page.Locator($"#alerts tr[data-alert-id='{alert.Id}']");
            Assert.Equal(1, await row.CountAsync());
            Assert.Equal(loadedAt, await page.EvaluateAsync<double>("window.boardLoadedAt"));
            Assert.Equal("critical", await row.GetAttributeAsync("data-severity"));
            Assert.Contains("Jeanne Durand", await row.InnerTextAsync(), StringComparison.Ordinal);

            await row.ClickAsync();
            await page.Locator("#detail .spark canvas[data-points]").First.WaitForAsync(new() { Timeout = 10_000 });
            await ScreenshotAsync(page, "board.png");
        }
    }

    [Fact]
    public async Task Board_TwoBrowsersClaimTheSameAlert_ExactlyOneGetsIt()
    {
        var (patient, device) = await host.RegisterPatientAsync("Petit");
        await host.PublishWithingsAsync(device, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 83);
        var alert = await host.WaitForAlertAsync(patient, a => a.Subject == "spo2");
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            var alice = await OpenBoardAsync(browser, "alice");
            var bob = await OpenBoardAsync(browser, "bob");
            var buttons = new[] { alice, bob }.Select(p => p.Locator($"#alerts tr[data-alert-id='{alert.Id}'] button.claim")).ToList();
            foreach (var button in buttons)
            {
                await button.WaitForAsync(new() { Timeout = 10_000 });
            }

            // Both clicks at the same instant of the browser's clock. Two Playwright clicks one after the other were not
            // simultaneous on a loaded machine: the first claim's push re-rendered the other board, whose button was
            // gone before its click (the test's timeouts in full runs).
            var at = await alice.EvaluateAsync<double>("Date.now() + 500");
            var clicks = await Task.WhenAll(new[] { alice, bob }.Select(page => page.EvaluateAsync<string>("""
                ([id, at]) => new Promise(done => setTimeout(() => {
                  const button = document.querySelector(`#alerts tr[data-alert-id='${id}'] button.claim`);
                  if (button) { button.click(); done('clicked'); } else done('gone');
                }, at - Date.now()))
                """, new object[] { alert.Id, at })));

            var claimed = await Poll.UntilAsync(
                async () => (await host.GetBoardAsync(patient)).Alerts.Single(a => a.Id == alert.Id).ClaimedBy,
                by => by is not null, BoardHost.Deadline, "claim");
            var (winner, loser) = claimed == "alice" ? (alice, bob) : (bob, alice);
            Assert.Contains(claimed, Nurses);
            await Assertions.Expect(winner.Locator("#message")).ToHaveClassAsync("ok");
            // The loser's click reached the server and was refused (409, shown), unless, on a very slow machine, the
            // winner's push had already taken the button off the loser's board.
            if (clicks[claimed == "alice" ? 1 : 0] == "clicked")
            {
                await Assertions.Expect(loser.Locator("#message")).ToContainTextAsync($"claimed by {claimed}");
            }
            foreach (var page in new[] { alice, bob })
            {
                await Assertions.Expect(page.Locator($"#alerts tr[data-alert-id='{alert.Id}'] td.state")).ToContainTextAsync(claimed!);
            }

            var actions = await host.Http.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/alerts/{alert.Id}", Ct);
            Assert.Single(actions.GetProperty("actions").EnumerateArray(), a => a.GetProperty("action").GetString() == "claimed");
        }
    }

    [Fact]
    public async Task Board_OnATablet_FiltersExplainsTakesShortcutsRingsAndSpeaksFrench()
    {
        var (critical, criticalDevice) = await BoardHost.RegisterPatientAsync(host.BaseUrl, "Garnier", "75011");
        var (warned, warnedDevice) = await BoardHost.RegisterPatientAsync(host.BaseUrl, "Lefebvre", "69003");
        var now = DateTimeOffset.UtcNow;
        foreach (var minutes in new[] { 40, 30, 20 })
        {
            await host.PublishWithingsAsync(warnedDevice, now.AddMinutes(-minutes), HeartRate, 120);
        }

        var warning = await host.WaitForAlertAsync(warned, a => a.Subject == "heart-rate");
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            // A tablet in portrait: the whole board fits its width, nothing scrolls sideways.
            var page = await OpenBoardAsync(browser, "dave", new() { Width = 768, Height = 1024 });
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the board scrolls sideways on a tablet");

            // Sound is off until the nurse turns it on; then a new critical alert rings once.
            await Assertions.Expect(page.Locator("#sound")).ToHaveAttributeAsync("aria-pressed", "false");
            await page.Locator("#sound").ClickAsync();
            await Assertions.Expect(page.Locator("#sound")).ToHaveAttributeAsync("aria-pressed", "true");
            await host.PublishWithingsAsync(criticalDevice, DateTimeOffset.UtcNow.AddMinutes(-1), SpO2, 84);
            var criticalRow = page.Locator($"#alerts tr[data-patient-id='{critical}']");
            await criticalRow.WaitForAsync(new() { Timeout = 10_000 });
            await Assertions.Expect(page.Locator("body")).ToHaveAttributeAsync("data-beeps", "1");
            var warningRow = page.Locator($"#alerts tr[data-alert-id='{warning.Id}']");

            // Filters: severity, then zone; each leaves only its rows.
            await page.SelectOptionAsync("#filter-severity", "warning");
            await Assertions.Expect(criticalRow).ToHaveCountAsync(0);
            await Assertions.Expect(warningRow).ToHaveCountAsync(1);
            foreach (var row in await page.Locator("#alerts tbody tr").AllAsync())
            {
                Assert.Equal("warning", await row.GetAttributeAsync("data-severity"));
            }

            await page.SelectOptionAsync("#filter-severity", "");
            await page.SelectOptionAsync("#filter-zone", "69003");
            await Assertions.Expect(criticalRow).ToHaveCountAsync(0);
            await Assertions.Expect(warningRow).ToHaveCountAsync(1);
            // Only the patient of that zone: their heart rate of 120 may also have raised a risk alert (the threshold follows the model's calibrated probabilities).
            foreach (var row in await page.Locator("#alerts tbody tr").AllAsync())
            {
                Assert.Equal(warned, await row.GetAttributeAsync("data-patient-id"));
            }

            await page.SelectOptionAsync("#filter-zone", "");

            // The detail explains: the reason, the readings behind it, the recent vitals.
            await warningRow.ClickAsync();
            await Assertions.Expect(page.Locator("#detail")).ToContainTextAsync("3 readings in a row");
            // The evidence list only: the actions list below it may hold another test's claim of this alert (the board host is shared).
            await Assertions.Expect(page.Locator("#detail-evidence li")).ToHaveCountAsync(3, new() { Timeout = 10_000 });
            await page.Locator("#detail .spark canvas[data-points]").First.WaitForAsync(new() { Timeout = 10_000 });

            // Shortcuts (right after using a filter): ↑ and j move the selection along the ranked rows (the critical
            // alert ranks above the warning); c claims, a acknowledges the selected alert.
            await page.Keyboard.PressAsync("ArrowUp");
            var above = await page.Locator("#alerts tr.selected").GetAttributeAsync("data-alert-id");
            Assert.NotEqual(warning.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), above);
            await page.Keyboard.PressAsync("j");
            await Assertions.Expect(page.Locator("#alerts tr.selected")).ToHaveAttributeAsync("data-alert-id", warning.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await page.Keyboard.PressAsync("c");
            await Assertions.Expect(warningRow.Locator("td.state")).ToContainTextAsync("dave");
            await page.Keyboard.PressAsync("a");
            await Assertions.Expect(warningRow).ToHaveAttributeAsync("data-state", "acknowledged");

            // French: every label, the severities and the reason in the nurse's language.
            await page.Locator("#language").ClickAsync();
            await Assertions.Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "fr");
            await Assertions.Expect(page.Locator("header")).ToContainTextAsync("Tableau de tri");
            await Assertions.Expect(page.Locator("#sound")).ToContainTextAsync("Son si critique");
            await Assertions.Expect(criticalRow.Locator(".sev")).ToHaveTextAsync("critique");
            await Assertions.Expect(warningRow.Locator("td.reason")).ToContainTextAsync("mesures de suite");
            await Assertions.Expect(page.Locator("#detail")).ToContainTextAsync("Acquitter");
            // The evidence too: its labels are stored in English and shown in French (the heart-rate readings here).
            await Assertions.Expect(page.Locator("#detail-evidence li").First).ToContainTextAsync("Fréquence cardiaque");
            Assert.All(await page.Locator("#detail-evidence li").AllTextContentsAsync(), line => Assert.DoesNotContain("Heart rate", line, StringComparison.Ordinal));
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the French board scrolls sideways on a tablet");
            await ScreenshotAsync(page, "board-tablet-fr.png");
        }
    }

    [Fact]
    public async Task Board_InFrench_DeviceSendingImpossibleReadings_ShowsWhyEachWasRejectedInFrench()
    {
        var (patient, device) = await host.RegisterPatientAsync("Roux");
        var now = DateTimeOffset.UtcNow;
        foreach (var minutes in new[] { 30, 20, 10 })
        {
            await host.PublishWithingsAsync(device, now.AddMinutes(-minutes), SpO2, 150);
        }

        var alert = await host.WaitForAlertAsync(patient, a => a.Kind == "device-invalid");
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            var page = await OpenBoardAsync(browser, "erin");
            await page.Locator("#language").ClickAsync();
            await Assertions.Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "fr");
            await page.Locator($"#alerts tr[data-alert-id='{alert.Id}']").ClickAsync();

            var evidence = page.Locator("#detail-evidence li");
            await Assertions.Expect(evidence).ToHaveCountAsync(3, new() { Timeout = 10_000 });
            Assert.All(await evidence.AllTextContentsAsync(), line =>
            {
                Assert.Contains("message rejeté — saturation en oxygène (SpO2) 150 % impossible (admis : plus de 0 et jusqu'à 100 %)", line, StringComparison.Ordinal);
                Assert.DoesNotContain("impossible (allowed", line, StringComparison.Ordinal);
            });
        }
    }

    [Fact]
    public async Task PatientPage_WithReadings_DrawsChartsAndSavesThresholds()
    {
        var (patient, device) = await host.RegisterPatientAsync("Moreau", "84114007");
        var now = DateTimeOffset.UtcNow;
        for (var hour = 20; hour >= 1; hour--)
        {
            await host.PublishWithingsAsync(device, now.AddHours(-hour), SpO2, 95 + (hour % 3));
            await host.PublishWithingsAsync(device, now.AddHours(-hour).AddMinutes(1), HeartRate, 70 + (hour % 5));
        }

        await host.PublishWithingsAsync(device, now.AddHours(-2), Weight, 81);
        await Poll.UntilAsync(
            async () => System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync($"/api/patients/{patient}/trends?range=24h", Ct))
                .RootElement.GetProperty("charts")[1].GetProperty("series")[0].GetProperty("points").GetArrayLength(),
            count => count == 20, BoardHost.Deadline, "heart-rate readings stored");
        var (playwright, browser) = await Browser.LaunchAsync();
        using (playwright)
        await using (browser)
        {
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1600 } });
            await page.AddInitScriptAsync("localStorage.setItem('telesuivi.lang', 'en');");
            var password = await host.AddUserAsync("dr.lambert", "physician");
            await Browser.SignInAsync(page, new Uri(host.BaseUrl, $"/patients/{patient}?range=24h"), "dr.lambert", password);

            await page.Locator("body[data-charts-ready='24h']").WaitForAsync(new() { Timeout = 15_000 });
            Assert.Equal("20", await page.Locator(".chart").Nth(0).GetAttributeAsync("data-points"));
            Assert.Equal("20", await page.Locator(".chart").Nth(1).GetAttributeAsync("data-points"));
            Assert.True(await page.Locator(".chart").Nth(0).Locator("canvas").CountAsync() > 0, "uPlot drew no canvas");
            Assert.Contains("Heart failure", await page.Locator("#summary").InnerTextAsync(), StringComparison.Ordinal);
            await ScreenshotAsync(page, "patient.png");

            await page.Locator(".ranges button[data-range='7d']").ClickAsync();
            await page.Locator("body[data-charts-ready='7d']").WaitForAsync(new() { Timeout = 15_000 });

            var heartRate = page.Locator("#thresholds tr[data-vital='heart-rate']");
            await heartRate.Locator("input[name='high']").FillAsync("95");
            await heartRate.Locator("button.save").ClickAsync();
            await Assertions.Expect(heartRate).ToContainTextAsync("dr.lambert");
        }

        var saved = System.Text.Json.JsonDocument.Parse(await host.Http.GetStringAsync($"/api/patients/{patient}", Ct)).RootElement
            .GetProperty("thresholds").EnumerateArray().Single(t => t.GetProperty("vital").GetString() == "heart-rate");
        Assert.Equal(95, saved.GetProperty("high").GetDouble());
        Assert.Equal("patient", saved.GetProperty("source").GetString());
    }

    /// <summary>A board signed in as a new nurse account <paramref name="user"/> + a per-test suffix (users are per host).</summary>
    private async Task<IPage> OpenBoardAsync(IBrowser browser, string user, ViewportSize? viewport = null)
    {
        var context = await browser.NewContextAsync(new() { ViewportSize = viewport ?? new() { Width = 1280, Height = 900 }, Locale = "en-GB", HasTouch = viewport is not null });
        await context.AddInitScriptAsync("localStorage.setItem('telesuivi.lang', 'en');");
        var page = await context.NewPageAsync();
        var password = await host.AddUserAsync(user, "nurse");
        await Browser.SignInAsync(page, host.BaseUrl, user, password);
        await page.Locator("#connection.Healthy").WaitForAsync(new() { Timeout = 15_000 });
        return page;
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(RepositoryPaths.Root, "artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, name), FullPage = true });
    }
}
