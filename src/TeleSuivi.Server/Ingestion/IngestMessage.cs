namespace TeleSuivi.Server.Ingestion;

/// <summary>
/// One MQTT message on its way through the pipeline. The broker considers it delivered only when
/// <see cref="AcknowledgeAsync"/> is called, which happens after it is durably stored or dead-lettered.
/// </summary>
public sealed class IngestMessage(string topic, byte[] payload, DateTimeOffset receivedAt, Func<CancellationToken, Task> acknowledge)
{
    public string Topic { get; } = topic;

    public byte[] Payload { get; } = payload;

    public DateTimeOffset ReceivedAt { get; } = receivedAt;

    public Task AcknowledgeAsync(CancellationToken cancellationToken) => acknowledge(cancellationToken);
}
