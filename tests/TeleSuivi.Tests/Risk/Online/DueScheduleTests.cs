using TeleSuivi.Server.Risk;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>The scorer's schedule of due patients: what its loop wakes for and takes, without scanning every patient.</summary>
public sealed class DueScheduleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TakeDue_ItemsDueAtSeveralTimes_TakesThoseDueEarliestFirstAndLeavesTheRest()
    {
        var schedule = new DueSchedule<string>();
        schedule.Set("c", T0.AddSeconds(3));
        schedule.Set("a", T0.AddSeconds(1));
        schedule.Set("later", T0.AddMinutes(5));
        schedule.Set("b", T0.AddSeconds(2));

        Assert.Equal(["a", "b", "c"], schedule.TakeDue(T0.AddSeconds(3)));
        Assert.Equal(T0.AddMinutes(5), schedule.Earliest());
        Assert.Null(schedule.Of("a"));
        Assert.Equal(1, schedule.Count);
    }

    [Fact]
    public void Set_RescheduledOrCleared_OnlyTheLatestTimeCounts()
    {
        var schedule = new DueSchedule<string>();
        schedule.Set("moved", T0.AddSeconds(1));
        schedule.Set("moved", T0.AddMinutes(1));
        schedule.Set("cleared", T0.AddSeconds(2));
        schedule.Set("cleared", null);
        schedule.Set("back", T0.AddSeconds(4));
        schedule.Set("back", T0.AddSeconds(9));
        schedule.Set("back", T0.AddSeconds(4));

        Assert.Equal(T0.AddSeconds(4), schedule.Earliest());
        Assert.Equal(["back"], schedule.TakeDue(T0.AddSeconds(30)));
        Assert.Equal(T0.AddMinutes(1), schedule.Earliest());
        Assert.Equal(["moved"], schedule.TakeDue(T0.AddMinutes(1)));
        Assert.Null(schedule.Earliest());
        Assert.Empty(schedule.TakeDue(T0.AddDays(1)));
    }

    [Fact]
    public void SetIfNone_AlreadyDue_KeepsTheEarlierTime()
    {
        var schedule = new DueSchedule<string>();
        schedule.SetIfNone("p", T0.AddSeconds(1));
        schedule.SetIfNone("p", T0.AddSeconds(60));

        Assert.Equal(T0.AddSeconds(1), schedule.Of("p"));
    }

    [Fact]
    public void Set_ManyReschedulesOfFewItems_KeepsTheQueueBounded()
    {
        var schedule = new DueSchedule<string>();
        var items = Enumerable.Range(0, 100).Select(i => $"p{i}").ToList();
        for (var round = 0; round < 1_000; round++)
        {
            foreach (var item in items)
            {
                schedule.Set(item, T0.AddSeconds(round));
            }
        }

        Assert.InRange(schedule.QueuedEntries, items.Count, 2_048);
        Assert.Equal(items.Order(StringComparer.Ordinal), schedule.TakeDue(T0.AddDays(1)).Order(StringComparer.Ordinal));
    }
}
