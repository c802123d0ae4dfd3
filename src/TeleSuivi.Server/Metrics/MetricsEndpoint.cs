using System.Globalization;
using System.Text;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;

namespace TeleSuivi.Server.Metrics;

/// <summary><c>GET /metrics</c> in the Prometheus text exposition format (version 0.0.4).</summary>
public static class MetricsEndpoint
{
    public static IEndpointRouteBuilder MapTeleSuiviMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/metrics", async (IngestCounters counters, IngestChannel channel, BrokerConnectionState broker, DeadLetterStore deadLetters, CancellationToken cancellationToken) =>
        {
            var text = new StringBuilder();
            Metric(text, "telesuivi_ingest_messages_total", "counter", "MQTT messages processed since start.", counters.Messages);
            Metric(text, "telesuivi_ingest_observations_total", "counter", "Observations stored since start.", counters.Observations);
            Header(text, "telesuivi_ingest_dead_letters_total", "counter", "Messages dead-lettered since start, by reason code.");
            foreach (var (reason, count) in counters.DeadLetteredByReason.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                Sample(text, "telesuivi_ingest_dead_letters_total", count, ("reason", reason));
            }

            Metric(text, "telesuivi_ingest_queue_depth", "gauge", "Messages received and waiting to be processed.", channel.Count);
            Metric(text, "telesuivi_ingest_in_flight", "gauge", "Messages being normalised or written, not yet acknowledged.", counters.InFlight);
            Metric(text, "telesuivi_broker_connected", "gauge", "1 when the ingest client is connected to the broker.", broker.IsConnected ? 1 : 0);
            Header(text, "telesuivi_dead_letters_pending", "gauge", "Dead letters not yet replayed, by reason code.");
            foreach (var (reason, count) in await deadLetters.CountByReasonAsync(cancellationToken))
            {
                Sample(text, "telesuivi_dead_letters_pending", count, ("reason", reason));
            }

            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        });
        return endpoints;
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value)
    {
        Header(text, name, type, help);
        Sample(text, name, value);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, double value, params (string Name, string Value)[] labels)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').AppendJoin(',', labels.Select(l => $"{l.Name}=\"{Escape(l.Value)}\"")).Append('}');
        }

        text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
