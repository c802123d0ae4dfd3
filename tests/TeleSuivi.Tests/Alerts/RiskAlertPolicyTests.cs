using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Alerts;

public sealed class RiskAlertPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
    /// <summary>The former defaults, now set explicitly: raise at 0.30, clear below 0.20, critical at 0.60, material rise 0.10.</summary>
    internal static readonly RiskThresholds Explicit30 = RiskThresholds.Resolve(new RiskPolicyOptions { RaiseAt = 0.30 }, null);

    private readonly RiskAlertPolicy policy = new(Explicit30);

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
    public void Evaluate_ReasonsInBothLanguages_EachEvidenceCarriesItsFrenchPhrase()
    {
        var score = new RiskScore("p1", 0.4, ["SpO2 3 points below her usual 95 %, for 36 h", "PM2.5 above 25 µg/m³ for 3 days"], Start,
            ["SpO2 3 points sous son habituel de 95 %, depuis 36 h", "PM2,5 au-dessus de 25 µg/m³ depuis 3 jours"]);

        var raise = Assert.IsType<AlertSignal.Raise>(policy.Evaluate(score));

        var reasons = raise.Draft.Evidence.Where(e => e.Label == "risk factor").Select(e => (e.Detail, e.DetailFr)).ToList();
        Assert.Equal(
            [("SpO2 3 points below her usual 95 %, for 36 h", "SpO2 3 points sous son habituel de 95 %, depuis 36 h"), ("PM2.5 above 25 µg/m³ for 3 days", "PM2,5 au-dessus de 25 µg/m³ depuis 3 jours")],
            reasons);
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

    /// <summary>A patient the model does not know yet (no personal baseline) is not alerted on; from their baseline on, as usual.</summary>
    [Fact]
    public void Evaluate_BeforeThePatientsBaseline_RaisesNothingThenRaisesOnceItExists()
    {
        Assert.Null(policy.Evaluate(new RiskScore("p1", 0.9, [], Start, BeforeBaseline: true)));
        Assert.Null(policy.Evaluate(new RiskScore("p1", 0.9, [], Start.AddHours(1), BeforeBaseline: true)));

        Assert.IsType<AlertSignal.Raise>(policy.Evaluate(new RiskScore("p1", 0.35, [], Start.AddHours(2))));
    }

    [Fact]
    public void Evaluate_ProbabilityOutOfRange_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Score(1.5, 0));
    }

    [Fact]
    public async Task Restore_FromTheStoreOnTheSameFolderAfterAClearedAlert_KeepsTheCoolDown()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var key = new AlertKey("p1", AlertKinds.Risk, string.Empty);
        await bed.Store.RaiseAsync(Assert.IsType<AlertSignal.Raise>(Score(0.35, 0)).Draft, Start, TestContext.Current.CancellationToken);
        var ended = Assert.IsType<AlertSignal.Ended>(Score(0.10, 1));
        await bed.Store.EndConditionAsync(key, ended.Why, Start.AddHours(1), TestContext.Current.CancellationToken);

        // The restarted engine: a new store on the same alerts.db, a new policy.
        using var reopened = new AlertStore(Microsoft.Extensions.Options.Options.Create(new Server.Storage.StoreOptions { DataDirectory = bed.DataDirectory }));
        var restarted = new RiskAlertPolicy(Explicit30);
        foreach (var latest in await reopened.LatestOfKindAsync(AlertKinds.Risk, TestContext.Current.CancellationToken))
        {
            restarted.Restore(latest);
        }

        Assert.Null(restarted.Evaluate(new RiskScore("p1", 0.36, [], Start.AddHours(2))));
        var rise = Assert.IsType<AlertSignal.Raise>(restarted.Evaluate(new RiskScore("p1", 0.45, [], Start.AddHours(3))));
        Assert.Contains("from 35 %", rise.Draft.Reason.En, StringComparison.Ordinal);
        Assert.IsType<AlertSignal.Raise>(new RiskAlertPolicy(Explicit30).Evaluate(new RiskScore("p1", 0.36, [], Start.AddHours(2))));
    }

    [Fact]
    public async Task Restore_FromTheStoreWhileTheAlertIsUp_EndsItBelowClearAndNotBefore()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        await bed.Store.RaiseAsync(Assert.IsType<AlertSignal.Raise>(Score(0.35, 0)).Draft, Start, TestContext.Current.CancellationToken);

        using var reopened = new AlertStore(Microsoft.Extensions.Options.Options.Create(new Server.Storage.StoreOptions { DataDirectory = bed.DataDirectory }));
        var restarted = new RiskAlertPolicy(Explicit30);
        restarted.Restore(Assert.Single(await reopened.LatestOfKindAsync(AlertKinds.Risk, TestContext.Current.CancellationToken)));

        Assert.Null(restarted.Evaluate(new RiskScore("p1", 0.40, [], Start.AddHours(13))));
        Assert.IsType<AlertSignal.Ended>(restarted.Evaluate(new RiskScore("p1", 0.15, [], Start.AddHours(14))));
    }
}
