using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using TeleSuivi.Benchmarks;
using TeleSuivi.Benchmarks.Board;
using TeleSuivi.Benchmarks.Storage;

// Every benchmark unless --filter says otherwise; BenchmarkDotNet's own options (--job short, --filter '*Gatt*',
// --inProcess, ...) pass through. The figures go to BENCHMARKS.md at the repository root, the BenchmarkDotNet
// reports to BenchmarkDotNet.Artifacts/ (ignored by git). `board` runs the triage-board measurement alone (Board/),
// `ingest-batches` times the ingest stages in millisecond batches (IngestBenchmarks.cs).
var repository = Corpus.RepositoryRoot;
var machine = BenchmarksFile.DescribeMachine();
var commit = BenchmarksFile.Commit(repository);
if (args is ["board"])
{
    return await BoardBenchmark.RunAsync(repository, machine, commit);
}

if (args is ["ingest-batches", .. var caseNames])
{
    return IngestBatches.Run(caseNames);
}

var arguments = args.Any(a => a is "--filter" or "-f") ? args : [.. args, "--filter", "*"];
var ownJob = !args.Any(a => a is "--job" or "-j" or "--inProcess" or "-i");

var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddColumn(PerReadingColumn.ReadingsPerSecond, PerReadingColumn.BestReadingsPerSecond, PerReadingColumn.BytesPerReading)
    .WithArtifactsPath(Path.Combine(repository, "BenchmarkDotNet.Artifacts"))
    .WithOptions(ConfigOptions.JoinSummary);
var benchmarks = typeof(Corpus).Assembly.GetTypes()
    .Where(t => t.GetMethods().Any(m => m.IsDefined(typeof(BenchmarkAttribute), inherit: false)))
    .ToLookup(StorageSection.IsStorageBenchmark);

// Enough iterations for a stable median on a shared 2-core machine, in about 10 s per case.
var ingestConfig = ownJob ? ManualConfig.Create(config).AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10).WithId("Ingest")) : config;
var ingest = BenchmarkSwitcher.FromTypes([.. benchmarks[false]]).Run(arguments, ingestConfig).ToList();
List<BenchmarkDotNet.Reports.Summary> storage;
try
{
    var storageConfig = ownJob ? ManualConfig.Create(config).AddJob(StorageSection.Job) : config;
    storage = BenchmarkSwitcher.FromTypes([.. benchmarks[true]]).Run(arguments, storageConfig).ToList();
}
finally
{
    BenchmarkInfluxd.Stop();
}

bool Ran(List<BenchmarkDotNet.Reports.Summary> summaries) => summaries.Any(s => s.Reports.Length > 0) && !summaries.Any(s => s.HasCriticalValidationErrors);
if (!Ran(ingest) && !Ran(storage))
{
    Console.Error.WriteLine("no benchmark ran to completion: BENCHMARKS.md is left as it is");
    return 1;
}

if (Ran(ingest))
{
    Console.WriteLine($"figures written to {BenchmarksFile.Write(ingest, repository, machine, commit)}");
}

if (Ran(storage))
{
    var path = Path.Combine(repository, BenchmarksFile.FileName);
    StorageSection.Write(storage, path, machine, commit);
    Console.WriteLine($"storage figures written to {path}");
}

return 0;
