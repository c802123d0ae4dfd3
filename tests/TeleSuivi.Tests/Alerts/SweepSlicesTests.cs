using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Alerts;

/// <summary>The missing-data sweep cut into slices the alert engine takes between its inputs.</summary>
public sealed class SweepSlicesTests
{
    [Fact]
    public void Next_MorePatientsThanASlice_GivesEachPatientInExactlyOneSliceWithItsDevices()
    {
        var assigned = Enumerable.Range(0, 2_501).ToDictionary(
            i => $"patient-{i}",
            i => new List<AssignedDevice> { new($"device-{i}", "pulse-oximeter") },
            StringComparer.Ordinal);
        var sweep = new SweepSlices(assigned, 1_000);

        var slices = new List<IReadOnlyDictionary<string, List<AssignedDevice>>>();
        while (sweep.Next() is { } slice)
        {
            slices.Add(slice);
        }

        Assert.Equal([1_000, 1_000, 501], slices.Select(s => s.Count));
        var swept = slices.SelectMany(s => s).ToList();
        Assert.Equal(assigned.Keys.Order(StringComparer.Ordinal), swept.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.All(swept, p => Assert.Same(assigned[p.Key], p.Value));
        Assert.Null(sweep.Next());
    }

    [Fact]
    public void Next_NoPatient_NoSlice()
    {
        Assert.Null(new SweepSlices(new Dictionary<string, List<AssignedDevice>>(), 1_000).Next());
    }
}
