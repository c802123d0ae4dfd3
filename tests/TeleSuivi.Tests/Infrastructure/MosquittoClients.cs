using System.Diagnostics;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>The real <c>mosquitto_pub</c> client, as a device gateway would publish.</summary>
public static class MosquittoClients
{
    /// <summary>Publishes <paramref name="payload"/> (any bytes) at QoS 1 and waits for the PUBACK.</summary>
    public static async Task PublishAsync(Uri broker, string topic, byte[] payload)
    {
        var start = new ProcessStartInfo("mosquitto_pub")
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-h", broker.Host, "-p", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-q", "1", "-t", topic, "-s" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start mosquitto_pub (apt-get install mosquitto-clients)");
        await process.StandardInput.BaseStream.WriteAsync(payload);
        process.StandardInput.Close();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"mosquitto_pub -t {topic} failed ({process.ExitCode}): {error}");
        }
    }

    public static Task PublishAsync(Uri broker, string topic, string payload) =>
        PublishAsync(broker, topic, System.Text.Encoding.UTF8.GetBytes(payload));
}
