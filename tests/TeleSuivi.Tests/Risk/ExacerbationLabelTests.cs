using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Labels;

namespace TeleSuivi.Tests.Risk;

public sealed class ExacerbationLabelTests
{
    private static readonly DateTimeOffset T = new(2025, 2, 10, 23, 0, 0, TimeSpan.Zero);

    private static CohortEvent Event(DateTimeOffset onset, double durationDays = 7, EventKind kind = EventKind.Exacerbation) =>
        new("P000001", kind, Condition.Copd, onset, 3, durationDays, 1, 0, 0, false);

    [Fact]
    public void At_NoEvents_Negative() => Assert.Equal(LabelValue.Negative, ExacerbationLabel.At(T, []));

    [Theory]
    [InlineData(1, LabelValue.Positive)]          // 1 tick after t
    [InlineData(36 * 3600_0000000L, LabelValue.Positive)]
    [InlineData(72 * 3600_0000000L, LabelValue.Positive)]     // exactly 72 h later: inside
    [InlineData((72 * 3600_0000000L) + 1, LabelValue.Negative)] // one tick beyond the horizon
    [InlineData(0, LabelValue.Excluded)]          // onset exactly at t: already ongoing
    public void At_OnsetRelativeToScoringTime_Boundaries(long ticksAfter, LabelValue expected) =>
        Assert.Equal(expected, ExacerbationLabel.At(T, [Event(T.AddTicks(ticksAfter))]));

    [Fact]
    public void At_DuringExacerbation_Excluded() => Assert.Equal(LabelValue.Excluded, ExacerbationLabel.At(T, [Event(T.AddDays(-2))]));

    [Fact]
    public void At_RecoveryWindowAfterEnd_ExcludedUntilSevenDays()
    {
        var e = Event(T.AddDays(-10), durationDays: 5); // ended 5 days before t
        Assert.Equal(LabelValue.Excluded, ExacerbationLabel.At(T, [e]));
        Assert.Equal(LabelValue.Excluded, ExacerbationLabel.At(e.End + ExacerbationLabel.RecoveryExclusion - TimeSpan.FromTicks(1), [e]));
        Assert.Equal(LabelValue.Negative, ExacerbationLabel.At(e.End + ExacerbationLabel.RecoveryExclusion, [e]));
    }

    [Fact]
    public void At_NewOnsetDuringOngoingOrRecovery_ExcludedNotPositive()
    {
        var first = Event(T.AddDays(-6), durationDays: 7);
        var relapse = Event(T.AddDays(1));
        Assert.Equal(LabelValue.Excluded, ExacerbationLabel.At(T, [relapse, first]));
    }

    [Fact]
    public void At_Flare_NeverPositiveNorExcluded()
    {
        Assert.Equal(LabelValue.Negative, ExacerbationLabel.At(T, [Event(T.AddDays(1), kind: EventKind.Flare)]));
        Assert.Equal(LabelValue.Negative, ExacerbationLabel.At(T, [Event(T.AddDays(-1), kind: EventKind.Flare)]));
    }

    [Fact]
    public void At_PastRecoveryThenUpcomingOnset_Positive()
    {
        var old = Event(T.AddDays(-40));
        Assert.Equal(LabelValue.Positive, ExacerbationLabel.At(T, [old, Event(T.AddDays(2))]));
    }

    [Fact]
    public void Daily_CohortPatient_ThreePositiveDaysBeforeEachIsolatedOnset()
    {
        var parameters = CohortParameters.Default with { Patients = 200, Days = 200 };
        var cohort = SyntheticCohort.Generate(parameters, 17);
        var checkedEvents = 0;
        foreach (var patient in cohort.Patients)
        {
            var labels = ExacerbationLabel.Daily(parameters, patient.Events).ToList();
            Assert.Equal(parameters.Days, labels.Count);
            foreach (var e in patient.Events.Where(e => e.Kind == EventKind.Exacerbation && e.Onset > parameters.StartTime.AddDays(60) && e.Onset < parameters.StartTime.AddDays(190)))
            {
                if (patient.Events.Any(o => o != e && o.Kind == EventKind.Exacerbation && Math.Abs((o.Onset - e.Onset).TotalDays) < 40))
                {
                    continue;
                }

                var positives = labels.Where(l => l.Label == LabelValue.Positive && l.At < e.Onset && l.At >= e.Onset - ExacerbationLabel.Horizon).ToList();
                Assert.Equal(3, positives.Count); // daily scoring times: exactly three fall in the 72 h before an onset
                Assert.Equal(LabelValue.Excluded, labels.First(l => l.At >= e.Onset).Label);
                checkedEvents++;
            }
        }

        Assert.True(checkedEvents > 10);
    }
}
