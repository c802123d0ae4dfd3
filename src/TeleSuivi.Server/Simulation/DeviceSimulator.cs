using Hl7.Fhir.Serialization;
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
    SimulatedFormats formats,
    IOptions<BrokerOptions> brokerOptions,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<DeviceSimulator> logger) : BackgroundService
{
    private long published;

    public long Published => Interlocked.Read(ref published);

    /// <summary>Why the simulator stopped on its own, if it failed (the <c>simulate</c> command exits non-zero then).</summary>
    public string? Failure { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await SimulateAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // The simulator is a guest in demo: its failure is reported, and stops only a standalone simulate.
            Failure = ex.Message;
            LogFailed(ex.Message);
            if (services.GetService<RegistryBundleImporter>() is null)
            {
                lifetime.StopApplication();
            }
        }
    }

    private async Task SimulateAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var realStart = time.GetUtcNow();
        var simulatedStart = realStart - TimeSpan.FromDays(settings.HistoryDays);
        var cohort = SimulatedCohort.Generate(settings.Patients, settings.Seed, formats, simulatedStart);
        var payloads = new SimulatedPayloads(formats);

        await RegisterAsync(cohort, CohortBundle.Build(cohort, simulatedStart - TimeSpan.FromDays(30)), stoppingToken);
        using var duration = settings.Duration is { } limit ? new CancellationTokenSource(limit) : new CancellationTokenSource();
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, duration.Token);
        stoppingToken = running.Token;

        var address = settings.BrokerUrl is null
            ? brokerOptions.Value.ResolveAddress()
            : BrokerAddress.Parse(settings.BrokerUrl, brokerOptions.Value.EmbeddedHost, brokerOptions.Value.EmbeddedPort);
        // The zones' environment stations report on the hour.
        var zones = cohort.Select(p => p.Zone).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var secrets = await CredentialsAsync(cohort, zones, address, stoppingToken);
        await using var connections = new SimulatedConnections(address, brokerOptions.Value, secrets, settings.MaxConnections, LogPublishFailed, time);

        var random = new Random(settings.Seed);
        var schedule = new PriorityQueue<(SimulatedPatient Patient, SimulatedDevice Device), DateTimeOffset>();
        foreach (var patient in cohort)
        {
            foreach (var device in patient.Devices)
            {
                // Devices start out of phase: each one's first reading falls somewhere in its first interval.
                schedule.Enqueue((patient, device), simulatedStart + (TimeSpan.FromDays(1 / device.ReadingsPerDay) * random.NextDouble()));
            }
        }

        var nextHour = new DateTimeOffset(simulatedStart.UtcDateTime.Date.AddHours(simulatedStart.UtcDateTime.Hour + 1), TimeSpan.Zero);

        LogStarted(cohort.Count, address.Display, settings.HistoryDays, settings.ClockSpeed);
        try
        {
            while (!stoppingToken.IsCancellationRequested && schedule.TryPeek(out var next, out var due))
            {
                var now = SimulatedNow(realStart, simulatedStart, settings.ClockSpeed);
                if (due > now)
                {
                    var wait = TimeSpan.FromTicks((long)((due - now).Ticks / (now < time.GetUtcNow() ? settings.ClockSpeed : 1)));
                    await Task.Delay(wait < TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    continue;
                }

                if (nextHour <= due)
                {
                    foreach (var zone in zones)
                    {
                        var (environmentTopic, environmentPayload) = SimulatedEnvironment.Encode(zone, nextHour, random);
                        await PublishAsync(connections, BrokerAccounts.Station(zone), environmentTopic, environmentPayload, stoppingToken);
                    }

                    nextHour = nextHour.AddHours(1);
                    continue;
                }

                schedule.Dequeue();
                if (next.Patient.Physiology.InHospital(due))
                {
                    // Admitted for a severe exacerbation: the devices stay at home, as in the cohort.
                    schedule.Enqueue(next, due + NextInterval(next.Device, random));
                    continue;
                }

                var measurement = Physiology.Measure(next.Patient, next.Device.Kind, due, random);
                foreach (var (topic, payload) in payloads.Encode(next.Device, measurement, random))
                {
                    await PublishAsync(connections, next.Device.Id, topic, payload, stoppingToken);
                }

                schedule.Enqueue(next, due + NextInterval(next.Device, random));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        if (duration.IsCancellationRequested)
        {
            LogFinished(Published, settings.Duration!.Value.TotalSeconds);
            lifetime.StopApplication();
        }
    }

    /// <summary>
    /// In-process (demo) the cohort goes straight into the registry, so readings are attributed from the first one;
    /// standalone (simulate) it is posted to a running TeleSuivi and/or written to a file for <c>telesuivi import</c>.
    /// </summary>
    private async Task RegisterAsync(IReadOnlyList<SimulatedPatient> cohort, Hl7.Fhir.Model.Bundle bundle, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var deviceCount = cohort.Sum(p => p.Devices.Count);
        if (services.GetService<RegistryBundleImporter>() is { } importer)
        {
            await importer.ImportAsync(bundle, cancellationToken);
            LogRegistered(cohort.Count, deviceCount, "the registry");
        }

        var json = settings.RegisterWith is null && settings.RegistryFile is null ? null : new FhirJsonSerializer().SerializeToString(bundle);
        if (settings.RegistryFile is { } file)
        {
            await File.WriteAllTextAsync(file, json, cancellationToken);
            LogRegistered(cohort.Count, deviceCount, file);
        }

        if (settings.RegisterWith is { } server)
        {
            // In transactions of a few thousand entries: the Bundle of 10,000 patients is over the server's request
            // size limit (Kestrel: 30 MB). Entries are in dependency order, so each part refers to registered resources.
            using var http = CommandLine.ServerOption.Client(new Uri(server), TimeSpan.FromMinutes(5));
            var serializer = new FhirJsonSerializer();
            foreach (var part in bundle.Entry.Chunk(5_000))
            {
                var partJson = bundle.Entry.Count <= 5_000 ? json! : serializer.SerializeToString(new Hl7.Fhir.Model.Bundle { Type = bundle.Type, Entry = [.. part] });
                using var content = new StringContent(partJson, System.Text.Encoding.UTF8, new System.Net.Http.Headers.MediaTypeHeaderValue("application/fhir+json"));
                using var response = await http.PostAsync(new Uri("/fhir", UriKind.Relative), content, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    throw new ConfigurationException($"{server} refused the cohort's registry Bundle: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
                }
            }

            LogRegistered(cohort.Count, deviceCount, server);
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

    private async Task PublishAsync(SimulatedConnections connections, string account, string topic, byte[] payload, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        if (await connections.PublishAsync(account, message, cancellationToken))
        {
            Interlocked.Increment(ref published);
        }
    }

    /// <summary>
    /// The accounts the simulated devices log in with: from <see cref="SimulatorOptions.CredentialsFile"/>; or, in
    /// <c>demo</c> on the embedded broker, issued here to the cohort's devices and zones (a new secret at each start,
    /// never written anywhere but as a hash); or none, for a broker without authentication.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, string>?> CredentialsAsync(IReadOnlyList<SimulatedPatient> cohort, IReadOnlyList<string> zones, BrokerAddress address, CancellationToken cancellationToken)
    {
        if (options.Value.CredentialsFile is { } file)
        {
            return SimulatedConnections.ReadCredentials(file);
        }

        if (!address.IsEmbedded || brokerOptions.Value.AllowAnonymous || services.GetService<BrokerCredentialIssuer>() is not { } issuer)
        {
            return null;
        }

        var devices = await issuer.IssueDevicesAsync(cohort.SelectMany(p => p.Devices).Select(d => d.Id), rotate: true, cancellationToken);
        var stations = await issuer.IssueStationsAsync(zones, rotate: true, cancellationToken);
        LogAccountsIssued(devices.Count, stations.Count);
        return devices.Concat(stations).ToDictionary(c => c.UserName, c => c.Secret, StringComparer.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulator issued broker accounts to its {Devices} devices and {Stations} environment stations")]
    private partial void LogAccountsIssued(int devices, int stations);

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulator registered {Patients} patients and {Devices} devices with {Target}")]
    private partial void LogRegistered(int patients, int devices, string target);

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulator publishing for {Patients} patients to {Broker} ({HistoryDays} days of history at {ClockSpeed}x, then real time)")]
    private partial void LogStarted(int patients, string broker, double historyDays, double clockSpeed);

    [LoggerMessage(Level = LogLevel.Error, Message = "Simulator stopped: {Reason}")]
    private partial void LogFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulator published {Published} messages in {Seconds} s, as asked; stopping")]
    private partial void LogFinished(long published, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Simulator cannot publish: {Reason}; reconnecting")]
    private partial void LogPublishFailed(string reason);
}
