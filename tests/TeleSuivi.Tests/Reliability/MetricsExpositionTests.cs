using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary><c>/metrics</c> of the real process, read as Prometheus would: every line parsed, every family declared before its samples.</summary>
public sealed partial class MetricsExpositionTests
{
    [Fact]
    public async Task Metrics_EveryLine_IsValidPrometheusTextWithHelpAndTypeBeforeItsSamples()
    {
        await using var host = TeleSuiviProcess.Start("serve");
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        using var http = host.CreateClient();

        using var response = await http.GetAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var families = Parse(text);
        foreach (var family in new[] { "telesuivi_ingest_messages_total", "telesuivi_ingest_durable_lag_seconds", "telesuivi_ingest_oldest_unacknowledged_age_seconds", "telesuivi_ingest_acknowledgements_lost_total", "telesuivi_spool_bytes", "telesuivi_ingest_dead_letters_total", "telesuivi_store_write_duration_seconds", "telesuivi_hub_connections", "dotnet_gc_heap_size_bytes", "dotnet_gc_live_bytes_after_full_collection", "dotnet_gc_collections_total", "dotnet_gc_pause_seconds_total", "process_resident_memory_bytes" })
        {
            Assert.True(families.ContainsKey(family), $"/metrics has no {family}");
        }

        Assert.Equal("histogram", families["telesuivi_ingest_durable_lag_seconds"]);
        Assert.Equal("gauge", families["telesuivi_hub_connections"]);
    }

    [Fact]
    public async Task HubConnections_CountsBoardsConnectedToTheTriageHub()
    {
        await using var host = TeleSuiviProcess.Start("serve");
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var board = new HubConnectionBuilder()
            .WithUrl(new Uri(host.BaseUrl, "/hubs/triage"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(TeleSuiviProcess.AdminApiKey))
            .Build();

        await board.StartAsync(TestContext.Current.CancellationToken);
        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_hub_connections"), n => n == 1, TimeSpan.FromSeconds(30), "the board counted");
        await board.DisposeAsync();

        await Poll.UntilAsync(() => HostProbes.MetricAsync(host.BaseUrl, "telesuivi_hub_connections"), n => n == 0, TimeSpan.FromSeconds(30), "the board's disconnection counted");
        Assert.Equal(1, await HostProbes.MetricAsync(host.BaseUrl, "telesuivi_hub_connections_opened_total"));
    }

    [Fact]
    public async Task DiagnosticsGc_AsAdmin_CollectsFullyAndReportsTheLiveHeap()
    {
        await using var host = TeleSuiviProcess.Start("serve");
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        using var admin = host.CreateClient();
        using var scraper = await host.CreateClientAsync("metrics");
        var fullCollectionsBefore = await HostProbes.MetricAsync(host.BaseUrl, "dotnet_gc_collections_total{generation=\"2\"}");

        using var refused = await scraper.PostAsync(new Uri("/api/diagnostics/gc", UriKind.Relative), null, TestContext.Current.CancellationToken);
        using var response = await admin.PostAsync(new Uri("/api/diagnostics/gc", UriKind.Relative), null, TestContext.Current.CancellationToken);
        using var figures = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var heap = figures.RootElement.GetProperty("heapSizeBytes").GetInt64();
        var live = figures.RootElement.GetProperty("liveBytesAfterLastFullGc").GetInt64();
        var resident = figures.RootElement.GetProperty("residentBytes").GetInt64();
        Assert.InRange(heap, 1024 * 1024, resident);
        Assert.InRange(live, 1024 * 1024, heap);
        Assert.True(figures.RootElement.GetProperty("gen2Collections").GetInt32() > fullCollectionsBefore, "no full collection ran");
        Assert.True(await HostProbes.MetricAsync(host.BaseUrl, "dotnet_gc_live_bytes_after_full_collection") > 0);
    }

    /// <summary>Families and their types; fails on any line that is not a HELP, a TYPE or a sample of a declared family.</summary>
    private static Dictionary<string, string> Parse(string text)
    {
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var helped = new HashSet<string>(StringComparer.Ordinal);
        var buckets = new Dictionary<string, List<(string Le, double Count)>>(StringComparer.Ordinal);
        var counts = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (HelpLine().Match(line) is { Success: true } help)
            {
                Assert.True(helped.Add(help.Groups[1].Value), $"HELP twice: {line}");
                continue;
            }

            if (TypeLine().Match(line) is { Success: true } type)
            {
                Assert.True(helped.Contains(type.Groups[1].Value), $"TYPE before HELP: {line}");
                Assert.True(types.TryAdd(type.Groups[1].Value, type.Groups[2].Value), $"TYPE twice: {line}");
                if (type.Groups[2].Value == "counter")
                {
                    Assert.EndsWith("_total", type.Groups[1].Value, StringComparison.Ordinal);
                }

                continue;
            }

            var sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not a Prometheus line: '{line}'");
            var name = sample.Groups[1].Value;
            var family = types.ContainsKey(name) ? name : HistogramSuffix().Replace(name, string.Empty);
            Assert.True(types.TryGetValue(family, out var familyType), $"sample before its TYPE: {line}");
            Assert.True(family == name || familyType == "histogram", $"suffixed sample of a {familyType}: {line}");
            var value = sample.Groups[3].Value;
            Assert.True(value is "+Inf" or "-Inf" or "NaN" || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _), $"bad value: {line}");
            if (name.EndsWith("_bucket", StringComparison.Ordinal))
            {
                var le = LeLabel().Match(sample.Groups[2].Value);
                Assert.True(le.Success, $"bucket without le: {line}");
                (buckets.TryGetValue(family, out var list) ? list : buckets[family] = []).Add((le.Groups[1].Value, double.Parse(value, CultureInfo.InvariantCulture)));
            }
            else if (name.EndsWith("_count", StringComparison.Ordinal) && familyType == "histogram")
            {
                counts[family] = double.Parse(value, CultureInfo.InvariantCulture);
            }
        }

        foreach (var (family, list) in buckets)
        {
            Assert.Equal("+Inf", list[^1].Le);
            Assert.True(list.Zip(list.Skip(1)).All(p => p.First.Count <= p.Second.Count), $"{family}: buckets not cumulative");
            Assert.Equal(counts[family], list[^1].Count);
        }

        return types;
    }

    [GeneratedRegex(@"^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$")]
    private static partial Regex HelpLine();

    [GeneratedRegex(@"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$")]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*=""(?:[^""\\\n]|\\[\\""n])*"",?)*\})? (\S+)$")]
    private static partial Regex SampleLine();

    [GeneratedRegex("(_bucket|_sum|_count)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"le=""([^""]+)""")]
    private static partial Regex LeLabel();
}
