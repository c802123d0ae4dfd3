using TeleSuivi.Server.Board;

namespace TeleSuivi.Server.Alerts;

public static class AlertServices
{
    /// <summary>The alert engine, its store and workflow, and the triage hub.</summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddOptions<AlertOptions>().BindConfiguration(AlertOptions.Section);
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AlertOptions>>().Value);
        services.AddSignalR();
        services.AddSingleton<HubConnections>();
        services.AddSingleton<AlertFeed>();
        services.AddSingleton<AlertStore>();
        services.AddSingleton<ThresholdBook>();
        services.AddSingleton<PatientDirectory>();
        services.AddSingleton<BoardNotifier>();
        services.AddSingleton<AlertWorkflow>();
        services.AddHostedService<AlertEngine>();
        return services;
    }
}
