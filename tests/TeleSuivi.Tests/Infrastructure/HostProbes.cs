using System.Globalization;
using System.Text.Json;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>What a running <c>telesuivi</c> says about itself: <c>/metrics</c> samples and <c>/health/ready</c> checks.</summary>
public static class HostProbes
{
    /// <summary>Every sample of <c>/metrics</c>, keyed by its series as written, e.g. <c>telesuivi_spool_bytes</c> or <c>x_total{kind="rejected"}</c>.</summary>
    public static async Task<MetricSamples> MetricsAsync(Uri host)
    {
        using var http = TeleSuiviProcess.CreateClient(host, TimeSpan.FromSeconds(10));
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var samples = new MetricSamples();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return samples;
    }

    public static async Task<double> MetricAsync(Uri host, string series) =>
        (await MetricsAsync(host)).TryGetValue(series, out var value) ? value : throw new InvalidOperationException($"/metrics has no {series}");

    /// <summary>The named check of <c>/health/ready</c> (whatever the HTTP status): its status and description.</summary>
    public static async Task<(string Status, string Description)> ReadinessCheckAsync(Uri host, string check)
    {
        using var http = new HttpClient { BaseAddress = host, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var entry = json.RootElement.GetProperty("checks").GetProperty(check);
        return (entry.GetProperty("status").GetString()!, entry.GetProperty("description").GetString() ?? string.Empty);
    }
}

/// <summary>Samples of <c>/metrics</c>; printed as the ingest, spool and store-failure samples (for a poll's last value).</summary>
public sealed class MetricSamples : Dictionary<string, double>
{
    public MetricSamples()
        : base(StringComparer.Ordinal)
    {
    }

    public override string ToString() => string.Join(
        ", ",
        this.Where(s => s.Key.StartsWith("telesuivi_ingest_", StringComparison.Ordinal) || s.Key.StartsWith("telesuivi_spool_", StringComparison.Ordinal) || s.Key.StartsWith("telesuivi_store_write_failures", StringComparison.Ordinal))
            .Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Key}={s.Value}")));
}
