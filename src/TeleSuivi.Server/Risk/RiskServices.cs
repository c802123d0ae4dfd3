using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.Risk;

public static class RiskServices
{
    /// <summary>Online risk scoring: the model, the feed from ingestion, the scorer and the RiskAssessment store (<c>risk.db</c>, or the shared PostgreSQL database).</summary>
    /// <remarks>
    /// The scorer runs on ingest nodes (it is fed by their ingestion); the store, the latest scores and the model's
    /// health are on every node, so a web node serves the RiskAssessments any worker wrote to the shared database.
    /// </remarks>
    public static IServiceCollection AddRiskScoring(this IServiceCollection services, NodeRoles roles)
    {
        services.AddOptions<RiskOptions>().BindConfiguration(RiskOptions.Section);
        services.AddSingleton<RiskModel>();
        services.AddSingleton<ScoringFeed>();
        services.AddSingleton(RiskAssessmentStore.Create);
        services.AddSingleton<LatestRisks>();
        services.AddSingleton<RiskMetrics>();
        if (roles.HasFlag(NodeRoles.Ingest))
        {
            services.AddHostedService<OnlineRiskScorer>();
        }
        else
        {
            services.AddHostedService<RiskAssessmentStoreInitializer>();
        }

        return services;
    }
}

/// <summary>Creates the RiskAssessment table at start on nodes that run no <see cref="OnlineRiskScorer"/>.</summary>
public sealed class RiskAssessmentStoreInitializer(RiskAssessmentStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
