using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Simulation;

/// <summary>
/// Publishes the simulated cohort's readings over MQTT, as the devices of a territory would: each device on its
/// own cadence, in its manufacturer's format, QoS 1. Used by <c>demo</c> (in-process, embedded broker) and by
/// <c>simulate</c> (against any broker).
/// </summary>
public sealed partial class DeviceSimulator(
    IOptions<SimulatorOptions> options,
    IOptions<BrokerOptions> brokerOptions,
    IServiceProvider services,
    TimeProvider time,
    ILogger<DeviceSimulator> logger) : BackgroundService
{
    private long published;

    public long Published => Interlocked.Read(ref published);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var cohort = SimulatedCohort.Generate(settings.Patients, settings.Seed);
        var realStart = time.GetUtcNow();
        var simulatedStart = realStart - TimeSpan.FromDays(settings.HistoryDays);

        // In-process (demo): register the cohort directly, so the readings are attributed from the first one.
        if (services.GetService<RegistryBundleImporter>() is { } importer)
        {
            await importer.ImportAsync(CohortBundle.Build(cohort, simulatedStart - TimeSpan.FromDays(30)), stoppingToken);
            var deviceCount = cohort.Sum(p => p.Devices.Count);
            LogRegistered(cohort.Count, deviceCount);
        }

        var address = BrokerAddress.Parse(settings.BrokerUrl ?? brokerOptions.Value.Url, brokerOptions.Value.EmbeddedHost, brokerOptions.Value.EmbeddedPort);
        using var client = new MqttClientFactory().CreateMqttClient();
        await ConnectWithRetryAsync(client, address, stoppingToken);

        var random = new Random(settings.Seed);
        var schedule = new PriorityQueue<(SimulatedPatient Patient, SimulatedDevice Device), DateTimeOffset>();
        foreach (var patient in cohort)
        {
            foreach (var device in patient.Devices)
            {
                schedule.Enqueue((patient, device), simulatedStart + NextInterval(device, random));
            }
        }

        LogStarted(cohort.Count, address.Display, settings.HistoryDays, settings.ClockSpeed);
        while (!stoppingToken.IsCancellationRequested && schedule.TryPeek(out var next, out var due))
        {
            var now = SimulatedNow(realStart, simulatedStart, settings.ClockSpeed);
            if (due > now)
            {
                var wait = TimeSpan.FromTicks((long)((due - now).Ticks / (now < time.GetUtcNow() ? settings.ClockSpeed : 1)));
                await Task.Delay(wait < TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            schedule.Dequeue();
            var measurement = Physiology.Measure(next.Patient, next.Device.Kind, due, random);
            foreach (var (topic, payload) in SimulatedPayloads.Encode(next.Device, measurement))
            {
                await PublishAsync(client, address, topic, payload, stoppingToken);
            }

            schedule.Enqueue(next, due + NextInterval(next.Device, random));
        }
    }

    private DateTimeOffset SimulatedNow(DateTimeOffset realStart, DateTimeOffset simulatedStart, double clockSpeed)
    {
        var real = time.GetUtcNow();
        var simulated = simulatedStart + ((real - realStart) * clockSpeed);
        return simulated < real ? simulated : real;
    }

    private static TimeSpan NextInterval(SimulatedDevice device, Random random)
    {
        // Exponential gaps around the device's cadence: patients do not measure like clockwork.
        var mean = TimeSpan.FromDays(1 / device.ReadingsPerDay);
        return mean * Math.Clamp(-Math.Log(1 - random.NextDouble()), 0.05, 4);
    }

    private async Task PublishAsync(IMqttClient client, BrokerAddress address, string topic, byte[] payload, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        while (true)
        {
            try
            {
                await client.PublishAsync(message, cancellationToken);
                Interlocked.Increment(ref published);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPublishFailed(ex.Message);
                await ConnectWithRetryAsync(client, address, cancellationToken);
            }
        }
    }

    private async Task ConnectWithRetryAsync(IMqttClient client, BrokerAddress address, CancellationToken cancellationToken)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(address.Host, address.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId($"telesuivi-simulator-{Guid.NewGuid():N}")
            .WithCleanStart(true);
        if (address.UserName is not null)
        {
            builder.WithCredentials(address.UserName, address.Password);
        }

        if (address.UseTls)
        {
            builder.WithTlsOptions(tls => tls.UseTls());
        }

        var delay = TimeSpan.FromMilliseconds(200);
        while (!client.IsConnected)
        {
            try
            {
                await client.ConnectAsync(builder.Build(), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPublishFailed(ex.Message);
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulator registered {Patients} patients and {Devices} devices")]
    private partial void LogRegistered(int patients, int devices);

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulator publishing for {Patients} patients to {Broker} ({HistoryDays} days of history at {ClockSpeed}x, then real time)")]
    private partial void LogStarted(int patients, string broker, double historyDays, double clockSpeed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Simulator cannot publish: {Reason}; reconnecting")]
    private partial void LogPublishFailed(string reason);
}
