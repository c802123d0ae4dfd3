using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Health;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Retention;
using TeleSuivi.Server.Storage.Spool;

namespace TeleSuivi.Server.Hosting;

public static class TeleSuiviServices
{
    /// <summary>Everything <c>serve</c> runs, in start order: the embedded broker listens before the ingest client connects.</summary>
    public static IServiceCollection AddTeleSuiviServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section);
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.Section);
        services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section);
        services.AddOptions<HostOptions>().Configure<IOptions<IngestOptions>>((host, ingest) => host.ShutdownTimeout = ingest.Value.ShutdownTimeout);
        services.AddSingleton(TimeProvider.System);
        services.AddHostedService<DataFolderGuard>();

        services.AddSingleton<IngestAccount>();
        services.AddSingleton<BrokerRefusals>();
        services.AddSingleton<BrokerCredentialIssuer>();
        var broker = configuration.GetSection(BrokerOptions.Section).Get<BrokerOptions>() ?? new BrokerOptions();
        if (broker.ResolveAddress().IsEmbedded)
        {
            services.AddHostedService<EmbeddedBroker>();
        }

        services.AddSingleton<IObservationStore>(sp => ObservationStoreFactory.Create(sp.GetRequiredService<IOptions<StoreOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<DeadLetterStore>();
        services.AddSingleton<DeviceRegistry>();
        services.AddSingleton<RegistryBundleImporter>();
        services.AddSingleton<WritePathMetrics>();
        services.AddSingleton<StoreWriter>();
        services.AddSingleton<ObservationSpool>();
        services.AddHostedService<StoreInitializer>();
        services.AddHostedService<StoreRetention>();
        services.AddSingleton<SpoolReplayer>();
        services.AddHostedService(sp => sp.GetRequiredService<SpoolReplayer>());

        services.AddSingleton<IngestChannel>();
        services.AddSingleton<IngestCounters>();
        services.AddSingleton<BrokerConnectionState>();
        services.AddSingleton<EnvironmentDecoder>();
        services.AddSingleton<MessageNormalizer>();
        services.AddHostedService<IngestProcessor>();
        services.AddSingleton<DeadLetterReplayer>();
        services.AddHostedService<RegistrationReplayService>();
        services.AddAlerts();

        // After the alert engine: hosted services stop in reverse order, so on shutdown the MQTT client drains the
        // pipeline while the processor and the alert engine it feeds still run.
        services.AddHostedService<MqttIngestClient>();

        if (configuration.GetValue<bool>($"{SimulatorOptions.Section}:{nameof(SimulatorOptions.Enabled)}"))
        {
            services.AddDeviceSimulator();
        }

        services.AddTeleSuiviHealthChecks();
        services.AddTeleSuiviSecurity(configuration);
        return services;
    }
}
