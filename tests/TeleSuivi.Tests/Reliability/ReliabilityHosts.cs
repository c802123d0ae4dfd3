using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary>What the reliability tests share: ids, worker identities, reading series, and clean-up of their processes.</summary>
public static class ReliabilityHosts
{
    public static (string Patient, string Device) Ids()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        return ($"p-{id}", $"d-{id}");
    }

    /// <summary>
    /// A fixed MQTT client id and shared group, so that a restarted process resumes the same broker session; with
    /// <paramref name="shared"/> false, a plain subscription (no group), the single-worker default.
    /// </summary>
    public static Dictionary<string, string> Worker(string device, Dictionary<string, string>? more = null, bool shared = true)
    {
        var environment = new Dictionary<string, string>(more ?? [])
        {
            ["TELESUIVI_BROKER__CLIENTID"] = $"w-{device}",
            ["TELESUIVI_BROKER__SHAREDGROUP"] = shared ? $"g-{device}" : "",
        };
        return environment;
    }

    /// <summary>Distinct weights, one every 10 s over the last hours (each its own value in centigrams).</summary>
    public static List<PublishedReading> Readings(string device, int count)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddHours(-3).ToUnixTimeSeconds());
        return [.. Enumerable.Range(0, count).Select(i => new PublishedReading(device, start.AddSeconds(i * 10), 5000 + i))];
    }

    /// <summary>Stops the processes of a test; when it failed, their output goes with the failure.</summary>
    public static async ValueTask ReportOnFailureAsync(IEnumerable<TeleSuiviProcess> hosts)
    {
        foreach (var host in hosts)
        {
            if (TestContext.Current.TestState?.Result == TestResult.Failed)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"--- telesuivi {host.BaseUrl} ---\n{host.Output}");
            }

            await host.DisposeAsync();
        }
    }
}
