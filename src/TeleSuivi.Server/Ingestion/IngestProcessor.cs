using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Storage;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Ingestion;

/// <summary>
/// Takes messages off the ingest channel in batches, turns each into Observations or a dead letter with
/// its reason, writes both durably, and only then acknowledges the messages to the broker.
/// </summary>
public sealed partial class IngestProcessor(
    IngestChannel channel,
    MessageNormalizer normalizer,
    IObservationStore store,
    DeadLetterStore deadLetters,
    IngestCounters counters,
    IOptions<IngestOptions> options,
    ILogger<IngestProcessor> logger) : BackgroundService
{
    private readonly IngestOptions settings = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<IngestMessage>(settings.BatchSize);
        var reader = channel.Reader;
        while (await WaitForMessagesAsync(reader, stoppingToken))
        {
            batch.Clear();
            await FillBatchAsync(reader, batch, stoppingToken);
            counters.BeginBatch(batch.Count);
            try
            {
                await ProcessBatchAsync(batch, stoppingToken);
            }
            finally
            {
                counters.EndBatch(batch.Count);
            }
        }
    }

    internal async Task ProcessBatchAsync(IReadOnlyList<IngestMessage> batch, CancellationToken cancellationToken)
    {
        var observations = new List<Observation>(batch.Count);
        var letters = new List<Rejection>();
        foreach (var message in batch)
        {
            var outcome = normalizer.Normalize(message);
            if (outcome.Rejected)
            {
                letters.Add(new Rejection(message.Topic, message.Payload, message.ReceivedAt, outcome.ReasonCode!, outcome.Reason!));
            }
            else
            {
                observations.AddRange(outcome.Observations);
            }
        }

        var reasonCodes = letters.ConvertAll(letter => letter.ReasonCode);
        await WriteUntilDurableAsync(observations, letters, cancellationToken);
        counters.Add(batch.Count, observations.Count, reasonCodes);
        foreach (var message in batch)
        {
            await message.AcknowledgeAsync(cancellationToken);
        }
    }

    private async Task WriteUntilDurableAsync(
        List<Observation> observations,
        List<Rejection> letters,
        CancellationToken cancellationToken)
    {
        // Nothing is acknowledged before this returns: while the store is down the messages stay unacknowledged
        // at the broker and are redelivered if this process dies.
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                await deadLetters.AddAsync(letters, cancellationToken);
                letters.Clear();
                await store.WriteAsync(observations, cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogWriteFailed(store.Display, ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    private static async Task<bool> WaitForMessagesAsync(System.Threading.Channels.ChannelReader<IngestMessage> reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.WaitToReadAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task FillBatchAsync(System.Threading.Channels.ChannelReader<IngestMessage> reader, List<IngestMessage> batch, CancellationToken cancellationToken)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        window.CancelAfter(settings.BatchDelay);
        while (batch.Count < settings.BatchSize)
        {
            while (batch.Count < settings.BatchSize && reader.TryRead(out var message))
            {
                batch.Add(message);
            }

            if (batch.Count >= settings.BatchSize)
            {
                return;
            }

            try
            {
                if (!await reader.WaitToReadAsync(window.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot write to {Store}: {Reason}; retrying in {DelaySeconds:F1} s (messages stay unacknowledged)")]
    private partial void LogWriteFailed(string store, string reason, double delaySeconds);
}
