using System.CommandLine;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi serve</c>: the platform, as configured.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var options = new PlatformCommandOptions();
        var command = new Command("serve", "Run the platform: MQTT ingestion, storage, scoring, alerting and the web (board, API, FHIR).");
        options.AddTo(command);
        command.SetAction((parse, _) => PlatformHost.RunAsync(options.Read(parse)));
        return command;
    }
}

/// <summary>The options <c>serve</c> and <c>demo</c> share. Each maps to a configuration key (see README).</summary>
public sealed class PlatformCommandOptions
{
    private readonly Option<string?> broker = new("--broker")
    {
        Description = "MQTT broker: 'embedded' (default, in this process), mqtt://host:port or mqtts://host:port [Broker:Url]",
        HelpName = "embedded|URL",
    };

    private readonly Option<string?> store = new("--store")
    {
        Description = "Observation store: 'sqlite' (default, ./data/telesuivi.db), sqlite:PATH or influxdb://host:port/database [Store:Url]",
        HelpName = "sqlite|URL",
    };

    private readonly Option<string?> urls = new("--urls")
    {
        Description = "Web addresses to listen on, ';'-separated (default http://127.0.0.1:5080) [Urls]",
        HelpName = "URLS",
    };

    private readonly Option<int?> mqttPort = new("--mqtt-port")
    {
        Description = "Port of the embedded MQTT broker (default 1883) [Broker:EmbeddedPort]",
        HelpName = "PORT",
    };

    private readonly Option<string?> data = new("--data")
    {
        Description = "Folder for the embedded store, dead letters and spool (default ./data) [Store:DataDirectory]",
        HelpName = "DIR",
    };

    private readonly Option<string?> logFormat = new("--log-format")
    {
        Description = "Console log format: text (default) or json [LogFormat]",
        HelpName = "text|json",
    };

    public PlatformCommandOptions()
    {
        mqttPort.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } port && (port < 1 || port > 65535))
            {
                result.AddError("--mqtt-port must be between 1 and 65535");
            }
        });
        logFormat.AcceptOnlyFromAmong("text", "json");
    }

    public void AddTo(Command command)
    {
        command.Options.Add(broker);
        command.Options.Add(store);
        command.Options.Add(urls);
        command.Options.Add(mqttPort);
        command.Options.Add(data);
        command.Options.Add(logFormat);
    }

    public PlatformSettings Read(ParseResult parse) => new()
    {
        Broker = parse.GetValue(broker),
        Store = parse.GetValue(store),
        Urls = parse.GetValue(urls),
        MqttPort = parse.GetValue(mqttPort),
        DataDirectory = parse.GetValue(data),
        LogFormat = parse.GetValue(logFormat),
    };
}
