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
            // A random walk in [0, 1] crossing raise-at, clear-below and the critical level, scored 1 to 60 h apart
            // (the cool-down is 6 days): new episodes, reminders and escalations.
            var p = Math.Round(Math.Clamp(0.3 + (0.35 * Math.Sin(i / 15.0)) + (0.15 * (random.NextDouble() - 0.5)), 0, 1), 3);
            time = time.AddHours(1 + random.Next(60));
            var raisedByPlatform = platform.Evaluate(new TeleSuivi.Server.Alerts.RiskScore("p1", p, [], time)) is AlertSignal.Raise;
            Assert.True(raisedByPlatform == rule.Raises(p, time), $"score {i} ({p} at {time:O}): the platform raised {raisedByPlatform}");
            raisedBoth += raisedByPlatform ? 1 : 0;
        }

        Assert.InRange(raisedBoth, 20, 2500);
    }

    [Fact]
    public void Step_HighScoresDayAfterDay_ARaiseThenAReminderEverySixDays()
    {
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault);

        var steps = Enumerable.Range(0, 14).Select(day => rule.Step(0.35, Start.AddDays(day))).ToList();

        EpisodeStep[] expected = [EpisodeStep.Raise, .. Enumerable.Repeat(EpisodeStep.None, 5), EpisodeStep.Remind, .. Enumerable.Repeat(EpisodeStep.None, 5), EpisodeStep.Remind, EpisodeStep.None];
        Assert.Equal(expected, steps);
    }

    [Fact]
    public void Step_BetweenClearAndRaiseWhenTheCoolDownEnds_NoReminderUntilBackAtRaiseAt()
    {
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault);
        Assert.Equal(EpisodeStep.Raise, rule.Step(0.35, Start));

        // Still raised (above clear-below 0.20) but below raise-at: a reminder waits for raise-at.
        Assert.Equal(EpisodeStep.None, rule.Step(0.25, Start.AddDays(7)));
        Assert.Equal(EpisodeStep.Remind, rule.Step(0.31, Start.AddDays(8)));
    }

    [Fact]
    public void Step_WithinCoolDown_AnotherEpisodeWaitsButReachingCriticalFromBelowRaisesAtOnce()
    {
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault);
        Assert.Equal(EpisodeStep.Raise, rule.Step(0.4, Start));
        Assert.Equal(EpisodeStep.End, rule.Step(0.1, Start.AddHours(12)));

        Assert.Equal(EpisodeStep.None, rule.Step(0.55, Start.AddDays(2)));
        Assert.Equal(EpisodeStep.Escalate, rule.Step(0.62, Start.AddDays(3)));

        // Critical already alerted: within the cool-down of that alert nothing more, after it a new episode.
        Assert.Equal(EpisodeStep.None, rule.Step(0.9, Start.AddDays(4)));
        Assert.Equal(EpisodeStep.End, rule.Step(0.1, Start.AddDays(5)));
        Assert.Equal(EpisodeStep.Raise, rule.Step(0.35, Start.AddDays(9)));
    }

    [Fact]
    public void Step_NoCriticalLevel_NothingWithinTheCoolDown()
    {
        var rule = new EpisodeAlertRule(EpisodePolicy.PlatformDefault with { CriticalAt = null });
        Assert.Equal(EpisodeStep.Raise, rule.Step(0.4, Start));

        Assert.Equal(EpisodeStep.None, rule.Step(0.99, Start.AddDays(1)));
    }

    [Fact]
    public void ScaledTo_LowerRaiseAt_HysteresisAndCriticalLevelInTheSameProportion()
    {
        var scaled = EpisodePolicy.PlatformDefault.ScaledTo(0.03);
        Assert.Equal(0.03, scaled.RaiseAt, 12);
        Assert.Equal(0.02, scaled.ClearBelow, 12);
        Assert.Equal(0.06, scaled.CriticalAt!.Value, 12);
        Assert.Equal(TimeSpan.FromDays(6), scaled.CoolDown);
    }

    [Fact]
    public void At_SixDaysHighBeforeOnset_OneAlertRaisedOnTheFirstDay()
    {
        var days = Days(10);
        var onset = FeatureExtractor.ScoringTime(Span, 12).AddHours(12);
        var scores = days.Select(d => d.PatientId == "P0" && d.Day is >= 6 and <= 11 ? 0.9 : 0.01).ToList();

        var point = new EpisodeOperatingPoints(days).At(1.0 / days.Count, scores, [Exacerbation("P0", onset)]);

        // Per day the budget of one alert would go to one of the six tied days; the policy raises on the first and
        // keeps the episode without another alert within the 6-day cool-down.
        Assert.Equal(1, point.Alerts);
        Assert.Equal(1, point.EventsAlerted);
        Assert.Equal((6 * 24) + 12, point.MedianLeadHours, 9);
        Assert.InRange(point.RaiseAt!.Value, 0.9, 0.901);
    }

    private static readonly int[] RemindedOnsetDays = [9, 15, 20];

    [Fact]
    public void At_PatientHighForTwentyDays_RemindedEverySixDaysWithinTheBudget()
    {
        // P0 stays at 0.9 for 20 days; the others never rise. One alert a patient-day would be far above the budget
        // of 4: the policy raises on day 0 and reminds on days 6, 12 and 18, the last three each the only alert 1–7
        // days before an onset (days 9, 15 and 20; one alert per episode would reach none of them).
        var days = Days(5);
        var scores = days.Select(d => d.PatientId == "P0" ? 0.9 : 0.01).ToList();
        var onsets = RemindedOnsetDays.Select(day => Exacerbation("P0", FeatureExtractor.ScoringTime(Span, day))).ToList();

        var point = new EpisodeOperatingPoints(days).At(4.0 / days.Count, scores, onsets);

        Assert.Equal(4, point.Alerts);
        Assert.Equal((3, 3), (point.EventsAlerted, point.Events));
    }

    /// <summary>
    /// At a larger budget critical-at is the raise-at of the budget a tenth as large, as the server derives it: P0's rise
    /// to that level within the cool-down is a second alert, which leaves one more of the nine patients at 0.3 unalerted.
    /// </summary>
    [Fact]
    public void At_LargerBudget_EscalatesAtTheRaiseAtOfATenthOfIt()
    {
        var days = Days(11);
        var scores = days.Select(d => (d.PatientIndex, d.Day) switch
        {
            (0, 0) => 0.5,
            (0, 2) => 0.9,
            (1, 5) => 0.6,
            ( >= 2, 5) => 0.3,
            _ => 0.01,
        }).ToList();
        var onsets = Enumerable.Range(2, 9).Select(p => Exacerbation($"P{p}", FeatureExtractor.ScoringTime(Span, 8))).ToList();
        var episodes = new EpisodeOperatingPoints(days);

        var points = episodes.At([1.0 / days.Count, 10.0 / days.Count], scores, onsets);

        Assert.InRange(points[0].RaiseAt!.Value, 0.9, 0.901);
        Assert.Equal((10, 7), (points[1].Alerts, points[1].EventsAlerted));

        // Alone, the larger budget has no smaller point to take critical-at from: no escalation, one more alerted.
        var alone = episodes.At(10.0 / days.Count, scores, onsets);
        Assert.Equal((10, 8), (alone.Alerts, alone.EventsAlerted));
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
