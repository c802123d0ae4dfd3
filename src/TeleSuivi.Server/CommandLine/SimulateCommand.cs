using System.CommandLine;
using System.Globalization;
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
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds (default: until Ctrl+C)", HelpName = "SECONDS" };

        var command = new Command("simulate", "Publish realistic readings of simulated patients' devices, in the manufacturers' formats, to an MQTT broker.")
        {
            broker, patients, registerWith, registryFile, clockSpeed, history, seed, duration,
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
}
