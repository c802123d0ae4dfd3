using TeleSuivi.Server.Bench;

namespace TeleSuivi.Tests.Bench;

/// <summary>How the bench turns two reads of the platform's <c>/metrics</c> into one load's scorer figures.</summary>
public sealed class BenchRunnerTests
{
    [Fact]
    public void RiskDuring_GaugeLowerAtTheEndThanAtTheStart_IsReadAsItStandsNotDifferenced()
    {
        // The load began during the wave: the latest score's lag was 30 s then (first scores behind a backlog), 4 s at its end.
        var before = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["telesuivi_risk_scores_total"] = 1_000,
            ["telesuivi_risk_scoring_lag_seconds"] = 30.2,
            ["telesuivi_risk_scored_patients_per_second"] = 900,
            ["telesuivi_risk_queue_depth"] = 3,
            ["telesuivi_risk_scoring_on"] = 1,
            ["telesuivi_risk_save_duration_seconds_bucket{le=\"0.1\"}"] = 2,
            ["telesuivi_risk_save_duration_seconds_sum"] = 0.5,
            ["telesuivi_risk_save_duration_seconds_count"] = 2,
        };
        var after = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["telesuivi_risk_scores_total"] = 101_000,
            ["telesuivi_risk_scoring_lag_seconds"] = 4.1,
            ["telesuivi_risk_scored_patients_per_second"] = 1_500,
            ["telesuivi_risk_queue_depth"] = 0,
            ["telesuivi_risk_scoring_on"] = 1,
            ["telesuivi_risk_save_duration_seconds_bucket{le=\"0.1\"}"] = 150,
            ["telesuivi_risk_save_duration_seconds_sum"] = 20.5,
            ["telesuivi_risk_save_duration_seconds_count"] = 202,
            ["telesuivi_risk_zone_rescores_total"] = 7,
        };

        var during = BenchRunner.RiskDuring(before, after);

        Assert.Equal(100_000, during["telesuivi_risk_scores_total"]);
        Assert.Equal(4.1, during["telesuivi_risk_scoring_lag_seconds"]);
        Assert.Equal(1_500, during["telesuivi_risk_scored_patients_per_second"]);
        Assert.Equal(0, during["telesuivi_risk_queue_depth"]);
        Assert.Equal(1, during["telesuivi_risk_scoring_on"]);
        Assert.Equal(148, during["telesuivi_risk_save_duration_seconds_bucket{le=\"0.1\"}"]);
        Assert.Equal(20, during["telesuivi_risk_save_duration_seconds_sum"]);
        Assert.Equal(200, during["telesuivi_risk_save_duration_seconds_count"]);
        Assert.Equal(7, during["telesuivi_risk_zone_rescores_total"]);
    }
}
