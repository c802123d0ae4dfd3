using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Ingestion;

/// <summary>
/// Takes messages off the ingest channel in batches, turns each into Observations or a dead letter with
/// its reason, writes both durably, and only then acknowledges the messages to the broker. Durably means: in the
/// store; or, when the store is unavailable, in the on-disk spool (replayed later by <see cref="SpoolReplayer"/>);
/// or, for what the store refuses as the data's fault, in the dead-letter store. When none of them can take the
/// batch (spool full, disk failing, store refusing access), the batch is held and no more messages are taken: the
/// channel fills, the MQTT receive loop waits and the broker keeps the rest.
/// </summary>
public sealed partial class IngestProcessor(
    IngestChannel channel,
    MessageNormalizer normalizer,
    StoreWriter writer,
    ObservationSpool spool,
    DeadLetterStore deadLetters,
    IngestCounters counters,
    WritePathMetrics metrics,
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<IngestProcessor> logger,
    AlertFeed alerts,
    Risk.ScoringFeed scoring) : BackgroundService
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(10);

    private readonly IngestOptions settings = options.Value;
    private bool spooling;
    private System.Diagnostics.Stopwatch? pausedFor;
    private bool fullLogged;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<IngestMessage>(settings.BatchSize);
        var reader = channel.Reader;
        try
        {
            // On shutdown the MQTT client completes the channel first: this loop then empties it (the last, partial
            // batch included) and ends, and only then is the broker connection closed (see MqttIngestClient.StopAsync).
            while (await WaitForMessagesAsync(reader, stoppingToken))
            {
                batch.Clear();
                await FillBatchAsync(reader, batch, stoppingToken);
                counters.BeginBatch(batch.Count, batch[0].ReceivedAt);
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
        finally
        {
            channel.MarkDrained();
        }
    }

    internal async Task ProcessBatchAsync(IReadOnlyList<IngestMessage> batch, CancellationToken cancellationToken)
    {
        var spooled = new List<SpooledMessage>(batch.Count);
        var letters = new List<Rejection>();
        foreach (var message in batch)
        {
            var outcome = NormalizeSafely(message);
            if (outcome.Rejected)
            {
                letters.Add(new Rejection(message.Topic, message.Payload, message.ReceivedAt, outcome.ReasonCode!, outcome.Reason!));
            }

            if (outcome.Observations.Count > 0)
            {
                spooled.Add(new SpooledMessage(message.Topic, message.Payload, message.ReceivedAt, outcome.Observations));
            }
        }

        await AddDeadLettersAsync(letters, cancellationToken);
        var reasonCodes = letters.ConvertAll(letter => letter.ReasonCode);
        var stored = await WriteUntilDurableAsync(spooled, reasonCodes, cancellationToken);
        counters.Add(batch.Count, stored, reasonCodes);

        // Durable now, not yet acknowledged: a full alert feed holds ingestion back rather than losing an alert.
        await alerts.PublishAsync(spooled.SelectMany(message => message.Observations), letters, cancellationToken);
        await scoring.PublishAsync(spooled.SelectMany(message => message.Observations), cancellationToken);
        await AcknowledgeAsync(batch, cancellationToken);
    }

    /// <summary>A decoder's bug costs its message a dead letter, not the whole pipeline (an exception here would stop ingestion).</summary>
    private NormalizeOutcome NormalizeSafely(IngestMessage message)
    {
        try
        {
            return normalizer.Normalize(message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogDecoderFault(ex, message.Topic);
            return NormalizeOutcome.Reject(RejectionCodes.DecoderFault, $"unexpected {ex.GetType().Name} while decoding: {ex.Message} (a bug: replay once fixed)");
        }
    }

    private async Task AcknowledgeAsync(IReadOnlyList<IngestMessage> batch, CancellationToken cancellationToken)
    {
        var lost = 0;
        string? reason = null;
        foreach (var message in batch)
        {
            try
            {
                await message.AcknowledgeAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The connection the message came on is gone (broker restart, network): the broker redelivers it on
                // the next connection, and its deterministic Observation ids make the second write a no-op.
                lost++;
                reason ??= ex.Message;
                counters.AcknowledgementLost();
            }

            counters.DurableLag.Observe(time.GetUtcNow() - message.ReceivedAt);
        }

        if (lost > 0)
        {
            LogAcknowledgementsLost(lost, reason!);
        }
    }

    /// <summary>
    /// Makes the batch's Observations durable: in the store, or in the spool when the store is unavailable (or while
    /// the spool still holds older data, which must reach the store first), or in the dead-letter store for those the
    /// store refuses as the data's fault. Returns how many were stored; nothing is acknowledged before this returns.
    /// </summary>
    private async Task<int> WriteUntilDurableAsync(List<SpooledMessage> messages, List<string> reasonCodes, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return 0;
        }

        var observations = new List<Observation>();
        var owners = new List<int>();
        for (var i = 0; i < messages.Count; i++)
        {
            foreach (var observation in messages[i].Observations)
            {
                observations.Add(observation);
                owners.Add(i);
            }
        }

        var delay = FirstRetryDelay;
        while (true)
        {
            if (!spool.HasPending)
            {
                try
                {
                    var rejections = await writer.WriteAsync(observations, cancellationToken);
                    spool.ClearDiskError();
                    EndOutage();
                    EndPause();
                    if (rejections.Count == 0)
                    {
                        return observations.Count;
                    }

                    var refused = rejections.GroupBy(r => owners[r.Index]).Select(g => (Message: messages[g.Key], g.First().Reason)).ToList();
                    await AddDeadLettersAsync(
                        refused.ConvertAll(r => new Rejection(r.Message.Topic, r.Message.Payload, r.Message.ReceivedAt, RejectionCodes.StoreRejected, r.Reason)),
                        cancellationToken);
                    reasonCodes.AddRange(refused.Select(_ => RejectionCodes.StoreRejected));
                    LogStoreRejected(refused.Count, rejections.Count, refused[0].Reason);
                    return observations.Count - rejections.Count;
                }
                catch (StoreWriteException ex) when (ex.Kind == StoreFailureKind.Access)
                {
                    // Not the data's fault and not transient: keep the batch unacknowledged until the operator acts.
                    pausedFor ??= System.Diagnostics.Stopwatch.StartNew();
                    LogAccessDenied(ex.Message, delay.TotalSeconds);
                    await Task.Delay(delay, time, cancellationToken);
                    delay = NextDelay(delay);
                    continue;
                }
                catch (StoreWriteException ex)
                {
                    BeginOutage(ex.Message);
                }
            }

            try
            {
                var appended = await spool.AppendAsync(messages, cancellationToken);
                if (appended == SpoolAppendResult.Appended)
                {
                    metrics.Spooled(observations.Count);
                    EndPause();
                    return 0;
                }

                pausedFor ??= System.Diagnostics.Stopwatch.StartNew();
                if (!fullLogged)
                {
                    fullLogged = true;
                    var status = spool.Status;
                    LogSpoolFull(status.Directory, status.Bytes, status.MaxBytes, status.Observations);
                }

                // Back-pressure: hold this batch, take no more messages (the channel fills, the receive loop waits,
                // the broker keeps the rest) until the replayer frees room or drains the spool.
                await spool.WaitForChangeAsync(TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (SpoolUnavailableException ex)
            {
                pausedFor ??= System.Diagnostics.Stopwatch.StartNew();
                LogSpoolFailed(ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = NextDelay(delay);
            }
        }
    }

    private async Task AddDeadLettersAsync(List<Rejection> letters, CancellationToken cancellationToken)
    {
        // The dead-letter store is a local file: while it fails (disk full...), the batch stays unacknowledged.
        var delay = FirstRetryDelay;
        while (letters.Count > 0)
        {
            try
            {
                await deadLetters.AddAsync(letters, cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogDeadLetterFailed(deadLetters.FilePath, ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = NextDelay(delay);
            }
        }
    }

    private void BeginOutage(string reason)
    {
        if (!spooling)
        {
            spooling = true;
            LogSpooling(reason, spool.DirectoryPath);
        }
    }

    private void EndOutage()
    {
        if (spooling)
        {
            spooling = false;
            LogStoreWritable(writer.Display);
        }
    }

    private void EndPause()
    {
        if (pausedFor is not null)
        {
            LogResumed(pausedFor.Elapsed.TotalSeconds);
            pausedFor = null;
            fullLogged = false;
        }
    }

    private static TimeSpan NextDelay(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Reason}: batches go to the spool {Directory} until the store takes them back")]
    private partial void LogSpooling(string reason, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Store {Store} takes batches directly again")]
    private partial void LogStoreWritable(string store);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Reason}; retrying in {DelaySeconds:F1} s (a configuration problem: the batch stays unacknowledged, nothing is spooled)")]
    private partial void LogAccessDenied(string reason, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The store refused {Observations} observation(s) of {Messages} message(s) as the data's fault; dead-lettered as store-rejected (first reason: {Reason})")]
    private partial void LogStoreRejected(int messages, int observations, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spool {Directory} is full ({Bytes} of {MaxBytes} bytes, {Observations} observation(s) waiting for the store): ingestion is paused, messages stay unacknowledged at the broker until the store takes the spool back (Store:SpoolMaxBytes)")]
    private partial void LogSpoolFull(string directory, long bytes, long maxBytes, long observations);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Reason}: ingestion is paused, messages stay unacknowledged at the broker; retrying in {DelaySeconds:F1} s")]
    private partial void LogSpoolFailed(string reason, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingestion resumes after a pause of {Seconds:F1} s: batches are durable again")]
    private partial void LogResumed(double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Decoder fault on {Topic}: the message is dead-lettered as decoder-fault")]
    private partial void LogDecoderFault(Exception exception, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} durable message(s) could not be acknowledged ({Reason}): the broker will redeliver them, and they will not be stored twice")]
    private partial void LogAcknowledgementsLost(int count, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot write dead letters to {Path}: {Reason}; retrying in {DelaySeconds:F1} s (messages stay unacknowledged)")]
    private partial void LogDeadLetterFailed(string path, string reason, double delaySeconds);
}
