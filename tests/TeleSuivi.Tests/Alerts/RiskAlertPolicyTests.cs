using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Alerts;

public sealed class RiskAlertPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
    private readonly RiskAlertPolicy policy = new(new RiskPolicyOptions());

    private AlertSignal? Score(double probability, double hours) =>
        policy.Evaluate(new RiskScore("p1", probability, ["SpO2 3 points below the personal baseline", "PM2.5 high for 2 days"], Start.AddHours(hours)));

    [Fact]
    public void Evaluate_BelowRaiseThreshold_RaisesNothing()
    {
        Assert.Null(Score(0.29, 0));
    }

    [Fact]
    public void Evaluate_AtRaiseThreshold_RaisesWithExplanations()
    {
        var raise = Assert.IsType<AlertSignal.Raise>(Score(0.35, 0));

        Assert.Equal(AlertSeverity.Warning, raise.Draft.Severity);
        Assert.Equal(0.35, raise.Draft.Risk);
        Assert.Contains(raise.Draft.Evidence, e => e.Detail == "PM2.5 high for 2 days");
    }

    [Fact]
    public void Evaluate_BetweenClearAndRaiseThresholds_KeepsTheAlert()
    {
        Score(0.35, 0);

        Assert.Null(Score(0.25, 1));
        Assert.Null(Score(0.31, 2));
        Assert.IsType<AlertSignal.Ended>(Score(0.15, 3));
    }

    [Fact]
    public void Evaluate_WhileRaised_ReAlertsOnlyOnMaterialRise()
    {
        Score(0.35, 0);

        Assert.Null(Score(0.40, 1));
        var rise = Assert.IsType<AlertSignal.Raise>(Score(0.46, 2));
        Assert.Contains("35 %", rise.Draft.Reason.En, StringComparison.Ordinal);
        Assert.Contains("46 %", rise.Draft.Reason.En, StringComparison.Ordinal);
        Assert.Null(Score(0.50, 3));
        Assert.Equal(AlertSeverity.Critical, Assert.IsType<AlertSignal.Raise>(Score(0.62, 4)).Draft.Severity);
    }

    [Fact]
    public void Evaluate_RisingAgainWithinCoolDown_WaitsForMaterialRise()
    {
        Score(0.35, 0);
        Score(0.10, 1);

        Assert.Null(Score(0.36, 2));
        Assert.IsType<AlertSignal.Raise>(Score(0.45, 3));
    }

    [Fact]
    public void Evaluate_RisingAgainAfterCoolDown_RaisesAgain()
    {
        Score(0.35, 0);
        Score(0.10, 1);

        Assert.IsType<AlertSignal.Raise>(Score(0.33, 13));
    }

    [Fact]
    public void Evaluate_ProbabilityOutOfRange_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Score(1.5, 0));
    }
}
