using TeleSuivi.Server.Bench;

namespace TeleSuivi.Tests.Bench;

/// <summary>The verdicts of the generated targets table, on reports whose figures are chosen.</summary>
public sealed class BenchTargetsTests
{
    private const string StateTarget = "online state for 10,000 patients <= 300 MB";
    private const long Mb = 1024 * 1024;

    [Fact]
    public void Judge_RunOf100000PatientsOverTheBudget_StateTargetIsNotApplicable()
    {
        // The run of 2026-11-24 05:11 UTC: 1,583 MB of live heap with 100,000 patients' state.
        var state = State(Judge(patients: 100_000, withReadings: 100_000, liveHeapMb: 1_583, atReadyMb: 708));

        Assert.Equal("n/a: the run held 100,000 patients, not 10,000 (--patients 10000)", state.Result);
        Assert.Contains("9.0 KB more per patient", state.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_RunOf1000PatientsUnderTheBudget_StateTargetIsNotApplicable()
    {
        var state = State(Judge(patients: 1_000, withReadings: 1_000, liveHeapMb: 90, atReadyMb: 80));

        Assert.StartsWith("n/a: the run held 1,000 patients", state.Result, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(172, "met")]
    [InlineData(301, "NOT MET")]
    public void Judge_RunOf10000PatientsAllWithReadings_StateTargetJudgedOnTheLiveHeap(long liveHeapMb, string result)
    {
        var state = State(Judge(patients: 10_000, withReadings: 10_000, liveHeapMb: liveHeapMb, atReadyMb: 85));

        Assert.Equal(result, state.Result);
    }

    [Fact]
    public void Judge_RunOf10000PatientsSomeWithoutReadings_StateTargetIsNotMeasured()
    {
        var state = State(Judge(patients: 10_000, withReadings: 9_990, liveHeapMb: 172, atReadyMb: 85));

        Assert.Equal("not measured: only 9,990 of 10,000 patients sent readings", state.Result);
    }

    [Theory]
    [InlineData(8_000, "the store alone took 8,000/s = 57 % of raw: out of reach in this run with the points the store writes")]
    [InlineData(9_000, "the store alone took 9,000/s = 64 % of raw")]
    public void Judge_StoreAloneMeasured_RatioTargetSaysWhetherTheStoreLeavesItWithinReach(double storeAlonePerSecond, string expected)
    {
        // Raw broker 14,000 received/s: 0.6 x raw is 8,400/s.
        var report = Report() with { StoreReference = new StoreReferenceResult((long)storeAlonePerSecond * 10, 0, (long)storeAlonePerSecond * 20, 10, 200, 4, "test") };

        var ratio = Assert.Single(BenchTargets.Judge(report), t => t.Target.StartsWith("end-to-end >= 0.6", StringComparison.Ordinal));

        Assert.EndsWith(expected, ratio.Measured, StringComparison.Ordinal);
        Assert.Equal("NOT MET", ratio.Result);
        Assert.DoesNotContain("out of reach", BenchTargets.Judge(Report()).Single(t => t.Target == ratio.Target).Measured, StringComparison.Ordinal);
    }

    private static TargetResult State(IReadOnlyList<TargetResult> targets) => Assert.Single(targets, t => t.Target == StateTarget);

    private static IReadOnlyList<TargetResult> Judge(int patients, int withReadings, long liveHeapMb, long atReadyMb) =>
        BenchTargets.Judge(Report(patients, withReadings, liveHeapMb, atReadyMb));

    /// <summary>A report of one 1,000 messages/s load and a saturation, with the platform's state as given.</summary>
    internal static BenchReport Report(int patients = 10_000, int withReadings = 10_000, long liveHeapMb = 172, long atReadyMb = 85)
    {
        var load = new LoadResult(
            "1,000 messages/s", 1_000, 10_000, 0, 1_000, 10_000, 20_000, 0, 1_000, true, new Percentiles(10_000, 40, 80, 120, 160), null, 8, 0.8, 600 * Mb,
            new StoreWrites(100, 10, 200, 0.2), new Dictionary<string, double>(), string.Empty);
        var state = new StateResult(withReadings, withReadings - 100, 250 * Mb, 640 * Mb) { LiveHeapBytes = liveHeapMb * Mb, LiveHeapAtReadyBytes = atReadyMb * Mb, ScorerCatchUpSeconds = 1 };
        return new BenchReport(
            "2026-11-24 06:00 UTC", "test", "test", "1 1 1", "1 1 1", "embedded", "sqlite", patients, 674, 774, ["withings"], BenchRunner.LatencyMethod,
            new ReferenceResult(200_000, 200_000, 20_000, 14_000, 14, "embedded", string.Empty),
            [load],
            load with { Name = "saturation", TargetPerSecond = null },
            0.2,
            new ProcessResult(100, 100, 900 * Mb, 800 * Mb, state),
            new ScoringResult(true, string.Empty, new Dictionary<string, double>()),
            new NominalCadence(44, 3_000, string.Empty),
            []);
    }
}
