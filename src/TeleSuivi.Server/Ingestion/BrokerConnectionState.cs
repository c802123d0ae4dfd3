namespace TeleSuivi.Server.Ingestion;

/// <summary>Whether the ingest client is connected, for <c>/health/ready</c>.</summary>
public sealed class BrokerConnectionState
{
    private volatile Snapshot current = new(false, null, "not connected yet");

    public bool IsConnected => current.Connected;

    public string? Broker => current.Broker;

    public string? LastError => current.Error;

    public void SetConnected(string broker) => current = new Snapshot(true, broker, null);

    public void SetDisconnected(string reason) => current = new Snapshot(false, current.Broker, reason);

    private sealed record Snapshot(bool Connected, string? Broker, string? Error);
}
