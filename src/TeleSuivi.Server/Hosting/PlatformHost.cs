using Microsoft.Extensions.Logging.Console;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Fhir;
using TeleSuivi.Server.Health;
using TeleSuivi.Server.Metrics;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Web;

namespace TeleSuivi.Server.Hosting;

/// <summary>Builds and runs the ASP.NET Core host that <c>serve</c> and <c>demo</c> start.</summary>
public static class PlatformHost
{
    public const string EnvironmentPrefix = "TELESUIVI_";

    public static WebApplication Build(PlatformSettings settings, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            // appsettings.json and the web pages are read from beside the executable, whatever the working folder.
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(settings.ToConfiguration());
        ConfigureLogging(builder);
        Validate(builder.Configuration);

        builder.Services.AddTeleSuiviServices(builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseTeleSuiviSecurity();
        app.MapTeleSuiviHealth();
        // An ingest-only node still serves what concerns its own data: its registry copy (POST /fhir), its dead
        // letters, its metrics. The pages and the hub are for web nodes.
        var web = NodeRoleSettings.Read(builder.Configuration).HasFlag(NodeRoles.Web);
        if (web)
        {
            app.MapTeleSuiviWeb();
        }

        app.MapTeleSuiviFhir();
        app.MapDeadLetterApi();
        app.MapTeleSuiviMetrics();
        if (web)
        {
            app.MapTriageBoard();
        }

        return app;
    }

    /// <summary>Runs until Ctrl+C or SIGTERM. Returns the process exit code.</summary>
    public static async Task<int> RunAsync(PlatformSettings settings, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplication app;
        try
        {
            app = Build(settings, configure);
        }
        catch (ConfigurationException ex)
        {
            return ReportStartFailure(ex);
        }

        await using (app)
        {
            try
            {
                await app.StartAsync();
            }
            catch (Exception ex) when (FindConfigurationError(ex) is { } error)
            {
                return ReportStartFailure(error);
            }
            catch (IOException ex) when (ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                return ReportStartFailure(new ConfigurationException($"cannot listen on {string.Join(", ", app.Urls)}: {ex.Message} (choose another with --urls)", ex));
            }

            await app.WaitForShutdownAsync();
            return 0;
        }
    }

    private static int ReportStartFailure(ConfigurationException error)
    {
        Console.Error.WriteLine($"error: {error.Message}");
        return ExitCodes.StartFailed;
    }

    private static ConfigurationException? FindConfigurationError(Exception ex) => ex switch
    {
        ConfigurationException configuration => configuration,
        AggregateException aggregate => aggregate.InnerExceptions.Select(FindConfigurationError).FirstOrDefault(e => e is not null),
        _ when ex.InnerException is not null => FindConfigurationError(ex.InnerException),
        _ => null,
    };

    /// <summary>Malformed addresses are reported before anything starts.</summary>
    private static void Validate(ConfigurationManager configuration)
    {
        (configuration.GetSection(BrokerOptions.Section).Get<BrokerOptions>() ?? new BrokerOptions()).ResolveAddress();
        (configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions()).ResolveAddress();
        NodeRoleSettings.Read(configuration);

        // Removed in favour of the 6-day cool-down: a programme that had tuned it would otherwise get another policy silently.
        if (configuration[$"{AlertOptions.Section}:Risk:MaterialRise"] is { } materialRise)
        {
            throw new ConfigurationException(
                $"Alerts:Risk:MaterialRise ({materialRise}) is no longer read: a patient gets at most one risk alert per Alerts:Risk:CoolDown (6 days by default), "
                + "again after it while the risk stays at raise-at, and within it only when the risk reaches Alerts:Risk:CriticalAt (README, \"The alert engine\"). "
                + "Remove the setting; a shorter Alerts:Risk:CoolDown or a lower Alerts:Risk:CriticalAt alerts more often");
        }

        var urls = configuration["Urls"];
        foreach (var url in (urls ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("*", "localhost", StringComparison.Ordinal).Replace("+", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new ConfigurationException($"urls '{url}' is not valid: expected http://host:port or https://host:port");
            }

            if (uri.Scheme == Uri.UriSchemeHttps && configuration["Kestrel:Certificates:Default:Path"] is null)
            {
                throw new ConfigurationException($"urls '{url}' is HTTPS but no certificate is configured: set Kestrel:Certificates:Default:Path (TELESUIVI_KESTREL__CERTIFICATES__DEFAULT__PATH) to a .pfx or .pem file");
            }
        }
    }

    private static void ConfigureLogging(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        if (string.Equals(builder.Configuration["LogFormat"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(o => o.TimestampFormat = "O");
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
                o.ColorBehavior = LoggerColorBehavior.Default;
            });
        }

        // A failed start is reported once, as a one-line error, not as the host's stack trace. The platform's own
        // background services log their failures themselves; the host still logs when one stops the process.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
    }
}
