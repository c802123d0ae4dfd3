using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>Broker accounts issued with the real <c>telesuivi devices|stations credentials</c>, and MQTT 5 clients that log in with them.</summary>
public static class DeviceAccounts
{
    /// <summary>Issues a device's account in the registry of <paramref name="dataDirectory"/>; returns its secret.</summary>
    public static Task<string> IssueDeviceAsync(string dataDirectory, string deviceId) => IssueAsync("devices", deviceId, dataDirectory);

    /// <summary>Issues the account <c>station/{zoneId}</c>; returns its secret.</summary>
    public static Task<string> IssueStationAsync(string dataDirectory, string zoneId) => IssueAsync("stations", zoneId, dataDirectory);

    private static async Task<string> IssueAsync(string command, string subject, string dataDirectory)
    {
        var run = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(60), command, "credentials", subject, "--data", dataDirectory);
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"telesuivi {command} credentials {subject} failed ({run.ExitCode}): {run.Error}{run.Output}");
        }

        return run.Output.Split('\n').Select(line => line.Trim()).Single(line => line.StartsWith("secret ", StringComparison.Ordinal))["secret ".Length..].Trim();
    }

    /// <summary>Connects with MQTT 5; the client (null when refused) and the CONNACK's result code.</summary>
    public static async Task<(IMqttClient? Client, MqttClientConnectResultCode Result)> ConnectAsync(
        string host, int port, string? userName, string? secret, Action<MqttClientTlsOptionsBuilder>? tls = null, string? clientId = null)
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(clientId ?? $"test-device-{Guid.NewGuid():N}")
            .WithCleanStart()
            .WithTimeout(TimeSpan.FromSeconds(15));
        if (userName is not null)
        {
            options.WithCredentials(userName, secret);
        }

        if (tls is not null)
        {
            options.WithTlsOptions(tls);
        }

        // MQTTnet 5 answers a refused CONNECT with its CONNACK's code rather than an exception.
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(options.Build(), TestContext.Current.CancellationToken);
        if (result.ResultCode == MqttClientConnectResultCode.Success)
        {
            return (client, result.ResultCode);
        }

        client.Dispose();
        return (null, result.ResultCode);
    }

    /// <summary>Publishes at QoS 1 and returns the PUBACK (its reason code tells a refusal).</summary>
    public static async Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload) =>
        await client.PublishAsync(
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(),
            TestContext.Current.CancellationToken);
}
