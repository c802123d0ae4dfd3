using TeleSuivi.Server.Ingestion;

namespace TeleSuivi.Server.Web;

public static class WebEndpoints
{
    public static IEndpointRouteBuilder MapTeleSuiviWeb(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.MapGet("/api/status", (IngestCounters counters, BrokerConnectionState broker, IngestChannel channel) => Results.Ok(new
        {
            broker = new { connected = broker.IsConnected, address = broker.Broker, lastError = broker.LastError },
            ingest = new { counters.Messages, counters.Observations, counters.DeadLettered, queued = channel.Count, counters.InFlight },
        }));
        return app;
    }
}
