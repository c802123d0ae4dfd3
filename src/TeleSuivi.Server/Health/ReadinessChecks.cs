using Microsoft.Extensions.Diagnostics.HealthChecks;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Health;

/// <summary>Ready when the ingest client holds a connection to the broker.</summary>
public sealed class BrokerHealthCheck(BrokerConnectionState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["broker"] = state.Broker ?? "none" };
        return Task.FromResult(state.IsConnected
            ? HealthCheckResult.Healthy($"connected to {state.Broker}", data)
            : HealthCheckResult.Unhealthy($"not connected: {state.LastError}", data: data));
    }
}

/// <summary>Ready when the observation store accepts a write right now.</summary>
public sealed class StoreHealthCheck(IObservationStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["store"] = store.Display };
        try
        {
            await store.CheckWritableAsync(cancellationToken);
            return HealthCheckResult.Healthy($"{store.Display} is writable", data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{store.Display} is not writable: {ex.Message}", data: data);
        }
    }
}
