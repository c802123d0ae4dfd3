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

    public ChannelWriter<IngestMessage> Writer => channel.Writer;

    public ChannelReader<IngestMessage> Reader => channel.Reader;

    public int Count => channel.Reader.Count;
}
