using Microsoft.Extensions.Options;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Alerts;

public static class AlertServices
{
    /// <summary>The alert store and workflow, the triage hub, and on ingest nodes the alert engine.</summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services, IConfiguration configuration, NodeRoles roles)
    {
        services.AddOptions<AlertOptions>().BindConfiguration(AlertOptions.Section);
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AlertOptions>>().Value);
        services.AddTriageSignalR(configuration);
        services.AddOptions<WorkflowOptions>().BindConfiguration(WorkflowOptions.Section);
        services.AddSingleton(sp => WorkflowDatabase.Create(sp.GetRequiredService<IOptions<WorkflowOptions>>().Value, sp.GetRequiredService<IOptions<StoreOptions>>().Value));
        services.AddSingleton<HubConnections>();
        services.AddSingleton<AlertFeed>();
        services.AddSingleton<AlertMetrics>();
        services.AddSingleton(sp => new AlertStore(sp.GetRequiredService<WorkflowDatabase>()));
        services.AddSingleton<ThresholdBook>();
        services.AddSingleton<PatientDirectory>();
        services.AddSingleton<BoardNotifier>();
        services.AddSingleton<AlertWorkflow>();
        if (roles.HasFlag(NodeRoles.Ingest))
        {
            services.AddHostedService<AlertEngine>();
        }
        else
        {
            // The engine prepares the tables where it runs; a web-only node must not wait for an ingest node to.
            services.AddHostedService<AlertStoreInitializer>();
        }

        return services;
    }
}

/// <summary>Creates the alert tables at start on nodes that run no <see cref="AlertEngine"/>.</summary>
public sealed class AlertStoreInitializer(AlertStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
