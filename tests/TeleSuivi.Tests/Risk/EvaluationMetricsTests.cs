using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Tests.Risk;

public sealed class EvaluationMetricsTests
{
    [Fact]
    public void Auroc_FourScores_ShareOfPositiveNegativePairsRankedRight() =>
        // Pairs (positive, negative): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes: 3 of 4.
        Assert.Equal(0.75, BinaryMetrics.Auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 12);

    [Fact]
    public void Auroc_TiedScores_CountHalf() =>
        // 0.5 vs 0.2 yes, 0.5 vs 0.5 tie (½), 0.9 vs both yes: 3.5 of 4.
        Assert.Equal(0.875, BinaryMetrics.Auroc([0.2, 0.5, 0.5, 0.9], [false, true, false, true]), 12);

    [Fact]
    public void Auroc_OneClassOnly_NaN() => Assert.True(double.IsNaN(BinaryMetrics.Auroc([0.1, 0.2], [false, false])));

    [Fact]
    public void Auprc_RankedList_AveragePrecisionAtEachPositive() =>
        // Positives at ranks 1 and 3: precisions 1/1 and 2/3, mean 5/6.
        Assert.Equal(5.0 / 6, BinaryMetrics.Auprc([0.9, 0.8, 0.7, 0.6], [true, false, true, false]), 12);

    [Fact]
    public void Auprc_TiedGroup_OneThreshold() =>
        // The tied pair is one threshold: precision 1/2 for its positive; the last positive at 2/3. Mean (1/2 + 2/3) / 2.
        Assert.Equal(((1.0 / 2) + (2.0 / 3)) / 2, BinaryMetrics.Auprc([0.9, 0.9, 0.1], [true, false, true]), 12);

    [Fact]
    public void Brier_ThreePredictions_MeanSquaredError() =>
        Assert.Equal((0.01 + 0.01 + 0.25) / 3, BinaryMetrics.Brier([0.1, 0.9, 0.5], [false, true, true]), 12);

    [Fact]
    public void Calibration_TwoBins_MeanPredictedAndObservedRatePerBin()
    {
        var bins = BinaryMetrics.Calibration([0.4, 0.1, 0.3, 0.2], [true, false, true, false], 2);
        Assert.Equal([new CalibrationBin(0.15, 0, 2, 0), new CalibrationBin(0.35, 1, 2, 2)], bins.Select(b => b with { MeanPredicted = Math.Round(b.MeanPredicted, 12) }));
    }

    private static readonly CohortParameters Span = CohortParameters.Default with { Days = 20 };

    private static List<PatientDay> Days(int patients) =>
        [.. Enumerable.Range(0, patients).SelectMany(p => Enumerable.Range(0, Span.Days).Select(d =>
            new PatientDay($"P{p}", p, d, FeatureExtractor.ScoringTime(Span, d), new float[FeatureSchema.Count], Label: false)))];

    private static CohortEvent Exacerbation(string patient, DateTimeOffset onset) =>
        new(patient, EventKind.Exacerbation, Condition.Copd, onset, 2, 7, 1, 0, 0, false);

    [Fact]
    public void At_OneAlertTwoDaysBeforeOnset_EventAlertedWithItsLeadTime()
    {
        var days = Days(2);
        var onset = FeatureExtractor.ScoringTime(Span, 10).AddHours(12);
        var scores = days.Select(d => d.PatientId == "P0" && d.Day == 9 ? 1.0 : 0.0).ToList();
        var point = OperatingPoints.At(1.0 / days.Count, days, scores, [Exacerbation("P0", onset)]);
        Assert.Equal(1, point.Alerts);
        Assert.Equal(1, point.EventsAlerted);
        Assert.Equal(1, point.Events);
        Assert.Equal(36, point.MedianLeadHours, 9);
    }

    [Fact]
    public void At_AlertLessThanOneDayBeforeOnset_NotCountedAsAhead()
    {
        var days = Days(1);
        var onset = FeatureExtractor.ScoringTime(Span, 10).AddHours(12);
        var scores = days.Select(d => d.Day == 10 ? 1.0 : 0.0).ToList();
        var point = OperatingPoints.At(1.0 / days.Count, days, scores, [Exacerbation("P0", onset)]);
        Assert.Equal(0, point.EventsAlerted);
        Assert.True(double.IsNaN(point.MedianLeadHours));
    }

    [Fact]
    public void At_OnsetBeforeAFullWindow_NotJudged()
    {
        var days = Days(1);
        var point = OperatingPoints.At(0.1, days, new double[days.Count], [Exacerbation("P0", FeatureExtractor.ScoringTime(Span, 3))]);
        Assert.Equal(0, point.Events);
    }

    [Fact]
    public void At_AllScoresTied_BudgetFilledExactlyAndSameDaysEveryTime()
    {
        var days = Days(10);
        var scores = new double[days.Count];
        var first = OperatingPoints.At(0.05, days, scores, []);
        Assert.Equal(10, first.Alerts);
        Assert.Equal(0.05, first.AlertsPerPatientDay, 12);
        Assert.Equal(first, OperatingPoints.At(0.05, days, scores, []));
    }
}
