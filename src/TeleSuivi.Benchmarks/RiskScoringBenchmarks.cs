using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Benchmarks;

/// <summary>
/// Online risk scoring with the shipped model (<c>models/exacerbation-72h-v4.zip</c>): one patient's score with its
/// reasons, beside the feature computation that precedes it online (the reference). The issue-5 target is p99 under
/// 5 ms per score: BenchmarkDotNet's iterations average many calls, so the cleanup also times single calls one by
/// one and leaves their percentiles in <see cref="LatencyFile"/> for BENCHMARKS.md.
/// </summary>
[MemoryDiagnoser]
public class RiskScoringBenchmarks
{
    public const string ModelFile = "models/exacerbation-72h-v4.zip";
    public const string LatencyFile = "risk-scoring-latency.txt";
    private const int LatencySamples = 20_000;

    private RiskScorer scorer = null!;
    private float[][] vectors = [];
    private PatientFeatureState state = null!;
    private ZoneEnvironmentState zone = null!;
    private DateTimeOffset at;
    private readonly float[] scratch = new float[FeatureSchema.VectorLength];
    private int next;

    [GlobalSetup]
    public void Setup()
    {
        scorer = RiskScorer.Load(Path.Combine(Corpus.RepositoryRoot, ModelFile));

        // Real feature vectors: 50 patients of a cohort, 60 days each, the last 30 days' daily scoring times.
        var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = 50, Days = 60 }, 11);
        vectors = [.. cohort.Patients.SelectMany(p => FeatureExtractor.Daily(cohort, p).Skip(30).Select(r => r.Features))];

        var patient = cohort.Patient(0);
        state = new PatientFeatureState(PatientFacts.From(patient.Profile), cohort.Parameters.UtcOffset);
        foreach (var r in patient.Readings())
        {
            state.Add(r.Measure, r.Time, r.Value);
        }

        zone = new ZoneEnvironmentState(cohort.Parameters.UtcOffset);
        foreach (var e in Enumerable.Range(-9, 69).SelectMany(d => cohort.Environment.Hourly(patient.Profile.Zone, d)))
        {
            zone.Add(e);
        }

        at = FeatureExtractor.ScoringTime(cohort.Parameters, 59);
    }

    [Benchmark(Baseline = true, Description = "Compute features (reference)")]
    public float ComputeFeatures()
    {
        state.Compute(at, zone, scratch);
        return scratch[0];
    }

    [Benchmark(Description = "Score with reasons")]
    public double Score() => scorer.Score(vectors[next++ % vectors.Length]).Probability;

    [GlobalCleanup]
    public void Cleanup()
    {
        var times = new double[LatencySamples];
        for (var i = 0; i < times.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            scorer.Score(vectors[i % vectors.Length]);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        double Percentile(double p) => times[(int)Math.Min(times.Length - 1, Math.Ceiling(p / 100 * times.Length) - 1)];
        var line = string.Create(CultureInfo.InvariantCulture, $"{LatencySamples} {Percentile(50):F4} {Percentile(99):F4} {times[^1]:F4}");
        File.WriteAllText(Path.Combine(Corpus.RepositoryRoot, "BenchmarkDotNet.Artifacts", LatencyFile), line);
        scorer.Dispose();
    }
}
