using System.CommandLine;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi demo</c>: <c>serve</c> on the embedded defaults with the device simulator.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var options = new PlatformCommandOptions();
        var command = new Command("demo", "Run the platform on its embedded defaults (embedded broker, SQLite) with simulated patients and devices.");
        options.AddTo(command);
        command.SetAction((parse, _) => PlatformHost.RunAsync(options.Read(parse)));
        return command;
    }
}
