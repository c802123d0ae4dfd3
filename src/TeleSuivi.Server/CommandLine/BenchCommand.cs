using System.CommandLine;
using System.Globalization;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Server.Bench;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Simulation;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi bench</c>: the end-to-end benchmark against the raw broker rate of the same run (see README, "Benchmarks").</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var broker = new Option<string>("--broker") { Description = "embedded (default: the bench runs it) or mqtt://[user:password@]host:port of a running broker", DefaultValueFactory = _ => "embedded", HelpName = "URL" };
        var store = new Option<string>("--store") { Description = "sqlite (default, in a temporary folder) or influxdb://[user:password@]host:port/database of a running InfluxDB", DefaultValueFactory = _ => "sqlite", HelpName = "URL" };
        var loads = new Option<string>("--loads") { Description = "Fixed loads in messages/s, comma-separated (default 1000,10000)", DefaultValueFactory = _ => "1000,10000", HelpName = "N,N" };
        var duration = new Option<double>("--duration") { Description = "Seconds each fixed load is published (default 10)", DefaultValueFactory = _ => 10, HelpName = "SECONDS" };
        var saturation = new Option<int>("--saturation-messages") { Description = "Messages published as fast as the broker takes them, for the reference and the saturation (default 200000)", DefaultValueFactory = _ => 200_000, HelpName = "N" };
        var patients = new Option<int>("--patients") { Description = "Patients registered with their devices and device accounts (default 1000)", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var publishing = new Option<int>("--publishing-patients") { Description = "Patients whose devices publish the load, one connection per device (default 100)", DefaultValueFactory = _ => 100, HelpName = "N" };
        var alertsPerSecond = new Option<int>("--alerts-per-second") { Description = "Critical readings per second during the fixed loads, to time alerts on the hub (default 5)", DefaultValueFactory = _ => 5, HelpName = "N" };
        var inFlight = new Option<int>("--max-in-flight") { Description = "QoS 1 publishes awaiting their PUBACK at once (default 2000)", DefaultValueFactory = _ => 2000, HelpName = "N" };
        var duringWave = new Option<bool>("--loads-during-wave") { Description = "Start the fixed loads while the risk scorer gives every patient their first score (as at local midnight), not after it" };
        var json = new Option<string>("--json") { Description = "JSON file of the figures (default bench-results/bench.json beside BENCHMARKS.md, else in the current folder)", HelpName = "FILE" };
        var benchmarks = new Option<string>("--benchmarks-file") { Description = "BENCHMARKS.md to update between this command's markers (default ./BENCHMARKS.md when it exists; 'none' to leave it)", DefaultValueFactory = _ => "BENCHMARKS.md", HelpName = "FILE" };
        var command = new Command("bench", "Measure end-to-end throughput and latency (publish -> stored, publish -> alert on the board) against the raw broker rate of the same run.")
        {
            broker, store, loads, duration, saturation, patients, publishing, alertsPerSecond, inFlight, duringWave, json, benchmarks,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            List<int> loadList;
            try
            {
                loadList = [.. parse.GetValue(loads)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => int.Parse(l, NumberStyles.AllowThousands, CultureInfo.InvariantCulture))];
            }
            catch (FormatException)
            {
                await Console.Error.WriteLineAsync($"error: --loads '{parse.GetValue(loads)}' is not a comma-separated list of whole numbers");
                return ExitCodes.Usage;
            }

            var benchmarksFile = parse.GetValue(benchmarks)!;
            var settings = new BenchSettings
            {
                Broker = parse.GetValue(broker)!,
                Store = parse.GetValue(store)!,
                Loads = loadList,
                LoadDuration = TimeSpan.FromSeconds(parse.GetValue(duration)),
                SaturationMessages = parse.GetValue(saturation),
                Patients = parse.GetValue(patients),
                PublishingPatients = parse.GetValue(publishing),
                AlertsPerSecond = parse.GetValue(alertsPerSecond),
                MaxInFlight = parse.GetValue(inFlight),
                LoadsDuringWave = parse.GetValue(duringWave),
                JsonPath = Path.GetFullPath(parse.GetValue(json) ?? Path.Combine(Path.GetDirectoryName(FindUpwards("BENCHMARKS.md") ?? "BENCHMARKS.md") ?? ".", "bench-results", "bench.json")),
                BenchmarksFile = string.Equals(benchmarksFile, "none", StringComparison.Ordinal) ? null : FindUpwards(benchmarksFile),
            };
            if (settings.Problem() is { } problem)
            {
                await Console.Error.WriteLineAsync($"error: {problem}");
                return ExitCodes.Usage;
            }

            var profiles = new IngestOptions().ResolveProfilesDirectory();
            SimulatedFormats formats;
            try
            {
                formats = new SimulatedFormats(ProfileEncoderRegistry.Load(profiles));
            }
            catch (ProfileException ex)
            {
                await Console.Error.WriteLineAsync($"error: cannot load the manufacturer profiles from {profiles}: {ex.Message}");
                return ExitCodes.StartFailed;
            }

            var bar = new ConsoleProgress();
            var runner = new BenchRunner(settings, formats, (stage, done, total) => bar.Report(stage, (int)Math.Min(done, int.MaxValue), (int)Math.Min(total, int.MaxValue), UnitOf(stage)), Console.Error);
            BenchReport report;
            try
            {
                report = await runner.RunAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
            {
                bar.Finish();
                await Console.Error.WriteLineAsync($"error: the bench could not finish: {ex.Message}");
                return ExitCodes.StartFailed;
            }

            bar.Finish();
            await BenchOutput.WriteJsonAsync(report, settings.JsonPath, cancellationToken);
            if (settings.BenchmarksFile is { } file)
            {
                BenchOutput.WriteBenchmarksFile(report, file, string.Equals(settings.Broker, "embedded", StringComparison.OrdinalIgnoreCase) && string.Equals(settings.Store, "sqlite", StringComparison.OrdinalIgnoreCase));
            }

            await Console.Out.WriteLineAsync(BenchOutput.Table(report));
            await Console.Out.WriteLineAsync($"Figures written to {settings.JsonPath}{(settings.BenchmarksFile is { } written ? " and " + written : string.Empty)}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <paramref name="path"/> if it exists; a relative one is also looked for in the parent folders, because
    /// <c>dotnet run --project src/TeleSuivi.Server</c> runs in the project's folder, below the repository's BENCHMARKS.md.
    /// </summary>
    private static string? FindUpwards(string path)
    {
        if (File.Exists(path) || Path.IsPathRooted(path))
        {
            return File.Exists(path) ? Path.GetFullPath(path) : null;
        }

        for (var folder = Directory.GetParent(Environment.CurrentDirectory); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, path);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string UnitOf(string stage) => stage switch
    {
        "registered" => "patients",
        "device accounts" or "device connections" => "devices",
        _ => "messages",
    };
}
