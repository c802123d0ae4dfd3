using System.CommandLine;
using System.Globalization;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Simulation;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi simulate</c>: the device simulator alone, publishing to any broker.</summary>
public static class SimulateCommand
{
    public static Command Create()
    {
        var broker = new Option<string>("--broker")
        {
            Description = "MQTT broker to publish to: mqtt://host:port or mqtts://host:port (default mqtt://127.0.0.1:1883)",
            DefaultValueFactory = _ => "mqtt://127.0.0.1:1883",
            HelpName = "URL",
        };
        var patients = new Option<int>("--patients") { Description = "Simulated patients (default 1000)", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var registerWith = new Option<string?>("--register-with")
        {
            Description = "Register the cohort's patients and devices with this running TeleSuivi first (POST /fhir)",
            HelpName = "URL",
        };
        var registryFile = new Option<string?>("--registry-file")
        {
            Description = "Write the cohort's registry Bundle to this file (for telesuivi import)",
            HelpName = "FILE",
        };
        var clockSpeed = new Option<double>("--clock-speed") { Description = "Simulated seconds per real second while publishing the history (default 1)", DefaultValueFactory = _ => 1, HelpName = "X" };
        var history = new Option<double>("--history-days") { Description = "Days of past readings to publish first (default 0)", DefaultValueFactory = _ => 0, HelpName = "DAYS" };
        var seed = new Option<int?>("--seed") { Description = "Seed of the cohort (same seed, same patients and readings)", HelpName = "N" };
        var credentials = new Option<string?>("--credentials")
        {
            Description = "CSV of the devices' and stations' broker accounts (telesuivi devices credentials --out): each device logs in as itself",
            HelpName = "FILE.csv",
        };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds (default: until Ctrl+C)", HelpName = "SECONDS" };

        var command = new Command("simulate", "Publish realistic readings of simulated patients' devices, in the manufacturers' formats, to an MQTT broker.")
        {
            broker, patients, registerWith, registryFile, clockSpeed, history, seed, credentials, duration,
            CreateCohort(),
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Dictionary<string, string?>
            {
                ["Simulator:Enabled"] = "true",
                ["Simulator:BrokerUrl"] = parse.GetValue(broker),
                ["Simulator:Patients"] = parse.GetValue(patients).ToString(CultureInfo.InvariantCulture),
                ["Simulator:ClockSpeed"] = parse.GetValue(clockSpeed).ToString(CultureInfo.InvariantCulture),
                ["Simulator:HistoryDays"] = parse.GetValue(history).ToString(CultureInfo.InvariantCulture),
                ["Simulator:RegisterWith"] = parse.GetValue(registerWith),
                ["Simulator:RegistryFile"] = parse.GetValue(registryFile),
                ["Simulator:CredentialsFile"] = parse.GetValue(credentials) is { } file ? Path.GetFullPath(file) : null,
            };
            if (parse.GetValue(seed) is { } chosen)
            {
                settings["Simulator:Seed"] = chosen.ToString(CultureInfo.InvariantCulture);
            }

            if (parse.GetValue(duration) is { } seconds)
            {
                settings["Simulator:Duration"] = TimeSpan.FromSeconds(seconds).ToString("c", CultureInfo.InvariantCulture);
            }

            try
            {
                BrokerAddress.Parse(parse.GetValue(broker), "127.0.0.1", 1883);
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return ExitCodes.StartFailed;
            }

            var builder = Host.CreateApplicationBuilder();
            builder.Configuration.AddEnvironmentVariables(PlatformHost.EnvironmentPrefix);
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            builder.Services.AddSingleton(TimeProvider.System);
            builder.Services.AddDeviceSimulator();
            using var host = builder.Build();
            DeviceSimulator simulator;
            try
            {
                simulator = host.Services.GetRequiredService<DeviceSimulator>();
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return ExitCodes.StartFailed;
            }

            await host.StartAsync(cancellationToken);
            await host.WaitForShutdownAsync(cancellationToken);
            if (simulator.Failure is { } failure)
            {
                await Console.Error.WriteLineAsync($"error: {failure}");
                return ExitCodes.StartFailed;
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <c>telesuivi simulate cohort</c>: the synthetic cohort of the risk model (readings, ground-truth events, labels,
    /// environment) written to files, with progress on standard error and a summary at the end.
    /// </summary>
    private static Command CreateCohort()
    {
        var patients = new Option<int>("--patients") { Description = "Patients (default 1000)", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var days = new Option<int>("--days") { Description = "Days of readings (default 365)", DefaultValueFactory = _ => 365, HelpName = "D" };
        var seed = new Option<int>("--seed") { Description = "Seed: the same seed gives the same cohort (default 1)", DefaultValueFactory = _ => 1, HelpName = "S" };
        var output = new Option<string>("--out") { Description = "Folder to write to (default ./cohort)", DefaultValueFactory = _ => "cohort", HelpName = "DIR" };
        var format = new Option<CohortFileFormat>("--format") { Description = "Readings and environment as csv or jsonl (default csv)", DefaultValueFactory = _ => CohortFileFormat.Csv };
        var command = new Command("cohort", "Write a synthetic cohort for the risk model: patients, readings, exacerbations and flares, daily labels, zone environment.")
        {
            patients, days, seed, output, format,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var n = parse.GetValue(patients);
            var d = parse.GetValue(days);
            if (n < 1 || d < 1)
            {
                await Console.Error.WriteLineAsync("error: --patients and --days must be at least 1");
                return ExitCodes.Usage;
            }

            var directory = Path.GetFullPath(parse.GetValue(output)!);
            var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = n, Days = d }, parse.GetValue(seed));
            var progress = new ConsoleProgress();
            var summary = await Task.Run(() => CohortWriter.Write(cohort, directory, parse.GetValue(format), done => progress.Report("cohort", done, n, "patients"), cancellationToken), cancellationToken);
            progress.Finish();
            var years = summary.PatientDays / 365.25;
            var o = Console.Out;
            await o.WriteLineAsync(FormattableString.Invariant($"Synthetic cohort (seed {cohort.Seed}) written to {directory} in {progress.Elapsed.TotalSeconds:F1} s"));
            await o.WriteLineAsync(FormattableString.Invariant($"  patients           {summary.Patients,12:N0}   days {summary.Days}"));
            await o.WriteLineAsync(FormattableString.Invariant($"  readings           {summary.Readings,12:N0}   artefacts {summary.Artifacts:N0}, late batches {summary.LateReadings:N0}"));
            await o.WriteLineAsync(FormattableString.Invariant($"  exacerbations      {summary.Exacerbations,12:N0}   {summary.Exacerbations / years:F2} per patient-year, {summary.SilentExacerbations:N0} without signal"));
            await o.WriteLineAsync(FormattableString.Invariant($"  flares             {summary.Flares,12:N0}"));
            foreach (var (condition, (count, events)) in summary.ByCondition)
            {
                var rate = count == 0 ? 0 : events / (count * summary.Days / 365.25);
                await o.WriteLineAsync(FormattableString.Invariant($"  {condition,-18} {count,12:N0}   patients, {events:N0} events caused ({rate:F2} per patient-year)"));
            }

            await o.WriteLineAsync(FormattableString.Invariant(
                $"  patient-days       {summary.PatientDays,12:N0}   positive {summary.PositiveDays:N0} ({100.0 * summary.PositiveDays / summary.PatientDays:F1} %), excluded {summary.ExcludedDays:N0}"));
            return ExitCodes.Success;
        });
        return command;
    }
}
