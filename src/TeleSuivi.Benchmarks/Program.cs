using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using TeleSuivi.Benchmarks;

// Every benchmark unless --filter says otherwise; BenchmarkDotNet's own options (--job short, --filter '*Gatt*',
// --inProcess, ...) pass through. The figures go to BENCHMARKS.md at the repository root, the BenchmarkDotNet
// reports to BenchmarkDotNet.Artifacts/ (ignored by git).
var repository = Corpus.RepositoryRoot;
var machine = BenchmarksFile.DescribeMachine();
var commit = BenchmarksFile.Commit(repository);
var arguments = args.Any(a => a is "--filter" or "-f") ? args : [.. args, "--filter", "*"];

var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddColumn(PerReadingColumn.ReadingsPerSecond, PerReadingColumn.BestReadingsPerSecond, PerReadingColumn.BytesPerReading)
    .WithArtifactsPath(Path.Combine(repository, "BenchmarkDotNet.Artifacts"))
    .WithOptions(ConfigOptions.JoinSummary);
if (!args.Any(a => a is "--job" or "-j" or "--inProcess" or "-i"))
{
    // Enough iterations for a stable median on a shared 2-core machine, in about 10 s per case.
    config = config.AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10).WithId("Ingest"));
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(arguments, config).ToList();
if (summaries.Any(s => s.HasCriticalValidationErrors) || summaries.All(s => s.Reports.Length == 0))
{
    Console.Error.WriteLine("no benchmark ran to completion: BENCHMARKS.md is left as it is");
    return 1;
}

Console.WriteLine($"figures written to {BenchmarksFile.Write(summaries, repository, machine, commit)}");
return 0;
