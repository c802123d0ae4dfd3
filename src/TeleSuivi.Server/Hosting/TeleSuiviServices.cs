using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Health;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.ScaleOut;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Retention;
using TeleSuivi.Server.Storage.Spool;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Hosting;

public static class TeleSuiviServices
{
    /// <summary>
    /// Everything <c>serve</c> runs, in start order: the embedded broker listens before the ingest client connects.
    /// A web-only node (<see cref="NodeRoles"/>) runs no broker, no ingestion and no alert engine.
    /// </summary>
    public static IServiceCollection AddTeleSuiviServices(this IServiceCollection services, IConfiguration configuration)
    {
        var roles = NodeRoleSettings.Read(configuration);
        var ingest = roles.HasFlag(NodeRoles.Ingest);
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
        if (ingest && broker.ResolveAddress().IsEmbedded)
        {
            services.AddHostedService<EmbeddedBroker>();
        }

        services.AddSingleton<IObservationStore>(sp => ObservationStoreFactory.Create(sp.GetRequiredService<IOptions<StoreOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        // SQLite files of the data folder, or the PostgreSQL database every node shares (Workflow:PostgreSql).
        services.AddSingleton(sp => new DeadLetterStore(WorkflowDatabase.Create(sp, DeadLetterStore.FileName)));
        services.AddSingleton(sp => new DeviceRegistry(WorkflowDatabase.Create(sp, DeviceRegistry.FileName)));
        services.AddOptions<RegistryOptions>().BindConfiguration(RegistryOptions.Section);
        services.AddHostedService<RegistryRefresher>();
        services.AddSingleton<RegistryBundleImporter>();
        services.AddSingleton<WritePathMetrics>();
        services.AddSingleton<StoreWriter>();
        services.AddSingleton<ObservationSpool>();
        services.AddHostedService<StoreInitializer>();
        services.AddHostedService<StoreRetention>();
        services.AddSingleton<SpoolReplayer>();
        if (ingest)
        {
            services.AddHostedService(sp => sp.GetRequiredService<SpoolReplayer>());
        }

        services.AddSingleton<IngestChannel>();
        services.AddSingleton<IngestCounters>();
        services.AddSingleton<BrokerConnectionState>();
        services.AddSingleton<EnvironmentDecoder>();
        services.AddSingleton<MessageNormalizer>();
        services.AddSingleton<DeadLetterReplayer>();
        if (ingest)
        {
            services.AddHostedService<IngestProcessor>();
            services.AddHostedService<RegistrationReplayService>();
            services.AddOptions<ScoringPartitionOptions>().BindConfiguration(ScoringPartitionOptions.Section);
            services.AddSingleton<ScoringPartitions>();
            services.AddHostedService(sp => sp.GetRequiredService<ScoringPartitions>());
        }

        services.AddAlerts(configuration, roles);
        services.AddRiskScoring(roles);
        if (ingest)
        {
            // After the alert engine and the scorer: hosted services stop in reverse order, so on shutdown the MQTT
            // client drains the pipeline while the processor and what it feeds still run.
            services.AddHostedService<MqttIngestClient>();
        }

        if (ingest && configuration.GetValue<bool>($"{SimulatorOptions.Section}:{nameof(SimulatorOptions.Enabled)}"))
        {
            services.AddDeviceSimulator();
        }

        services.AddTeleSuiviHealthChecks(ingest);
        services.AddTeleSuiviSecurity(configuration);
        return services;
    }
}
