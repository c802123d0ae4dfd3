using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.DeadLetters;

namespace TeleSuivi.Tests.Alerts;

public sealed class DeviceAndGapMonitorTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 15, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void OnRejected_ClockDeadLetter_RaisesClockAlertThatTheNextAcceptedReadingEnds()
    {
        var monitor = new DeviceFaultMonitor(new AlertOptions());

        var raise = Assert.IsType<AlertSignal.Raise>(Assert.Single(monitor.OnRejected("p1", "ox-1", RejectionCodes.Clock, "dated 3 h in the future", "datée 3 h dans le futur", Start)));
        Assert.Equal(new AlertKey("p1", AlertKinds.DeviceClock, "ox-1"), raise.Key);
        Assert.Contains("3 h in the future", raise.Draft.Reason.En, StringComparison.Ordinal);
        Assert.Contains("datée 3 h dans le futur", raise.Draft.Reason.Fr, StringComparison.Ordinal);
        var evidence = Assert.Single(raise.Draft.Evidence);
        Assert.Equal(("dated 3 h in the future", "datée 3 h dans le futur"), (evidence.Detail, evidence.DetailFr));

        Assert.Contains(monitor.OnAccepted("p1", "ox-1", Start.AddMinutes(5), batteryLow: false, Start.AddMinutes(5)), s => s is AlertSignal.Ended && s.Key == raise.Key);
    }

    [Fact]
    public void OnRejected_ClockDeadLetterWithoutFrenchReason_FrenchSentenceQuotesTheEnglishOne()
    {
        var monitor = new DeviceFaultMonitor(new AlertOptions());

        var raise = Assert.IsType<AlertSignal.Raise>(Assert.Single(monitor.OnRejected("p1", "ox-1", RejectionCodes.Clock, "dated 3 h in the future", null, Start)));

        Assert.Contains("(dated 3 h in the future)", raise.Draft.Reason.Fr, StringComparison.Ordinal);
    }

    [Fact]
    public void OnRejected_ThirdInvalidReadingWithinWindow_RaisesAndThreeValidOnesEnd()
    {
        var monitor = new DeviceFaultMonitor(new AlertOptions());
        Assert.Empty(monitor.OnRejected("p1", "bp-1", RejectionCodes.Implausible, "systolic 400", "systolique 400", Start));
        Assert.Empty(monitor.OnRejected("p1", "bp-1", RejectionCodes.Unparseable, "invalid JSON", null, Start.AddHours(1)));

        var raise = Assert.IsType<AlertSignal.Raise>(Assert.Single(monitor.OnRejected("p1", "bp-1", RejectionCodes.Implausible, "systolic 0", "systolique 0", Start.AddHours(2))));
        Assert.Equal(
            [("systolic 400", "systolique 400"), ("invalid JSON", null), ("systolic 0", "systolique 0")],
            raise.Draft.Evidence.Select(e => (e.Detail, e.DetailFr)));

        var key = new AlertKey("p1", AlertKinds.DeviceInvalid, "bp-1");
        Assert.DoesNotContain(monitor.OnAccepted("p1", "bp-1", Start.AddHours(3), false, Start.AddHours(3)), s => s.Key == key);
        Assert.DoesNotContain(monitor.OnAccepted("p1", "bp-1", Start.AddHours(4), false, Start.AddHours(4)), s => s.Key == key);
        Assert.Contains(monitor.OnAccepted("p1", "bp-1", Start.AddHours(5), false, Start.AddHours(5)), s => s.Key == key && s is AlertSignal.Ended);
    }

    [Fact]
    public void OnRejected_InvalidReadingsSpreadBeyondWindow_RaiseNothing()
    {
        var monitor = new DeviceFaultMonitor(new AlertOptions());
        foreach (var day in new[] { 0, 2, 4 })
        {
            Assert.Empty(monitor.OnRejected("p1", "bp-1", RejectionCodes.Implausible, "systolic 400", null, Start.AddDays(day)));
        }
    }

    [Fact]
    public void OnAccepted_BatteryLowStatus_RaisesInfoAlert()
    {
        var monitor = new DeviceFaultMonitor(new AlertOptions());

        var raise = monitor.OnAccepted("p1", "glu-1", Start, batteryLow: true, Start).OfType<AlertSignal.Raise>().Single();

        Assert.Equal(AlertKinds.DeviceBattery, raise.Key.Kind);
        Assert.Equal(AlertSeverity.Info, raise.Draft.Severity);
    }

    [Fact]
    public void Sweep_NoReadingForThePlanInterval_RaisesMissingData()
    {
        var options = new AlertOptions { ExpectedIntervalByDeviceKind = new(StringComparer.OrdinalIgnoreCase) { ["PulseOximeter"] = TimeSpan.FromHours(12) } };
        var monitor = new DataGapMonitor(options);
        var assigned = new Dictionary<string, List<AssignedDevice>> { ["p1"] = [new("ox-1", "PulseOximeter"), new("scale-1", "Scale")] };
        _ = monitor.OnReading("p1", "ox-1", Start).ToList();

        Assert.Empty(monitor.Sweep(assigned, Start.AddHours(11)));
        var signals = monitor.Sweep(assigned, Start.AddHours(12)).ToList();

        var missing = Assert.Single(signals, s => s.Key.Kind == AlertKinds.MissingData);
        Assert.Contains("12 h", ((AlertSignal.Raise)missing).Draft.Reason.En, StringComparison.Ordinal);
        Assert.Contains(monitor.OnReading("p1", "ox-1", Start.AddHours(13)), s => s is AlertSignal.Ended && s.Key == missing.Key);
    }

    [Fact]
    public void Sweep_DeviceThatNeverSent_IsSilentAfterItsThreshold()
    {
        var monitor = new DataGapMonitor(new AlertOptions());
        var assigned = new Dictionary<string, List<AssignedDevice>> { ["p1"] = [new("scale-1", "Scale")] };

        Assert.Empty(monitor.Sweep(assigned, Start));
        Assert.DoesNotContain(monitor.Sweep(assigned, Start.AddHours(47)), s => s.Key.Kind == AlertKinds.DeviceSilent);

        Assert.Contains(monitor.Sweep(assigned, Start.AddHours(48)), s => s.Key == new AlertKey("p1", AlertKinds.DeviceSilent, "scale-1"));
    }

    [Fact]
    public void Sweep_BacklogOfHistoryStillArriving_RaisesNoGapUntilItStopsThenTheRealOne()
    {
        // Two days of history replayed in two minutes, as demo's simulator or a gateway back online does: every
        // reading is a day or more behind the wall clock when it arrives, and the next one fills the gap.
        var monitor = new DataGapMonitor(new AlertOptions());
        var assigned = new Dictionary<string, List<AssignedDevice>> { ["p1"] = [new("scale-1", "Scale")] };
        var wall = Start;
        for (var hoursAgo = 50; hoursAgo >= 30; hoursAgo -= 4)
        {
            _ = monitor.OnReading("p1", "scale-1", Start.AddHours(-hoursAgo), arrivedAt: wall).ToList();
            Assert.Empty(monitor.Sweep(assigned, wall.AddSeconds(20)));
            wall = wall.AddSeconds(30);
        }

        // The backlog stops 30 h behind (the device was then really silent): the gap is raised once it stood still.
        var quiet = new AlertOptions().BacklogQuietPeriod;
        Assert.Empty(monitor.Sweep(assigned, wall - TimeSpan.FromSeconds(30) + quiet - TimeSpan.FromSeconds(1)));
        var signals = monitor.Sweep(assigned, wall - TimeSpan.FromSeconds(30) + quiet).ToList();
        var missing = Assert.IsType<AlertSignal.Raise>(Assert.Single(signals, s => s.Key.Kind == AlertKinds.MissingData));
        Assert.Equal(Start.AddHours(-30), missing.Draft.Evidence.Single().Time);
    }

    [Fact]
    public void Sweep_DeviceBacklogStillArriving_IsNotSilentUntilItStops()
    {
        var monitor = new DataGapMonitor(new AlertOptions());
        var assigned = new Dictionary<string, List<AssignedDevice>> { ["p1"] = [new("ox-1", "PulseOximeter"), new("scale-1", "Scale")] };
        _ = monitor.OnReading("p1", "ox-1", Start, arrivedAt: Start).ToList();
        _ = monitor.OnReading("p1", "scale-1", Start.AddHours(-60), arrivedAt: Start).ToList();
        var silent = new AlertKey("p1", AlertKinds.DeviceSilent, "scale-1");

        Assert.DoesNotContain(monitor.Sweep(assigned, Start.AddMinutes(1)), s => s.Key == silent);
        Assert.Contains(monitor.Sweep(assigned, Start + new AlertOptions().BacklogQuietPeriod), s => s.Key == silent);
    }

    [Fact]
    public void Sweep_ReadingsSentOnTimeThenSilence_RaisesMissingDataWithoutWaitingForABacklog()
    {
        var options = new AlertOptions { ExpectedIntervalByDeviceKind = new(StringComparer.OrdinalIgnoreCase) { ["PulseOximeter"] = TimeSpan.FromSeconds(6) } };
        var monitor = new DataGapMonitor(options);
        var assigned = new Dictionary<string, List<AssignedDevice>> { ["p1"] = [new("ox-1", "PulseOximeter")] };
        _ = monitor.OnReading("p1", "ox-1", Start, arrivedAt: Start.AddMilliseconds(200)).ToList();

        Assert.Contains(monitor.Sweep(assigned, Start.AddSeconds(6)), s => s.Key.Kind == AlertKinds.MissingData);
    }

    [Fact]
    public void Sweep_LateReadingReadBackFromTheStore_IsJudgedAtOnce()
    {
        // At start, or when another worker's readings confirm a gap, the readings come from the store: their arrival
        // is unknown and they are no backlog in flight.
        var monitor = new DataGapMonitor(new AlertOptions());
        var assigned = new Dictionary<string, List<AssignedDevice>> { ["p1"] = [new("scale-1", "Scale")] };
        _ = monitor.OnReading("p1", "scale-1", Start.AddHours(-70), arrivedAt: Start).ToList();
        _ = monitor.OnReading("p1", "scale-1", Start.AddHours(-30)).ToList();

        Assert.Contains(monitor.Sweep(assigned, Start.AddMinutes(1)), s => s.Key.Kind == AlertKinds.MissingData);
    }
}
