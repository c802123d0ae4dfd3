using System.CommandLine;
using System.Globalization;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Erasure;
using TeleSuivi.Server.Export;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// <c>telesuivi patients erase ID [--yes]</c>: the right to erasure, with the server stopped; and
/// <c>telesuivi patients export --out DIR</c>: the pseudonymised export for model training. Both open the stores of
/// the configuration <c>serve</c> uses (appsettings.json, <c>TELESUIVI_*</c>, <c>--store</c>, <c>--data</c>).
/// </summary>
public static class PatientsCommand
{
    public static Command Create()
    {
        var patient = new Argument<string>("patient") { Description = "The patient's id (the FHIR Patient.id), or Patient/ID" };
        var yes = new Option<bool>("--yes") { Description = "Do not ask for confirmation" };
        var store = new Option<string?>("--store")
        {
            Description = "Observation store, as for serve: 'sqlite' (default, ./data/telesuivi.db), sqlite:PATH or influxdb://host:port/database [Store:Url]",
            HelpName = "sqlite|URL",
        };
        var data = new Option<string?>("--data")
        {
            Description = "Data folder, as for serve: registry, dead letters, spool, embedded store (default ./data) [Store:DataDirectory]",
            HelpName = "DIR",
        };
        var erase = new Command(
            "erase",
            "Erase a patient from every store (right to erasure): observations, spooled readings, dead letters, registry entries. Run it with the server stopped.")
        {
            patient, yes, store, data,
        };
        erase.SetAction((parse, cancellationToken) => EraseAsync(
            parse.GetValue(patient)!,
            parse.GetValue(yes),
            new PlatformSettings { Store = parse.GetValue(store), DataDirectory = parse.GetValue(data) },
            cancellationToken));

        var output = new Option<string>("--out") { Description = "Folder the export is written to (patients.csv, readings.csv, outcomes.csv)", Required = true, HelpName = "DIR" };
        var from = new Option<DateTimeOffset?>("--from") { Description = "Readings and outcomes from this time (default: all)", HelpName = "TIME" };
        var to = new Option<DateTimeOffset?>("--to") { Description = "Readings and outcomes up to this time (default: now)", HelpName = "TIME" };
        var keyFile = new Option<string?>("--key-file")
        {
            Description = "The pseudonym key (32+ bytes; created if missing). Same key, same pseudonyms in every export. Default: {data}/pseudonym.key",
            HelpName = "FILE",
        };
        var export = new Command(
            "export",
            "Write a pseudonymised export for model training: no names, addresses, identifiers or free text; patients and devices under keyed-hash pseudonyms.")
        {
            output, from, to, keyFile, store, data,
        };
        export.SetAction((parse, cancellationToken) => ExportAsync(
            parse.GetValue(output)!,
            parse.GetValue(from) ?? DateTimeOffset.UnixEpoch,
            parse.GetValue(to) ?? DateTimeOffset.UtcNow,
            parse.GetValue(keyFile),
            new PlatformSettings { Store = parse.GetValue(store), DataDirectory = parse.GetValue(data) },
            cancellationToken));
        return new Command("patients", "Manage registered patients.") { erase, export };
    }

    private static async Task<int> ExportAsync(string output, DateTimeOffset from, DateTimeOffset through, string? keyFile, PlatformSettings settings, CancellationToken cancellationToken)
    {
        var (exit, report, _) = await WriteExportAsync(output, from, through, keyFile, settings, cancellationToken);
        if (report is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Exported {report.Patients} patient(s), {report.Readings} reading(s), {report.Outcomes} resolved alert(s), {report.EnvironmentReadings} environment reading(s) to {Path.GetFullPath(output)} (pseudonymised: keep the key away from the export)"));
        }

        return exit;
    }

    /// <summary>The pseudonymised export from the stores of the serve configuration (also the first step of <c>train --from-store</c>).</summary>
    internal static async Task<(int ExitCode, ExportReport? Report, IConfigurationRoot Configuration)> WriteExportAsync(
        string output, DateTimeOffset from, DateTimeOffset through, string? keyFile, PlatformSettings settings, CancellationToken cancellationToken)
    {
        var (configuration, provider) = BuildServices(settings);
        await using (provider)
        {
            var storeOptions = configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
            Pseudonymiser pseudonyms;
            try
            {
                storeOptions.ResolveAddress();
                await new StoreInitializer(
                    provider.GetRequiredService<IObservationStore>(), provider.GetRequiredService<DeadLetterStore>(),
                    provider.GetRequiredService<DeviceRegistry>(), provider.GetRequiredService<ObservationSpool>()).StartAsync(cancellationToken);
                pseudonyms = Pseudonymiser.FromKeyFile(keyFile ?? Path.Combine(storeOptions.DataDirectory, "pseudonym.key"));
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return (ExitCodes.StartFailed, null, configuration);
            }

            var exporter = new PseudonymisedExport(
                provider.GetRequiredService<DeviceRegistry>(), provider.GetRequiredService<IObservationStore>(), provider.GetRequiredService<AlertStore>(), pseudonyms);
            var progress = new ConsoleProgress();
            var report = await exporter.WriteAsync(output, from, through, new Progress<(int Done, int Total)>(p => progress.Report("exporting", p.Done, p.Total, "patients")), cancellationToken);
            progress.Finish();
            return (ExitCodes.Success, report, configuration);
        }
    }

    private static async Task<int> EraseAsync(string patientText, bool confirmed, PlatformSettings settings, CancellationToken cancellationToken)
    {
        string patientId;
        try
        {
            patientId = PatientEraser.ParsePatientId(patientText);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return ExitCodes.Usage;
        }

        var (configuration, services) = BuildServices(settings);
        await using var provider = services;

        var storeOptions = configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        DataFolderLock folder;
        try
        {
            storeOptions.ResolveAddress();
            folder = DataFolderLock.Acquire(storeOptions.DataDirectory, "erase");
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message} (stop the server first: the erasure rewrites files it keeps open)");
            return ExitCodes.StartFailed;
        }

        using (folder)
        {
            var observationStore = provider.GetRequiredService<IObservationStore>();
            var deadLetters = provider.GetRequiredService<DeadLetterStore>();
            var registry = provider.GetRequiredService<DeviceRegistry>();
            var spool = provider.GetRequiredService<ObservationSpool>();
            try
            {
                await new StoreInitializer(observationStore, deadLetters, registry, spool).StartAsync(cancellationToken);
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return ExitCodes.StartFailed;
            }

            var eraser = provider.GetRequiredService<PatientEraser>();
            try
            {
                var plan = await eraser.PlanAsync(patientId, cancellationToken);
                if (!confirmed && !await ConfirmAsync(plan, observationStore, deadLetters, registry, spool))
                {
                    await Console.Error.WriteLineAsync("Not confirmed: nothing was erased.");
                    return 1;
                }

                await Console.Error.WriteLineAsync($"Erasing patient {patientId}…");
                var report = await eraser.EraseAsync(patientId, $"{Environment.UserName}@{Environment.MachineName} (telesuivi patients erase)", cancellationToken);
                Print(report, observationStore, deadLetters, registry, spool);
                if (report.Unsearchable.Count > 0)
                {
                    foreach (var file in report.Unsearchable)
                    {
                        await Console.Error.WriteLineAsync($"warning: {file}");
                    }

                    await Console.Error.WriteLineAsync("error: the erasure is incomplete: the spool files above could not be read entirely; delete them once they are no longer needed for inspection");
                    return 1;
                }

                return ExitCodes.Success;
            }
            catch (UnknownPatientException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }
        }
    }

    private static async Task<bool> ConfirmAsync(ErasurePlan plan, IObservationStore store, DeadLetterStore deadLetters, DeviceRegistry registry, ObservationSpool spool)
    {
        Console.WriteLine($"This erases patient {plan.PatientId} for good, from:");
        Console.WriteLine($"  observations    {store.Display} ({plan.Codes.Count} code(s) measured)");
        Console.WriteLine($"  spool           {spool.DirectoryPath}");
        Console.WriteLine($"  dead letters    {deadLetters.FilePath}");
        Console.WriteLine("  alerts          their alerts, the nurses' actions on them and their thresholds");
        Console.WriteLine("  risk            their risk assessments, and their pending scoring wake-up (several nodes)");
        Console.WriteLine($"  registry        {registry.FilePath} ({(plan.Registered ? "registered" : "not registered")}; device(s) unassigned and kept: {List(plan.Devices)})");
        if (Console.IsInputRedirected)
        {
            await Console.Error.WriteLineAsync("error: standard input is not a terminal: confirm with --yes");
            return false;
        }

        Console.Write($"Type the patient id ({plan.PatientId}) to confirm: ");
        var answer = await Console.In.ReadLineAsync();
        return string.Equals(answer?.Trim(), plan.PatientId, StringComparison.Ordinal);
    }

    private static void Print(ErasureReport report, IObservationStore store, DeadLetterStore deadLetters, DeviceRegistry registry, ObservationSpool spool)
    {
        var invariant = CultureInfo.InvariantCulture;
        Console.WriteLine($"Erased patient {report.PatientId}:");
        Console.WriteLine(string.Create(invariant, $"  observations    {report.Observations} observation(s) from {store.Display}"));
        Console.WriteLine(string.Create(invariant, $"  spool           {report.SpooledObservations} observation(s) in {report.SpooledMessages} message(s) from {spool.DirectoryPath}"));
        Console.WriteLine(string.Create(invariant, $"  dead letters    {report.DeadLetters} letter(s) from {deadLetters.FilePath}"));
        Console.WriteLine(string.Create(invariant, $"  alerts          {report.Alerts} alert(s) with their actions and thresholds"));
        Console.WriteLine(string.Create(invariant, $"  risk            {report.RiskAssessments} risk assessment(s)"));
        Console.WriteLine(string.Create(invariant, $"  scoring         {report.ScoringWakeUps} pending wake-up(s) (several nodes)"));
        Console.WriteLine(string.Create(invariant,
            $"  registry        {(report.PatientRecord ? 1 : 0)} patient record, {report.Assignments} assignment(s) from {registry.FilePath}; device(s) kept, unassigned: {List(report.DevicesUnassigned)}"));
    }

    private static string List(IReadOnlyList<string> items) => items.Count == 0 ? "none" : string.Join(", ", items);

    /// <summary>The services of the <c>serve</c> configuration, without the host: the stores, as the server opens them.</summary>
    private static (IConfigurationRoot Configuration, ServiceProvider Provider) BuildServices(PlatformSettings settings)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables(PlatformHost.EnvironmentPrefix)
            .AddInMemoryCollection(settings.ToConfiguration())
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(logging => logging
            .AddConfiguration(configuration.GetSection("Logging"))
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            })
            .AddFilter((category, level) => level >= LogLevel.Warning || category == typeof(PatientEraser).FullName));
        services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        services.AddTeleSuiviServices(configuration);
        services.AddSingleton<PatientEraser>();
        return (configuration, services.BuildServiceProvider());
    }
}
