using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Tests.Risk;

public sealed class GapAnalysisTests
{
    private static readonly DateTimeOffset At = new(2025, 6, 1, 22, 0, 0, TimeSpan.Zero);

    private static CohortEvent Exacerbation(double hoursAfter, double prodromeDays, double signal = 1, double weightProdromeDays = 0) =>
        new("P1", EventKind.Exacerbation, Condition.Copd, At.AddHours(hoursAfter), prodromeDays, 7, signal, weightProdromeDays, weightProdromeDays > 0 ? 2 : 0, false);

    [Theory]
    [InlineData(12, 4, 1, 0, OnsetKind.SignalForADay)] // prodrome started 84 h before t
    [InlineData(48, 2.5, 1, 0, OnsetKind.SignalJustStarted)] // started 12 h before t
    [InlineData(48, 1, 1, 0, OnsetKind.SignalNotYetStarted)] // starts 24 h after t
    [InlineData(48, 1, 1, 10, OnsetKind.SignalForADay)] // a heart-failure weight build-up under way for 8 days
    [InlineData(12, 4, 0, 0, OnsetKind.NoSignal)]
    public void Kind_ComingOnset_ByHowLongItsSignalHasRunAtTheScoringTime(double hoursAfter, double prodromeDays, double signal, double weightDays, OnsetKind expected)
    {
        Assert.Equal(expected, GapAnalysis.Kind(At, [Exacerbation(-200, 2), Exacerbation(hoursAfter, prodromeDays, signal, weightDays), Exacerbation(hoursAfter + 30, 10)]));
    }

    [Fact]
    public void Kind_NoOnsetWithin72Hours_RefusedAsNotAPositiveDay()
    {
        Assert.Throws<ArgumentException>(() => GapAnalysis.Kind(At, [Exacerbation(73, 4)]));
    }

    [Fact]
    public void Restricted_OneKind_ItsPositivesAgainstAllNegatives()
    {
        // Negatives 0.1 and 0.3; a "no signal" positive at 0.2 (half the negatives below it) and one with a signal at 0.9.
        double[] scores = [0.1, 0.3, 0.2, 0.9];
        bool[] labels = [false, false, true, true];
        OnsetKind?[] kinds = [null, null, OnsetKind.NoSignal, OnsetKind.SignalForADay];

        Assert.Equal(0.5, GapAnalysis.Restricted(scores, labels, kinds, OnsetKind.NoSignal));
        Assert.Equal(1, GapAnalysis.Restricted(scores, labels, kinds, OnsetKind.SignalForADay));
        Assert.True(double.IsNaN(GapAnalysis.Restricted(scores, labels, kinds, OnsetKind.SignalJustStarted)));
    }
}
