using System.CommandLine;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary>The <c>telesuivi</c> executable: one subcommand per job, each with its own <c>--help</c>.</summary>
public static class TeleSuiviCommandLine
{
    public static async Task<int> InvokeAsync(string[] args)
    {
        var root = new RootCommand("TeleSuivi: remote patient telemonitoring. Devices publish over MQTT; readings become FHIR Observations.")
        {
            ServeCommand.Create(),
            DemoCommand.Create(),
            ImportCommand.Create(),
            DeadLetterCommand.Create(),
            PatientsCommand.Create(),
            SimulateCommand.Create(),
            DevicesCommand.Create(),
            DevicesCommand.CreateStations(),
            BrokerCommand.Create(),
            UsersCommand.Create(),
            ApiKeyCommand.Create(),
            AuditCommand.Create(),
            WorkflowCommand.Create(),
            TrainCommand.Create(),
            EvaluateCommand.Create(),
            ModelCommand.Create(),
            BenchCommand.Create(),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync($"error: {error.Message}");
            }

            await Console.Error.WriteLineAsync("Run 'telesuivi --help' or 'telesuivi <command> --help' for usage.");
            return ExitCodes.Usage;
        }

        try
        {
            // The host handles Ctrl+C and SIGTERM itself (drain, flush, then exit).
            return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // An operator gets the reason, not a stack trace; the logs of serve keep the details of its own failures.
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
    }
}
