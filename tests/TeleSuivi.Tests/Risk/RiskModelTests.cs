using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Tests.Risk;

/// <summary>One small model trained once for the tests of this class (a few seconds), and its held-out cohort.</summary>
public sealed class SmallRiskModel : IDisposable
{
    public static readonly TrainingOptions Options = new()
    {
        Patients = 160, Days = 120, Seed = 3, Trees = 40, Leaves = 8, MinimumExamplesPerLeaf = 20, LearningRate = 0.1,
    };

    public SmallRiskModel()
    {
        Model = RiskModelTrainer.Train(Options);
        Scorer = new RiskScorer(Model);
        HeldOut = PatientDays.From(SyntheticCohort.Generate(HeldOutCohort.Parameters(120, 120), 77));
    }

    public TrainedModel Model { get; }

    public RiskScorer Scorer { get; }

    public PatientDays HeldOut { get; }

    public void Dispose() => Scorer.Dispose();
}

public sealed class RiskModelTests(SmallRiskModel small) : IClassFixture<SmallRiskModel>, IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-model-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Train_SmallCohort_BeatsNews2OnAShiftedHeldOutCohort()
    {
        var days = small.HeldOut.Days;
        var labels = days.Select(d => d.Label).ToList();
        Assert.True(labels.Count(l => l) >= 30, $"only {labels.Count(l => l)} positive days: the test would prove little");

        var model = BinaryMetrics.Auroc(small.Scorer.Probabilities(days.Select(d => d.Features)), labels);
        var news2 = BinaryMetrics.Auroc(days.Select(d => (double)BaselineScores.News2Total(d.Features)).ToList(), labels);

        Assert.True(model > news2 + 0.05, $"model AUROC {model:F3}, NEWS2 {news2:F3}");
    }

    [Fact]
    public void Train_Calibration_FittedOnOtherPatientsThanTraining()
    {
        var info = small.Model.Info;
        Assert.True(info.CalibrationRows > 0 && info.TrainingRows > 0);
        Assert.InRange((double)info.CalibrationRows / (info.CalibrationRows + info.TrainingRows), 0.1, 0.3);
        Assert.True(info.CalibrationSlope < 0, "a higher tree score must mean a higher probability");
    }

    [Fact]
    public void SaveLoad_RoundTrip_SameProbabilityAndReasons()
    {
        var path = Path.Combine(directory, "model.zip");
        small.Model.Save(path);
        using var loaded = RiskScorer.Load(path);

        Assert.Equal(small.Model.Info.FeatureNames, loaded.Info.FeatureNames);
        Assert.Equal(SmallRiskModel.Options, loaded.Info.Training);
        foreach (var day in small.HeldOut.Days.Where(d => d.Label).Take(20))
        {
            var before = small.Scorer.Score(day.Features);
            var after = loaded.Score(day.Features);
            Assert.Equal(before.Probability, after.Probability, 6);
            Assert.Equal(before.Reasons.Select(r => r.Sentence), after.Reasons.Select(r => r.Sentence));
        }
    }

    [Fact]
    public void Train_LightGbm_BeatsNews2AndRoundTripsWithReasons()
    {
        var options = SmallRiskModel.Options with { Learner = Learner.LightGbm };
        var model = RiskModelTrainer.Train(options, cancellationToken: TestContext.Current.CancellationToken);
        var path = Path.Combine(directory, "lightgbm.zip");
        model.Save(path);
        using var loaded = RiskScorer.Load(path);
        var days = small.HeldOut.Days;
        var labels = days.Select(d => d.Label).ToList();

        var auroc = BinaryMetrics.Auroc(loaded.Probabilities(days.Select(d => d.Features)), labels);
        var news2 = BinaryMetrics.Auroc(days.Select(d => (double)BaselineScores.News2Total(d.Features)).ToList(), labels);

        Assert.Equal(Learner.LightGbm, loaded.Info.Training.Learner);
        Assert.True(auroc > news2 + 0.05, $"LightGBM AUROC {auroc:F3}, NEWS2 {news2:F3}");
        var positive = days.First(d => d.Label);
        using var inMemory = new RiskScorer(model);
        Assert.Equal(inMemory.Score(positive.Features).Probability, loaded.Score(positive.Features).Probability, 6);
        Assert.NotEmpty(loaded.Score(positive.Features).Reasons);
    }

    [Fact]
    public void Score_PositiveDay_ProbabilityAndSentences()
    {
        var probabilities = small.Scorer.Probabilities(small.HeldOut.Days.Select(d => d.Features));
        var highest = small.HeldOut.Days[Enumerable.Range(0, probabilities.Count).MaxBy(i => probabilities[i])];
        var score = small.Scorer.Score(highest.Features);
        Assert.InRange(score.Probability, 0, 1);
        Assert.NotEmpty(score.Reasons);
        Assert.All(score.Reasons, r => Assert.True(r.Contribution > 0 && r.Sentence.Length > 10, r.Sentence));
    }

    [Fact]
    public void Score_ManyThreadsAtOnce_SameAsOneAtATime()
    {
        var days = small.HeldOut.Days.Take(400).ToList();
        var sequential = days.Select(d => small.Scorer.Score(d.Features).Probability).ToList();
        var parallel = new double[days.Count];
        Parallel.For(0, days.Count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = small.Scorer.Score(days[i].Features).Probability);
        Assert.Equal(sequential, parallel);
    }

    [Fact]
    public void Train_SameOptionsTwice_SameScores()
    {
        var options = SmallRiskModel.Options with { Patients = 60, Days = 60, Trees = 10 };
        using var first = new RiskScorer(RiskModelTrainer.Train(options, cancellationToken: TestContext.Current.CancellationToken));
        using var second = new RiskScorer(RiskModelTrainer.Train(options, cancellationToken: TestContext.Current.CancellationToken));
        var days = small.HeldOut.Days.Take(500).Select(d => d.Features).ToList();
        Assert.Equal(first.Probabilities(days), second.Probabilities(days));
    }

    [Fact]
    public void Load_NotAModelFile_ClearError()
    {
        var path = Path.Combine(directory, "not-a-model.zip");
        File.WriteAllText(path, "hello");
        var error = Assert.Throws<InvalidDataException>(() => RiskScorer.Load(path));
        Assert.Contains("is not a TeleSuivi risk model", error.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => RiskScorer.Load(Path.Combine(directory, "missing.zip")));
    }
}
