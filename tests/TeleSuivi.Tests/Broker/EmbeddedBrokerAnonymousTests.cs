using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Broker;

/// <summary><c>Broker:AllowAnonymous</c>, the development-only way to publish to the embedded broker without an account.</summary>
public sealed class EmbeddedBrokerAnonymousTests
{
    [Fact]
    public async Task AllowAnonymous_UnregisteredDevice_IsDeadLetteredAsUnknown_AndTheStartLogsAWarning()
    {
        await using var host = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string> { ["TELESUIVI_BROKER__ALLOWANONYMOUS"] = "true" });
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var device = $"stray-{Guid.NewGuid():N}";

        await using (var publisher = await MqttTestPublisher.ConnectAsync(new Uri($"mqtt://127.0.0.1:{host.MqttPort}")))
        {
            await publisher.PublishAsync($"telesuivi/v1/devices/withings/{device}", EmbeddedBrokerAuthenticationTests.Withings(DateTimeOffset.UtcNow.AddMinutes(-1), 7100));
        }

        var letters = await Poll.UntilAsync(
            async () => (await StoredData.DeadLettersAsync(host.BaseUrl)).Where(l => l.GetProperty("topic").GetString()!.EndsWith(device, StringComparison.Ordinal)).ToList(),
            found => found.Count >= 1,
            TimeSpan.FromSeconds(30),
            "the stray device's reading to be dead-lettered");
        Assert.Equal("unknown-device", Assert.Single(letters).GetProperty("reasonCode").GetString());
        Assert.Contains("lets ANONYMOUS clients publish and subscribe anywhere", host.Output, StringComparison.Ordinal); // logged at start, before ready
    }
}
