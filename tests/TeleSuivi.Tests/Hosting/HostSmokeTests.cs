using System.Net;
using System.Text.Json;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Hosting;

/// <summary>The real executable, started as an operator starts it, against real services.</summary>
public sealed class HostSmokeTests(ExternalServices services)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Serve_WithMosquittoAndInflux_ReportsBothReady()
    {
        var database = ExternalServices.NewDatabaseName();
        await using var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/'), "--store", services.InfluxStoreUrl(database)]);

        await host.WaitUntilReadyAsync(StartTimeout);

        var checks = await ReadinessChecksAsync(host);
        Assert.Equal("Healthy", checks.GetProperty("broker").GetProperty("status").GetString());
        Assert.Contains(services.MqttUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), checks.GetProperty("broker").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal("Healthy", checks.GetProperty("store").GetProperty("status").GetString());
        Assert.Contains(database, checks.GetProperty("store").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_OnEmbeddedDefaults_ServesBoardAndReadiness()
    {
        await using var host = TeleSuiviProcess.Start("demo", ["--patients", "20"]);

        await host.WaitUntilReadyAsync(StartTimeout);

        using var http = host.CreateClient();
        using var page = await http.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("TeleSuivi", await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        var checks = await ReadinessChecksAsync(host);
        Assert.Contains("embedded", checks.GetProperty("broker").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("sqlite", checks.GetProperty("store").GetProperty("description").GetString(), StringComparison.Ordinal);

        // Live data: the simulated devices' readings arrive and are stored, none dead-lettered.
        var ingest = await Poll.UntilAsync(
            async () => JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/status", UriKind.Relative))).RootElement.GetProperty("ingest").Clone(),
            status => status.GetProperty("observations").GetInt64() >= 100,
            StartTimeout,
            "the demo's simulated readings to be stored");
        Assert.Equal(0, ingest.GetProperty("deadLettered").GetInt64());
    }

    [Fact]
    public async Task Serve_StopsOnSigterm_WithExitCodeZero()
    {
        await using var host = TeleSuiviProcess.Start("serve");
        await host.WaitUntilReadyAsync(StartTimeout);

        var exitCode = await host.StopAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, exitCode);
    }

    public static TheoryData<string[], string> BadAddresses => new()
    {
        { ["--broker", "mqtt://127.0.0.1:1"], "cannot connect to the MQTT broker at mqtt://127.0.0.1:1" },
        { ["--broker", "amqp://127.0.0.1:5672"], "broker 'amqp://127.0.0.1:5672' has scheme 'amqp'" },
        { ["--broker", "not a url"], "broker 'not a url' is not valid" },
        { ["--store", "influxdb://127.0.0.1:1/telesuivi"], "influxdb://127.0.0.1:1/telesuivi" },
        { ["--store", "influxdb://127.0.0.1:8086"], "must name one database" },
        { ["--store", "postgres://db/x"], "store 'postgres://db/x' has scheme 'postgres'" },
        { ["--urls", "ftp://127.0.0.1:21"], "urls 'ftp://127.0.0.1:21' is not valid" },
    };

    [Theory]
    [MemberData(nameof(BadAddresses))]
    public async Task Serve_WithUnreachableOrMalformedAddress_ExitsWithOneLineError(string[] arguments, string expected)
    {
        await using var host = TeleSuiviProcess.Start("serve", arguments);

        await host.WaitForExitAsync(StartTimeout, "telesuivi to exit");

        Assert.Equal(3, host.ExitCode);
        var errors = host.Output.Split('\n').Where(line => line.StartsWith("error: ", StringComparison.Ordinal)).ToList();
        var error = Assert.Single(errors);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithSettingsFromEnvironment_AppliesThemBelowTheCommandLine()
    {
        var environment = new Dictionary<string, string>
        {
            ["TELESUIVI_BROKER__URL"] = "mqtt://127.0.0.1:1",
            ["TELESUIVI_STORE__URL"] = "influxdb://127.0.0.1:9",
        };

        // The command line wins over the environment: --store is valid, so only the broker from the environment fails.
        await using var host = TeleSuiviProcess.Start("serve", ["--store", "sqlite"], environment: environment);
        await host.WaitForExitAsync(StartTimeout, "telesuivi to exit");

        Assert.Equal(3, host.ExitCode);
        Assert.Contains("error: cannot connect to the MQTT broker at mqtt://127.0.0.1:1", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_OnEachCommand_DescribesItsOptions()
    {
        foreach (var command in new[] { "serve", "demo" })
        {
            var (exitCode, output, _) = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(30), command, "--help");
            Assert.Equal(0, exitCode);
            Assert.Contains("--broker", output, StringComparison.Ordinal);
            Assert.Contains("--store", output, StringComparison.Ordinal);
            Assert.Contains("--urls", output, StringComparison.Ordinal);
        }
    }

    private static async Task<JsonElement> ReadinessChecksAsync(TeleSuiviProcess host)
    {
        using var http = host.CreateClient();
        var json = await http.GetStringAsync(new Uri("/health/ready", UriKind.Relative));
        return JsonDocument.Parse(json).RootElement.GetProperty("checks").Clone();
    }
}
