namespace TeleSuivi.Server.Risk;

public static class RiskServices
{
    /// <summary>Online risk scoring: the model, the feed from ingestion, the scorer and the RiskAssessment store.</summary>
    public static IServiceCollection AddRiskScoring(this IServiceCollection services)
    {
        services.AddOptions<RiskOptions>().BindConfiguration(RiskOptions.Section);
        services.AddSingleton<RiskModel>();
        services.AddSingleton<ScoringFeed>();
        services.AddSingleton<RiskAssessmentStore>();
        services.AddSingleton<LatestRisks>();
        services.AddSingleton<RiskMetrics>();
        services.AddHostedService<OnlineRiskScorer>();
        return services;
    }
}
