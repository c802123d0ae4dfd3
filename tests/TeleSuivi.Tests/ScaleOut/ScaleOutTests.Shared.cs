using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using TeleSuivi.Tests.Risk.Online;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>What several nodes must agree on: users, the registry, dead letters, who watches and who scores a patient.</summary>
public sealed partial class ScaleOutTests
{
    [Fact]
    public async Task SignIn_UserAddedOnTheSharedDatabase_SignsInOnWebNode2AndTheSessionHoldsOnWebNode1()
    {
        var name = $"nurse-{Guid.NewGuid():N}"[..20];
        var data = Directory.CreateTempSubdirectory("telesuivi-cli-").FullName;
        try
        {
            // The operator's command, pointed at the nodes' database as serve is: no node's folder is involved.
            var (exitCode, output, error) = await TeleSuiviProcess.RunToExitAsync(
                ScaleOutCluster.Deadline,
                new Dictionary<string, string> { [WorkflowOptions.EnvironmentVariable] = cluster.Workflow },
                "users", "add", name, "--role", Roles.Nurse, "--team", "north", "--data", data);
            Assert.True(exitCode == 0, output + error);
            var password = PasswordLine().Match(output) is { Success: true } match ? match.Groups[1].Value : throw new InvalidOperationException(output);

            // One cookie jar for both nodes, as a browser behind a load balancer without sticky sessions.
            var cookies = new CookieContainer();
            using var node2 = Browser(cluster.WebNodes[1], cookies);
            using var node1 = Browser(cluster.WebNodes[0], cookies);
            Assert.Equal(HttpStatusCode.Redirect, await SignInAsync(node2, name, password));

            var me = await node1.GetAsync(new Uri("/api/me", UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            Assert.Equal(name, JsonDocument.Parse(await me.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("name").GetString());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Import_OnOneWebNodeOnly_BothWorkersAttributeTheDevice()
    {
        const int Readings = 12;
        var (patient, device, bundle) = ScaleOutCluster.NewPatientBundle();
        var before = await CountAsync(Messages);
        await RegistryBundles.ImportAsync(cluster.WebNodes[0].BaseUrl, bundle);

        // At once, before the workers' next refresh: a reading that finds the device unknown is dead-lettered, and
        // replayed when that worker's refresh sees the import. Either way, each is stored within seconds.
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        for (var i = 0; i < Readings; i++)
        {
            await cluster.PublishWithingsAsync(device, start.AddMinutes(i), Weight, 70 + (i / 10.0));
        }

        var stored = await Poll.UntilAsync(
            () => ScaleOutCluster.ObservationIdsAsync(cluster.WebNodes[1], patient),
            ids => ids.Count >= Readings,
            ScaleOutCluster.Deadline,
            $"{Readings} readings of a device imported on web node 1 stored");
        Assert.Equal(Readings, stored.Distinct().Count());
        var processed = (await CountAsync(Messages)).Zip(before, (after, b) => after - b).ToArray();
        Assert.All(processed, share => Assert.True(share > 0, $"a worker received none of the readings: {string.Join(", ", processed)}"));
    }

    [Fact]
    public async Task Replay_AskedOfBothWebNodesAtOnce_ReplaysEachLetterOnce()
    {
        const int Letters = 40;
        var (patient, device, bundle) = ScaleOutCluster.NewPatientBundle();
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        for (var i = 0; i < Letters; i++)
        {
            await cluster.PublishWithingsAsync(device, start.AddMinutes(i), Weight, 70 + (i / 10.0));
        }

        using var web1 = cluster.WebNodes[0].CreateClient();
        using var web2 = cluster.WebNodes[1].CreateClient();
        await Poll.UntilAsync(
            async () => (await LettersOfAsync(web1, device)).Count,
            count => count >= Letters,
            ScaleOutCluster.Deadline,
            $"{Letters} unknown-device letters of {device}, listed by web node 1");

        // Both web nodes know the device (imported through each), and both are asked to replay at the same moment;
        // the workers replay too when their refresh sees the import.
        await Task.WhenAll(cluster.WebNodes.Select(node => RegistryBundles.ImportAsync(node.BaseUrl, bundle)));
        var replays = await Task.WhenAll(new[] { web1, web2 }.Select(http => http.PostAsJsonAsync(new Uri("/api/deadletters/replay", UriKind.Relative), new { reason = "unknown-device" }, Ct)));
        Assert.All(replays, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        var replayedByWebNodes = 0;
        foreach (var response in replays)
        {
            replayedByWebNodes += JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("replayed").GetInt32();
        }

        // Without claims both would replay (and count) every letter; the workers' own replays may have taken some first.
        Assert.InRange(replayedByWebNodes, 0, Letters);

        await Poll.UntilAsync(
            () => ScaleOutCluster.ObservationIdsAsync(cluster.WebNodes[1], patient),
            ids => ids.Count >= Letters,
            ScaleOutCluster.Deadline,
            $"the {Letters} replayed readings stored");

        // A replay stores first and marks its letters after (DeadLetterReplayer): a worker's replay may have stored the
        // readings and not yet marked them.
        var letters = await Poll.UntilAsync(
            () => LettersOfAsync(web2, device),
            all => all.All(letter => letter.GetProperty("replayedAt").ValueKind == JsonValueKind.String),
            ScaleOutCluster.Deadline,
            $"the {Letters} letters marked replayed");
        Assert.Equal(Letters, letters.Count);
    }

    [Fact]
    public async Task MissingData_ReadingsSplitBetweenTwoWorkers_NoFalseGapAlertThenTheRealGapOnce()
    {
        var (patient, device) = await cluster.RegisterPatientAsync(ScaleOutCluster.GapWatchKind);
        var (_, other) = await cluster.RegisterPatientAsync();

        // Readings on a 6-second plan every 1.5 s for 12 s, each followed by another patient's: dealt round robin,
        // one worker may well receive all of this patient's readings and the other none. The cadence is the test's
        // input, not a wait for a result.
        using (var cadence = new PeriodicTimer(TimeSpan.FromMilliseconds(1500)))
        {
            for (var i = 0; i < 8; i++)
            {
                await cluster.PublishWithingsAsync(device, DateTimeOffset.UtcNow, SpO2, 96);
                await cluster.PublishWithingsAsync(other, DateTimeOffset.UtcNow, Weight, 70);
                await cadence.WaitForNextTickAsync(Ct);
            }
        }

        Assert.Empty(await MissingDataAlertsAsync(patient));

        // Then the patient falls silent: the one worker watching them raises the gap, once.
        var raised = await Poll.UntilAsync(
            () => MissingDataAlertsAsync(patient),
            alerts => alerts.Count > 0,
            ScaleOutCluster.Deadline,
            $"a missing-data alert for {patient} after {ScaleOutCluster.GapWatchPlan.TotalSeconds} s of silence");
        Assert.Single(raised);
    }

    [Fact]
    public async Task Score_ReadingReceivedByTheNonOwner_WakesTheOwnerWhichScoresAtOnce()
    {
        var (patient, device) = await cluster.RegisterPatientAsync();
        var messagesBefore = await CountAsync(Messages);
        using var fhir = new FhirClient(cluster.WebNodes[0].BaseUrl);
        var received = new double[cluster.Workers.Count];

        // One reading at a time until each worker has received one: the one that does not own the patient must have
        // the owner score them within seconds (without the wake-up, not before the owner's own next reading or midnight).
        for (var sent = 1; sent <= 10 && received.Any(count => count == 0); sent++)
        {
            var publishedAt = DateTimeOffset.UtcNow;
            await cluster.PublishWithingsAsync(device, publishedAt, SpO2, 95);
            received = await Poll.UntilAsync(
                async () => (await CountAsync(Messages)).Zip(messagesBefore, (after, before) => after - before).ToArray(),
                deltas => deltas.Sum() >= sent,
                ScaleOutCluster.Deadline,
                $"reading {sent} processed");
            await Poll.UntilAsync(
                async () => (await fhir.GetAsync($"/fhir/RiskAssessment?subject=Patient/{patient}&_sort=-date&_count=1")).Matches<RiskAssessment>() is [var newest, ..] ? newest : null,
                newest => newest is not null && ScoringPatient.TimeOf(newest.Occurrence) >= WholeSecond(publishedAt),
                TimeSpan.FromSeconds(15),
                $"a score of {patient} after reading {sent} (received by workers {string.Join(", ", received)})");
        }

        Assert.All(received, count => Assert.True(count > 0, $"one worker received every reading: {string.Join(", ", received)}"));
        AssertScoredByOneWorker(patient);
    }

    private async Task<IReadOnlyList<AlertView>> MissingDataAlertsAsync(string patient)
    {
        using var http = cluster.WebNodes[0].CreateClient();
        var snapshot = await http.GetFromJsonAsync<BoardSnapshot>(new Uri($"/api/alerts?closed=true&patient={patient}", UriKind.Relative), Ct);
        return [.. snapshot!.Alerts.Where(a => a.Kind == "missing-data")];
    }

    private static async Task<IReadOnlyList<JsonElement>> LettersOfAsync(HttpClient http, string device)
    {
        using var letters = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/deadletters?all=true&limit=1000", UriKind.Relative), Ct));
        return [.. letters.RootElement.EnumerateArray().Where(l => l.GetProperty("topic").GetString()!.EndsWith("/" + device, StringComparison.Ordinal)).Select(l => l.Clone())];
    }

    private static HttpClient Browser(TeleSuiviProcess node, CookieContainer cookies) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies }) { BaseAddress = node.BaseUrl };

    /// <summary>Loads the login page, then posts its form as a browser would, with its anti-forgery token.</summary>
    private static async Task<HttpStatusCode> SignInAsync(HttpClient browser, string user, string password)
    {
        var form = await browser.GetStringAsync(new Uri(LoginEndpoints.LoginPath, UriKind.Relative), Ct);
        var token = TokenField().Match(form);
        Assert.True(token.Success, form);
        using var response = await browser.PostAsync(
            new Uri(LoginEndpoints.LoginPath, UriKind.Relative),
            new FormUrlEncodedContent([new("username", user), new("password", password), new("returnUrl", "/"), new(token.Groups[1].Value, WebUtility.HtmlDecode(token.Groups[2].Value))]),
            Ct);
        return response.StatusCode;
    }

    [GeneratedRegex("Password \\(shown only now\\): (\\S+)")]
    private static partial Regex PasswordLine();

    [GeneratedRegex("""<input type="hidden" name="(__RequestVerificationToken)" value="([^"]+)">""")]
    private static partial Regex TokenField();
}
