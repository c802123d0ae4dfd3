using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TeleSuivi.Server.Health;

public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    /// <param name="ingest">The node takes readings from the broker (a web-only node has no broker to be ready for).</param>
    public static IServiceCollection AddTeleSuiviHealthChecks(this IServiceCollection services, bool ingest = true)
    {
        var checks = services.AddHealthChecks();
        if (ingest)
        {
            checks.AddCheck<BrokerHealthCheck>("broker", tags: [ReadyTag]);
        }

        checks
            .AddCheck<StoreHealthCheck>("store", tags: [ReadyTag])
            .AddCheck<SpoolHealthCheck>("spool", tags: [ReadyTag])
            .AddCheck<Risk.RiskHealthCheck>("risk", tags: [ReadyTag]);
        return services;
    }

    /// <summary>
    /// <c>/health/live</c>: the process answers (no dependency checked, so an orchestrator does not restart
    /// it for a broker outage). <c>/health/ready</c>: each dependency reported by name.
    /// </summary>
    public static IEndpointRouteBuilder MapTeleSuiviHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = WriteJsonAsync,
        }).AllowAnonymous(); // no patient data, and orchestrators probe without credentials
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteJsonAsync,
        }).AllowAnonymous();
        return endpoints;
    }

    private static Task WriteJsonAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => new { status = entry.Value.Status.ToString(), description = entry.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions));
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
