using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace TeleSuivi.Server.Ingestion;

/// <summary>The bounded hand-off between the MQTT receive loop and the processing stage.</summary>
public sealed class IngestChannel(IOptions<IngestOptions> options)
{
    private readonly Channel<IngestMessage> channel = Channel.CreateBounded<IngestMessage>(
        new BoundedChannelOptions(options.Value.ChannelCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });

    private readonly TaskCompletionSource drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ChannelWriter<IngestMessage> Writer => channel.Writer;

    public ChannelReader<IngestMessage> Reader => channel.Reader;

    public int Count => channel.Reader.Count;

    /// <summary>When the message at the head of the queue was received; null when the queue is empty.</summary>
    public DateTimeOffset? OldestReceivedAt => channel.Reader.TryPeek(out var head) ? head.ReceivedAt : null;

    /// <summary>Completes once the processor has handled every message of the completed channel (graceful shutdown).</summary>
    public Task Drained => drained.Task;

    /// <summary>Called by the processor when the channel is completed and empty: nothing is left in flight.</summary>
    public void MarkDrained() => drained.TrySetResult();
}
