using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Alerts;

public sealed class RiskAlertPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);
    /// <summary>The former defaults, now set explicitly: raise at 0.30, clear below 0.20, critical at 0.60 (6-day cool-down).</summary>
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
    public void Evaluate_StillHighWhenTheCoolDownHasPassed_ARemindingAlertSayingSince()
    {
        Score(0.35, 0);
        Assert.Null(Score(0.40, 24));
        Assert.Null(Score(0.50, (24 * 6) - 1));

        var reminder = Assert.IsType<AlertSignal.Raise>(Score(0.45, 24 * 6));

        Assert.True(reminder.Draft.Reminder);
        Assert.Equal("Exacerbation risk still 45 % (alert at 30 %), 6 days after the last risk alert", reminder.Draft.Reason.En);
        Assert.Equal("Risque d'exacerbation toujours à 45 % (alerte à 30 %), 6 jours après la dernière alerte de risque", reminder.Draft.Reason.Fr);
        Assert.Contains(reminder.Draft.Evidence, e => e.Detail == "PM2.5 high for 2 days");
    }

    [Fact]
    public void Evaluate_ReachingCriticalWithinTheCoolDown_AlertsAtOnceAsACriticalRise()
    {
        Score(0.35, 0);

        var rise = Assert.IsType<AlertSignal.Raise>(Score(0.62, 4));

        Assert.Equal(AlertSeverity.Critical, rise.Draft.Severity);
        Assert.False(rise.Draft.Reminder);
        Assert.Equal("Exacerbation risk rose from 35 % to 62 % (critical from 60 %)", rise.Draft.Reason.En);
        Assert.Null(Score(0.80, 5));
    }

    [Fact]
    public void Evaluate_RisingAgainWithinCoolDown_WaitsForTheCoolDownToEnd()
    {
        Score(0.35, 0);
        Score(0.10, 1);

        Assert.Null(Score(0.36, 2));
        Assert.Null(Score(0.55, (24 * 6) - 1));
        var again = Assert.IsType<AlertSignal.Raise>(Score(0.33, 24 * 6));
        Assert.False(again.Draft.Reminder);
        Assert.Equal("Exacerbation risk 33 % (alert at 30 %)", again.Draft.Reason.En);
    }

    /// <summary>
    /// A nurse resolved the alert while the risk stayed high: the store does not raise the same alert again while its
    /// condition lasts, but the reminder six days later is a new alert for her.
    /// </summary>
    [Fact]
    public async Task Reminder_AfterTheNurseResolvedTheAlertWhileTheRiskStayedHigh_OpensANewAlert()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var ct = TestContext.Current.CancellationToken;
        var first = await bed.Store.RaiseAsync(Assert.IsType<AlertSignal.Raise>(Score(0.35, 0)).Draft, Start, ct);
        Assert.True((await bed.Workflow.ClaimAsync(first!.Id, "alice", ct)).Succeeded);
        Assert.True((await bed.Workflow.ResolveAsync(first.Id, "alice", AlertOutcomes.FalseAlarm, null, ct)).Succeeded);

        var sameEpisode = Assert.IsType<AlertSignal.Raise>(Score(0.62, 24)).Draft with { Severity = AlertSeverity.Warning };
        Assert.Null(await bed.Store.RaiseAsync(sameEpisode, Start.AddHours(24), ct));
        var reminder = Assert.IsType<AlertSignal.Raise>(Score(0.40, 24 * 7));
        var reopened = await bed.Store.RaiseAsync(reminder.Draft, Start.AddDays(7), ct);

        Assert.NotNull(reopened);
        Assert.NotEqual(first.Id, reopened.Id);
        Assert.Equal(AlertStatuses.Open, reopened.Status);
        Assert.Contains("still 40 %", reopened.Reason.En, StringComparison.Ordinal);
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
        var rise = Assert.IsType<AlertSignal.Raise>(restarted.Evaluate(new RiskScore("p1", 0.65, [], Start.AddHours(3))));
        Assert.Contains("from 35 %", rise.Draft.Reason.En, StringComparison.Ordinal);
        Assert.IsType<AlertSignal.Raise>(new RiskAlertPolicy(Explicit30).Evaluate(new RiskScore("p1", 0.36, [], Start.AddHours(2))));
    }

    [Fact]
    public async Task Restore_FromTheStoreWhileTheAlertIsUp_EndsItBelowClearAndNotBefore()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var restarted = await RestartedWhileTheAlertIsUpAsync(bed);

        Assert.Null(restarted.Evaluate(new RiskScore("p1", 0.40, [], Start.AddHours(13))));
        Assert.IsType<AlertSignal.Ended>(restarted.Evaluate(new RiskScore("p1", 0.15, [], Start.AddHours(14))));
    }

    [Fact]
    public async Task Restore_FromTheStoreWhileTheAlertIsUp_RemindsWhenItsCoolDownHasPassed()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var restarted = await RestartedWhileTheAlertIsUpAsync(bed);

        Assert.Null(restarted.Evaluate(new RiskScore("p1", 0.40, [], Start.AddDays(5))));
        Assert.True(Assert.IsType<AlertSignal.Raise>(restarted.Evaluate(new RiskScore("p1", 0.40, [], Start.AddDays(6)))).Draft.Reminder);
    }

    /// <summary>An alert raised at 0.35 at the start, then the engine restarted: a new store on the same alerts.db, a new policy taking it up.</summary>
    private async Task<RiskAlertPolicy> RestartedWhileTheAlertIsUpAsync(AlertTestBed bed)
    {
        await bed.Store.RaiseAsync(Assert.IsType<AlertSignal.Raise>(Score(0.35, 0)).Draft, Start, TestContext.Current.CancellationToken);

        using var reopened = new AlertStore(Microsoft.Extensions.Options.Options.Create(new Server.Storage.StoreOptions { DataDirectory = bed.DataDirectory }));
        var restarted = new RiskAlertPolicy(Explicit30);
        restarted.Restore(Assert.Single(await reopened.LatestOfKindAsync(AlertKinds.Risk, TestContext.Current.CancellationToken)));
        return restarted;
    }
}
