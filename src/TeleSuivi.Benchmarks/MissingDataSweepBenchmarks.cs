using BenchmarkDotNet.Attributes;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Benchmarks;

/// <summary>
/// The alert engine's missing-data check of 100,000 patients with 3 devices each, all on time (nothing to raise: the
/// common case, every minute): its time and what it allocates per sweep (BENCHMARKS.md, "The scoring wave in a file
/// of its own"). Not written to BENCHMARKS.md's tables by the program: the figures are read off BenchmarkDotNet's.
/// </summary>
[MemoryDiagnoser]
public class MissingDataSweepBenchmarks
{
    private const int Patients = 100_000;
    private static readonly string[] Kinds = ["pulse-oximeter", "blood-pressure-monitor", "scale"];

    private readonly Dictionary<string, List<AssignedDevice>> assigned = new(StringComparer.Ordinal);
    private DataGapMonitor monitor = null!;
    private DateTimeOffset now;

    [GlobalSetup]
    public void Setup()
    {
        monitor = new DataGapMonitor(new AlertOptions());
        now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        for (var p = 0; p < Patients; p++)
        {
            var patientId = $"patient-{p}";
            var devices = Kinds.Select((kind, d) => new AssignedDevice($"device-{p}-{d}", kind)).ToList();
            assigned[patientId] = devices;
            foreach (var device in devices)
            {
                _ = monitor.OnReading(patientId, device.Id, now.AddMinutes(-30), now.AddMinutes(-30)).ToList();
            }
        }
    }

    [Benchmark(Description = "Missing-data sweep, 100,000 patients on time")]
    public int Sweep() => monitor.Sweep(assigned, now).Count();
}
