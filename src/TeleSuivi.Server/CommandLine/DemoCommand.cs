using System.CommandLine;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi demo</c>: <c>serve</c> on the embedded defaults with the device simulator.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var options = new PlatformCommandOptions();
        var patients = new Option<int>("--patients")
        {
            Description = "Simulated patients (default 1000)",
            DefaultValueFactory = _ => 1000,
            HelpName = "N",
        };
        var clockSpeed = new Option<double>("--clock-speed")
        {
            Description = "Simulated seconds per real second while the history is published (default 1440: a day per minute)",
            DefaultValueFactory = _ => 1440,
            HelpName = "X",
        };
        var history = new Option<double>("--history-days")
        {
            Description = "Days of past readings to publish first, then real time (default 2)",
            DefaultValueFactory = _ => 2,
            HelpName = "DAYS",
        };
        var seed = new Option<int?>("--seed") { Description = "Seed of the simulated cohort (same seed, same patients and readings)", HelpName = "N" };
        patients.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 1_000_000)
            {
                r.AddError("--patients must be between 1 and 1,000,000");
            }
        });
        clockSpeed.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 1 or > 1_000_000)
            {
                r.AddError("--clock-speed must be between 1 and 1,000,000");
            }
        });
        history.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or > 365)
            {
                r.AddError("--history-days must be between 0 and 365");
            }
        });

        var command = new Command("demo", "Run the platform on its embedded defaults (embedded broker, SQLite) with simulated patients and devices.")
        {
            patients,
            clockSpeed,
            history,
            seed,
        };
        options.AddTo(command);
        command.SetAction((parse, _) => PlatformHost.RunAsync(options.Read(parse) with
        {
            Simulate = true,
            SimulatedPatients = parse.GetValue(patients),
            ClockSpeed = parse.GetValue(clockSpeed),
            HistoryDays = parse.GetValue(history),
            Seed = parse.GetValue(seed),
        }));
        return command;
    }
}
