using TeleSuivi.Risk.Model;

namespace TeleSuivi.Tests.Risk;

public sealed class ModelSelectionTests
{
    [Fact]
    public void PairedDifference_FoldAurocs_MeanDifferenceAndItsStandardError()
    {
        var reference = new SweepResult(new TrainingOptions(), 0.7, 0.7, null, [0.70, 0.72, 0.68]);
        var candidate = new SweepResult(new TrainingOptions(), 0.7, 0.71, null, [0.71, 0.74, 0.68]);

        var (difference, standardError) = ModelSelection.PairedDifference(reference, candidate)!.Value;

        // Differences 0.01, 0.02, 0: mean 0.01, SD 0.01, standard error 0.01 / √3.
        Assert.Equal(0.01, difference, 6);
        Assert.Equal(0.01 / Math.Sqrt(3), standardError, 6);
        Assert.Null(ModelSelection.PairedDifference(reference, candidate with { HeldOutFoldAurocs = null }));
    }
}
