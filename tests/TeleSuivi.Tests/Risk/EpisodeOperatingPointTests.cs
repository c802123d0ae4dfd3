using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Model;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Risk;

public sealed class EpisodeOperatingPointTests
{
    private static readonly CohortParameters Span = CohortParameters.Default with { Days = 20 };
    private static readonly DateTimeOffset Start = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);

    private static List<PatientDay> Days(int patients) =>
        [.. Enumerable.Range(0, patients).SelectMany(p => Enumerable.Range(0, Span.Days).Select(d =>
            new PatientDay($"P{p}", p, d, FeatureExtractor.ScoringTime(Span, d), new float[FeatureSchema.Count], Label: false)))];

    private static CohortEvent Exacerbation(string patient, DateTimeOffset onset, double prodromeDays = 2, double signal = 1, double weightDays = 0) =>
        new(patient, EventKind.Exacerbation, Condition.Copd, onset, prodromeDays, 7, signal, weightDays, weightDays > 0 ? 2 : 0, false);

    [Fact]
    public void PlatformDefault_SameAsTheServersThresholdsWithRaiseAtSetTo030()
    {
        Assert.Equal(EpisodePolicy.PlatformDefault, RiskThresholds.Resolve(new RiskPolicyOptions { RaiseAt = 0.30 }, null).Policy);
    }

    [Fact]
    public void Raises_RandomSeriesWithRisesAndFalls_SameAlertsAsTheServersRiskAlertPolicy()
    {
        var random = new Random(5);
        var platform = new RiskAlertPolicy(TeleSuivi.Tests.Alerts.RiskAlertPolicyTests.Explicit30);
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault);
        var time = Start;
        var raisedBoth = 0;
        for (var i = 0; i < 5000; i++)
        {
            // A random walk in [0, 1] crossing raise-at, clear-below and material rises, scored 1 to 20 h apart (the cool-down is 12 h).
            var p = Math.Round(Math.Clamp(0.3 + (0.35 * Math.Sin(i / 15.0)) + (0.15 * (random.NextDouble() - 0.5)), 0, 1), 3);
            time = time.AddHours(1 + random.Next(20));
            var raisedByPlatform = platform.Evaluate(new TeleSuivi.Server.Alerts.RiskScore("p1", p, [], time)) is AlertSignal.Raise;
            Assert.True(raisedByPlatform == rule.Raises(p, time), $"score {i} ({p} at {time:O}): the platform raised {raisedByPlatform}");
            raisedBoth += raisedByPlatform ? 1 : 0;
        }

        Assert.InRange(raisedBoth, 20, 2500);
    }

    [Fact]
    public void Raises_HighScoresDayAfterDay_OneAlertPerEpisodeAndAnotherAfterClearing()
    {
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault);
        double[] scores = [0.1, 0.35, 0.36, 0.32, 0.25, 0.48, 0.1, 0.31];
        var raised = scores.Select((p, day) => rule.Raises(p, Start.AddDays(day))).ToList();
        // Raised on day 1; days 2–4 stay in the episode (above clear-below 0.20, no rise of 0.10); day 5 rose 0.13 above
        // the last alerted 0.35; day 6 clears; day 7 is a new episode.
        Assert.Equal([false, true, false, false, false, true, false, true], raised);
    }

    [Fact]
    public void Raises_WithinCoolDownAfterClearing_NoNewAlertUnlessMaterialRise()
    {
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault);
        Assert.True(rule.Raises(0.4, Start));
        Assert.False(rule.Raises(0.1, Start.AddHours(2)));
        Assert.False(rule.Raises(0.45, Start.AddHours(4)));
        Assert.True(rule.Raises(0.5, Start.AddHours(6)));
        Assert.False(rule.Raises(0.1, Start.AddHours(8)));
        Assert.True(rule.Raises(0.35, Start.AddHours(20)));
    }

    [Fact]
    public void ScaledTo_LowerRaiseAt_HysteresisAndRiseInTheSameProportion()
    {
        var scaled = EpisodePolicy.PlatformDefault.ScaledTo(0.03);
        Assert.Equal(0.03, scaled.RaiseAt, 12);
        Assert.Equal(0.02, scaled.ClearBelow, 12);
        Assert.Equal(0.01, scaled.MaterialRise, 12);
        Assert.Equal(TimeSpan.FromHours(12), scaled.CoolDown);
    }

    [Fact]
    public void At_SixDaysHighBeforeOnset_OneAlertRaisedOnTheFirstDay()
    {
        var days = Days(10);
        var onset = FeatureExtractor.ScoringTime(Span, 12).AddHours(12);
        var scores = days.Select(d => d.PatientId == "P0" && d.Day is >= 6 and <= 11 ? 0.9 : 0.01).ToList();

        var point = new EpisodeOperatingPoints(days).At(1.0 / days.Count, scores, [Exacerbation("P0", onset)]);

        // Per day the budget of one alert would go to one of the six tied days; the policy raises on the first and
        // keeps the episode without another alert.
        Assert.Equal(1, point.Alerts);
        Assert.Equal(1, point.EventsAlerted);
        Assert.Equal((6 * 24) + 12, point.MedianLeadHours, 9);
        Assert.InRange(point.RaiseAt!.Value, 0.9, 0.901);
    }

    [Fact]
    public void At_LowerRaiseAtKeepsAPatientInOneEndlessEpisode_StopsAboveTheRaiseAtThatExceedsTheBudget()
    {
        // P0 swings every day between 0.5 and a high score that creeps up from 0.900 to 0.919: a raise-at among the high
        // scores alerts on each swing above it, a raise-at below 0.75 keeps P0 in one endless episode (1 alert in
        // 20 days). P1 scores 0.1 and 0.95 on one day. With 3 alerts allowed, the count is within the budget near the
        // top (P1 and P0's two highest swings) and again down at 0.1 (P0 once, P1 at 0.1 and on its rise to 0.95):
        // raise-at is lowered from the top and stops before the budget is exceeded, so it never reaches 0.1.
        var days = Days(2);
        var scores = days.Select(d => d.PatientIndex == 0 ? (d.Day % 2 == 0 ? 0.9 + (0.001 * d.Day) : 0.5) : d.Day == 10 ? 0.95 : 0.1).ToList();

        var point = new EpisodeOperatingPoints(days).At(3.0 / days.Count, scores, []);

        Assert.Equal(3, point.Alerts);
        Assert.True(point.RaiseAt > 0.9, $"raise-at {point.RaiseAt}");
    }

    [Fact]
    public void At_BudgetTooSmallForAnyAlert_NothingRaised()
    {
        var days = Days(2);
        var scores = days.Select(d => d.Day == 5 ? 0.9 : 0.01).ToList();
        var point = new EpisodeOperatingPoints(days).At(0.5 / days.Count, scores, []);
        Assert.Equal(0, point.Alerts);
    }

    [Fact]
    public void At_AllScoresTied_RandomEpisodesWithinBudgetSameEveryTime()
    {
        var days = Days(20);
        var scores = new double[days.Count];
        var episodes = new EpisodeOperatingPoints(days);
        var first = episodes.At(0.05, scores, []);
        Assert.InRange(first.Alerts, 1, 20);
        Assert.Equal(first, episodes.At(0.05, scores, []));
    }

    [Fact]
    public void At_NegativeScore_ClearError()
    {
        var days = Days(1);
        var error = Assert.Throws<ArgumentException>(() => new EpisodeOperatingPoints(days).At(0.05, days.Select(_ => -1.0).ToList(), []));
        Assert.Contains("non-negative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SignalCeiling_JudgedEventsOnly_CountsSignalAtLeastADayBeforeOnset()
    {
        var days = Days(1);
        var onset = FeatureExtractor.ScoringTime(Span, 12).AddHours(12);
        var heldOut = new PatientDays(Span, days,
        [
            Exacerbation("P0", onset, prodromeDays: 4),
            Exacerbation("P0", onset, prodromeDays: 1),
            Exacerbation("P0", onset, prodromeDays: 0.5),
            Exacerbation("P0", onset, prodromeDays: 0.5, weightDays: 12),
            Exacerbation("P0", onset, prodromeDays: 4, signal: 0),
            Exacerbation("P0", FeatureExtractor.ScoringTime(Span, 3), prodromeDays: 4),
        ]);

        var ceiling = SignalCeiling.Of(heldOut);

        // The last onset's 1–7-day window starts before the first scored day: not judged. Sudden without weight gain and
        // without signal are out; a heart-failure weight build-up counts as a signal.
        Assert.Equal(new SignalCeiling(Events: 5, WithEarlySignal: 3, Sudden: 1, WithoutSignal: 1), ceiling);
        Assert.Equal(0.6, ceiling.Fraction, 12);
    }
}
