using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;

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

/// <summary>
/// Ready when the observation store accepts a write right now, and the ingestion's own writes are not refused
/// access (a permission can differ between the probe and the data).
/// </summary>
public sealed class StoreHealthCheck(IObservationStore store, WritePathMetrics writes) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["store"] = store.Display };
        try
        {
            await store.CheckWritableAsync(cancellationToken);
            if (writes.LastFailure is { Kind: StoreFailureKind.Access } denied)
            {
                return HealthCheckResult.Unhealthy($"{denied.Reason} (ingestion is paused until the configuration is fixed)", data: data);
            }

            return HealthCheckResult.Healthy($"{store.Display} is writable", data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{store.Display} is not writable: {ex.Message}", data: data);
        }
    }
}

/// <summary>
/// The spool of batches waiting for the store: healthy when empty or draining, degraded while it holds data the
/// store cannot take yet, unhealthy when it is full or its disk fails (ingestion is paused then).
/// </summary>
public sealed class SpoolHealthCheck(ObservationSpool spool, SpoolReplayer replayer, WritePathMetrics writes) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = spool.Status;
        var data = new Dictionary<string, object>
        {
            ["directory"] = status.Directory,
            ["bytes"] = status.Bytes,
            ["maxBytes"] = status.MaxBytes,
            ["observations"] = status.Observations,
            ["messages"] = status.Messages,
        };
        var depth = string.Create(CultureInfo.InvariantCulture, $"{status.Observations} observation(s) of {status.Messages} message(s), {status.Bytes} of {status.MaxBytes} bytes");
        HealthCheckResult result;
        if (status.DiskError is { } diskError)
        {
            result = HealthCheckResult.Unhealthy($"cannot write to the spool {status.Directory}: {diskError}; ingestion is paused, messages stay at the broker ({depth})", data: data);
        }
        else if (status.Full)
        {
            result = HealthCheckResult.Unhealthy($"full: {depth}; ingestion is paused, messages stay at the broker until the store takes the spool back", data: data);
        }
        else if (replayer.ReadError is { } readError)
        {
            result = HealthCheckResult.Unhealthy($"cannot read the spool {status.Directory}: {readError} ({depth})", data: data);
        }
        else if (!status.HasPending)
        {
            result = HealthCheckResult.Healthy(status.Bytes == 0 ? "empty" : $"empty ({status.Bytes} bytes being removed)", data);
        }
        else if (writes.LastFailure is { } failure)
        {
            result = HealthCheckResult.Degraded($"holding {depth}: waiting for the store ({failure.Reason})", data: data);
        }
        else
        {
            result = HealthCheckResult.Healthy($"draining {depth} to the store", data);
        }

        return Task.FromResult(result);
    }
}
