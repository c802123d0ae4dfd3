using TeleSuivi.Risk.Scores;

namespace TeleSuivi.Tests.Risk;

/// <summary>NEWS2 against every band boundary of the RCP 2017 chart (both sides of each boundary).</summary>
public sealed class News2Tests
{
    [Theory]
    [InlineData(0, 3), InlineData(8, 3), InlineData(9, 1), InlineData(11, 1), InlineData(12, 0), InlineData(20, 0),
     InlineData(21, 2), InlineData(24, 2), InlineData(25, 3), InlineData(60, 3)]
    public void RespirationRate_BandBoundary_PublishedScore(double rate, int expected) => Assert.Equal(expected, News2.RespirationRate(rate));

    [Theory]
    [InlineData(70, 3), InlineData(91, 3), InlineData(92, 2), InlineData(93, 2), InlineData(94, 1), InlineData(95, 1), InlineData(96, 0), InlineData(100, 0)]
    public void Saturation_Scale1BandBoundary_PublishedScoreOnAirOrOxygen(double spo2, int expected)
    {
        Assert.Equal(expected, News2.Saturation(spo2, SpO2Scale.Scale1, onOxygen: false));
        Assert.Equal(expected, News2.Saturation(spo2, SpO2Scale.Scale1, onOxygen: true));
    }

    [Theory]
    [InlineData(70, false, 3), InlineData(83, false, 3), InlineData(84, false, 2), InlineData(85, false, 2), InlineData(86, false, 1),
     InlineData(87, false, 1), InlineData(88, false, 0), InlineData(92, false, 0), InlineData(93, false, 0), InlineData(100, false, 0),
     InlineData(83, true, 3), InlineData(84, true, 2), InlineData(86, true, 1), InlineData(88, true, 0), InlineData(92, true, 0),
     InlineData(93, true, 1), InlineData(94, true, 1), InlineData(95, true, 2), InlineData(96, true, 2), InlineData(97, true, 3), InlineData(100, true, 3)]
    public void Saturation_Scale2BandBoundary_PublishedScore(double spo2, bool onOxygen, int expected) =>
        Assert.Equal(expected, News2.Saturation(spo2, SpO2Scale.Scale2, onOxygen));

    [Theory]
    [InlineData(60, 3), InlineData(90, 3), InlineData(91, 2), InlineData(100, 2), InlineData(101, 1), InlineData(110, 1),
     InlineData(111, 0), InlineData(219, 0), InlineData(220, 3), InlineData(250, 3)]
    public void SystolicPressure_BandBoundary_PublishedScore(double sbp, int expected) => Assert.Equal(expected, News2.SystolicPressure(sbp));

    [Theory]
    [InlineData(30, 3), InlineData(40, 3), InlineData(41, 1), InlineData(50, 1), InlineData(51, 0), InlineData(90, 0), InlineData(91, 1),
     InlineData(110, 1), InlineData(111, 2), InlineData(130, 2), InlineData(131, 3), InlineData(180, 3)]
    public void Pulse_BandBoundary_PublishedScore(double pulse, int expected) => Assert.Equal(expected, News2.Pulse(pulse));

    [Theory]
    [InlineData(33.0, 3), InlineData(35.0, 3), InlineData(35.1, 1), InlineData(36.0, 1), InlineData(36.1, 0), InlineData(38.0, 0),
     InlineData(38.1, 1), InlineData(39.0, 1), InlineData(39.1, 2), InlineData(41.0, 2)]
    public void Temperature_BandBoundary_PublishedScore(double celsius, int expected) => Assert.Equal(expected, News2.Temperature(celsius));

    [Theory]
    [InlineData(Consciousness.Alert, 0), InlineData(Consciousness.NewConfusion, 3), InlineData(Consciousness.Voice, 3),
     InlineData(Consciousness.Pain, 3), InlineData(Consciousness.Unresponsive, 3)]
    public void Level_Acvpu_PublishedScore(Consciousness level, int expected) => Assert.Equal(expected, News2.Level(level));

    [Theory]
    [InlineData(90.4, 0), InlineData(90.5, 1), InlineData(20.4, 0), InlineData(20.5, 2)]
    public void Pulse_OrRate_NonIntegerRoundedHalfAwayFromZeroBeforeBanding(double value, int expected) =>
        Assert.Equal(expected, value > 50 ? News2.Pulse(value) : News2.RespirationRate(value));

    [Fact]
    public void Temperature_BetweenChartedTenths_RoundedToTenth()
    {
        Assert.Equal(3, News2.Temperature(35.04));
        Assert.Equal(1, News2.Temperature(35.05));
        Assert.Equal(0, News2.Temperature(38.04));
        Assert.Equal(1, News2.Temperature(38.05));
    }

    [Fact]
    public void Score_AirOrOxygen_OxygenScoresTwo()
    {
        Assert.Equal(2, News2.Score(new News2Input(OnOxygen: true)).AirOrOxygen);
        Assert.Equal(0, News2.Score(new News2Input(OnOxygen: false)).AirOrOxygen);
    }

    [Fact]
    public void Score_AllNormal_ZeroLowNothingMissing()
    {
        var result = News2.Score(new News2Input(16, 97, false, 125, 72, Consciousness.Alert, 36.8));
        Assert.Equal(0, result.Total);
        Assert.Equal(News2Risk.Low, result.Risk);
        Assert.Empty(result.Missing);
    }

    [Fact]
    public void Score_SingleRedParameter_LowMedium()
    {
        var result = News2.Score(new News2Input(16, 97, false, 125, 72, Consciousness.NewConfusion, 36.8));
        Assert.Equal(3, result.Total);
        Assert.Equal(News2Risk.LowMedium, result.Risk);
    }

    [Theory]
    [InlineData(4, News2Risk.Low), InlineData(5, News2Risk.Medium), InlineData(6, News2Risk.Medium), InlineData(7, News2Risk.High)]
    public void Score_AggregateThresholds_RiskBand(int target, News2Risk expected)
    {
        // Built from 1- and 2-point parameters only, so no single parameter scores 3.
        var input = target switch
        {
            4 => new News2Input(22, 94, false, 125, 95, Consciousness.Alert, 36.8),   // 2 + 1 + 1
            5 => new News2Input(22, 94, false, 105, 95, Consciousness.Alert, 36.8),   // 2 + 1 + 1 + 1
            6 => new News2Input(22, 92, false, 105, 95, Consciousness.Alert, 36.8),   // 2 + 2 + 1 + 1
            _ => new News2Input(22, 92, false, 105, 95, Consciousness.Alert, 38.5),   // 2 + 2 + 1 + 1 + 1
        };
        var result = News2.Score(input);
        Assert.Equal(target, result.Total);
        Assert.Equal(expected, result.Risk);
    }

    [Fact]
    public void Score_MissingParameters_ScoreZeroAndListed()
    {
        var result = News2.Score(new News2Input(SpO2: 91, Pulse: 112));
        Assert.Equal(5, result.Total);
        Assert.Null(result.RespiratoryRate);
        Assert.Equal(["respiration rate", "air or oxygen", "systolic blood pressure", "consciousness", "temperature"], result.Missing);
    }

    [Fact]
    public void Score_Scale2HypercapnicOnOxygen_HighSaturationScores()
    {
        var result = News2.Score(new News2Input(SpO2: 97, OnOxygen: true, Scale: SpO2Scale.Scale2));
        Assert.Equal(3, result.SpO2);
        Assert.Equal(5, result.Total);
    }
}

public sealed class ThresholdRulesTests
{
    [Theory]
    [InlineData(89.9, true), InlineData(90, false)]
    public void Evaluate_SpO2_FiresBelow90(double spo2, bool fires) =>
        Assert.Equal(fires, ThresholdRules.Evaluate(new ThresholdInput(SpO2: spo2)).Any(r => r.Id == "spo2-below-90"));

    [Theory]
    [InlineData(2.0, false), InlineData(2.1, true), InlineData(-3, false)]
    public void Evaluate_WeightGain_FiresAboveTwoKilograms(double change, bool fires) =>
        Assert.Equal(fires, ThresholdRules.Evaluate(new ThresholdInput(WeightChange3DaysKg: change)).Any(r => r.Id == "weight-gain-2kg-3d"));

    [Theory]
    [InlineData(110, false), InlineData(111, true)]
    public void Evaluate_HeartRate_FiresAbove110(double hr, bool fires) =>
        Assert.Equal(fires, ThresholdRules.Evaluate(new ThresholdInput(HeartRate: hr)).Any(r => r.Id == "heart-rate-above-110"));

    [Fact]
    public void Evaluate_BoundaryOfEveryOtherRule_FiresOnlyPastIt()
    {
        Assert.Empty(ThresholdRules.Evaluate(new ThresholdInput(96, 80, 24, 91, 37.9, 0, 3.0)));
        var fired = ThresholdRules.Evaluate(new ThresholdInput(96, 80, 25, 90, 38.0, 0, 2.9)).Select(r => r.Id);
        Assert.Equal(["respiratory-rate-25", "systolic-90-or-less", "temperature-38", "glucose-below-3"], fired);
        Assert.Single(ThresholdRules.Evaluate(new ThresholdInput(GlucoseMmolL: 16.8)));
        Assert.Empty(ThresholdRules.Evaluate(new ThresholdInput(GlucoseMmolL: 16.7)));
    }

    [Fact]
    public void Evaluate_NothingKnown_NothingFires() => Assert.Empty(ThresholdRules.Evaluate(new ThresholdInput()));

    [Fact]
    public void All_EveryRule_HasIdDescriptionAndSource() =>
        Assert.All(ThresholdRules.All, r => Assert.False(string.IsNullOrWhiteSpace(r.Id + r.Description) || r.Source.Length < 20));
}
