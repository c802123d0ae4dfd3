using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Alerts;

public sealed class VitalLimitMonitorTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);
    private readonly VitalLimitMonitor monitor = new(new AlertOptions());

    private AlertSignal? Read(VitalSign vital, double value, DateTimeOffset time, VitalLimits? limits = null, string patient = "p1") =>
        monitor.Evaluate(new VitalReading(patient, vital, value, time, $"obs-{time.ToUnixTimeSeconds()}"), limits ?? VitalSigns.DefaultsFor(vital, []), Now);

    [Fact]
    public void Evaluate_CriticalSpO2_RaisesAtOnceWithEvidence()
    {
        var signal = Assert.IsType<AlertSignal.Raise>(Read(VitalSigns.SpO2, 84, Now.AddMinutes(-1)));

        Assert.Equal(AlertSeverity.Critical, signal.Draft.Severity);
        Assert.Equal(new AlertKey("p1", AlertKinds.VitalLimit, "spo2"), signal.Key);
        Assert.Contains("84 %", signal.Draft.Reason.En, StringComparison.Ordinal);
        Assert.Contains("88 %", signal.Draft.Reason.En, StringComparison.Ordinal);
        var evidence = Assert.Single(signal.Draft.Evidence);
        Assert.Equal(84, evidence.Value);
        Assert.NotNull(evidence.ObservationId);
    }

    [Fact]
    public void Evaluate_WarningSpO2_NeedsTwoReadingsInARow()
    {
        Assert.Null(Read(VitalSigns.SpO2, 90, Now.AddMinutes(-20)));

        var signal = Assert.IsType<AlertSignal.Raise>(Read(VitalSigns.SpO2, 91, Now.AddMinutes(-10)));
        Assert.Equal(AlertSeverity.Warning, signal.Draft.Severity);
        Assert.Equal(2, signal.Draft.Evidence.Count);
    }

    [Fact]
    public void Evaluate_ReadingBetweenTwoLowOnes_RestartsTheDebounce()
    {
        Read(VitalSigns.SpO2, 90, Now.AddMinutes(-30));
        Assert.IsType<AlertSignal.Ended>(Read(VitalSigns.SpO2, 96, Now.AddMinutes(-20)));

        Assert.Null(Read(VitalSigns.SpO2, 90, Now.AddMinutes(-10)));
    }

    [Fact]
    public void Evaluate_RedeliveredReading_IsNotCountedTwice()
    {
        var time = Now.AddMinutes(-5);
        Assert.Null(Read(VitalSigns.SpO2, 90, time));

        Assert.Null(Read(VitalSigns.SpO2, 90, time));
    }

    [Fact]
    public void Evaluate_HeartRateWarning_MustLastTenMinutes()
    {
        Assert.Null(Read(VitalSigns.HeartRate, 118, Now.AddMinutes(-8)));
        Assert.Null(Read(VitalSigns.HeartRate, 119, Now.AddMinutes(-4)));
        Assert.Null(Read(VitalSigns.HeartRate, 117, Now.AddMinutes(-1)));

        Assert.IsType<AlertSignal.Raise>(Read(VitalSigns.HeartRate, 116, Now.AddMinutes(2)));
    }

    [Fact]
    public void DefaultsFor_CopdPatient_AcceptsSpO2Of89ThatWarnsOthers()
    {
        var copd = VitalSigns.DefaultsFor(VitalSigns.SpO2, [Condition.Copd]);
        var general = VitalSigns.DefaultsFor(VitalSigns.SpO2, []);

        Assert.Null(copd.Classify(89).Severity);
        Assert.Equal(AlertSeverity.Warning, general.Classify(89).Severity);
        Assert.Equal(AlertSeverity.Critical, copd.Classify(84).Severity);
    }

    [Fact]
    public void Evaluate_PhysicianLimitsForUsualSpO2Of88_DoNotAlertAt88()
    {
        var personal = new VitalLimits(82, 85, null, null);

        Assert.IsType<AlertSignal.Ended>(Read(VitalSigns.SpO2, 88, Now.AddMinutes(-2), personal));
        Assert.IsType<AlertSignal.Raise>(Read(VitalSigns.SpO2, 81, Now.AddMinutes(-1), personal));
    }

    [Fact]
    public void Evaluate_ReadingOlderThanMaxAge_RaisesNothing()
    {
        Assert.Null(Read(VitalSigns.SpO2, 80, Now.AddDays(-2)));
    }

    [Fact]
    public void Evaluate_HeartFailureWeightGainOf2Point4KgIn3Days_RaisesWithBothWeights()
    {
        var limits = VitalSigns.DefaultsFor(VitalSigns.WeightGain, [Condition.HeartFailure]);
        Assert.Null(Read(VitalSigns.WeightGain, 80.0, Now.AddHours(-73), limits));
        Assert.Null(Read(VitalSigns.WeightGain, 81.0, Now.AddHours(-48), limits));

        var signal = Assert.IsType<AlertSignal.Raise>(Read(VitalSigns.WeightGain, 82.4, Now.AddHours(-1), limits));

        Assert.Equal(VitalSigns.WeightGainId, signal.Key.Subject);
        Assert.Equal([80.0, 82.4], signal.Draft.Evidence.Select(e => e.Value!.Value));
        Assert.Contains("2.4 kg", signal.Draft.Reason.En, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_WeightGainWithoutHeartFailure_RaisesNothing()
    {
        var limits = VitalSigns.DefaultsFor(VitalSigns.WeightGain, [Condition.Copd]);
        Read(VitalSigns.WeightGain, 80.0, Now.AddHours(-72), limits);

        Assert.Null(Read(VitalSigns.WeightGain, 85.0, Now.AddHours(-1), limits));
    }

    [Theory]
    [InlineData(90.0, 88.0, null, null, "increase")]
    [InlineData(null, null, null, null, "at least one")]
    [InlineData(double.NaN, null, null, null, "finite")]
    public void Problem_LimitsOutOfOrderOrEmpty_IsExplained(double? criticalLow, double? low, double? high, double? criticalHigh, string expected)
    {
        Assert.Contains(expected, new VitalLimits(criticalLow, low, high, criticalHigh).Problem(), StringComparison.Ordinal);
    }
}
