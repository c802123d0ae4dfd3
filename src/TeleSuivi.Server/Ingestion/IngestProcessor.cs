using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;
using System.Threading.Channels;
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
/// <remarks>
/// A pipeline of two loops: the first takes and normalises batch N+1 and starts its write while up to
/// <see cref="IngestOptions.WritesInFlight"/> - 1 older batches are still being written; the second completes the
/// batches strictly in the order they were taken (waits until the batch is durable, hands it to the alert and
/// scoring feeds, acknowledges its messages). Writes may finish in any order, acknowledgements never do: MQTT
/// requires PUBACKs in the order the PUBLISHes arrived ([MQTT-4.6.0-2]) and MQTTnet sends them as it is told, so a
/// batch stored early waits for the older ones before its messages are acknowledged.
/// </remarks>
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

    // The outage and pause state is shared by the writes in flight: each of them may find the store down or back.
    private readonly Lock outage = new();
    private bool spooling;
    private System.Diagnostics.Stopwatch? pausedFor;
    private bool fullLogged;

    // Batches appended to the spool by the completing loop since start (see SpoolInOrderAsync).
    private long spooledBatches;

    private TimeSpan minBatchAge;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var inFlight = settings.WritesInFlight >= 1
            ? settings.WritesInFlight
            : throw new ConfigurationException($"Ingest:WritesInFlight is {settings.WritesInFlight}: at least 1 batch must be written at a time");
        minBatchAge = settings.ResolveMinBatchAge(writer.Remote);
        var pending = Channel.CreateBounded<PendingBatch>(new BoundedChannelOptions(inFlight) { SingleReader = true, SingleWriter = true });
        using var slots = new SemaphoreSlim(inFlight, inFlight);
        using var stopTaking = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var completing = CompleteInOrderAsync(pending.Reader, slots, stopTaking, stoppingToken);
        var reader = channel.Reader;
        var recent = new Queue<PendingBatch>(inFlight);
        try
        {
            // On shutdown the MQTT client completes the channel first: this loop then empties it (the last, partial
            // batch included) and ends, the batches in flight are completed, and only then is the broker connection
            // closed (see MqttIngestClient.StopAsync).
            while (await WaitForMessagesAsync(reader, stopTaking.Token))
            {
                var batch = new List<IngestMessage>(settings.BatchSize);
                await FillBatchAsync(reader, batch, recent, stopTaking.Token);
                await slots.WaitAsync(stopTaking.Token);
                counters.BeginBatch(batch.Count, batch[0].ReceivedAt);
                PendingBatch started;
                try
                {
                    started = await StartBatchAsync(batch, recent, stoppingToken);
                }
                catch
                {
                    counters.EndBatch(batch.Count);
                    throw;
                }

                // Never waits: the slot taken above guarantees room.
                await pending.Writer.WriteAsync(started, stoppingToken);
                if (recent.Count == inFlight)
                {
                    recent.Dequeue();
                }

                recent.Enqueue(started);
            }
        }
        catch (OperationCanceledException) when (stopTaking.IsCancellationRequested)
        {
            // Stopping, or the completing loop failed (its exception is thrown below): the messages taken and not
            // written stay unacknowledged, and the broker delivers them again.
        }
        finally
        {
            pending.Writer.TryComplete();
            try
            {
                await completing;
            }
            finally
            {
                channel.MarkDrained();
            }
        }
    }

    /// <summary>A batch normalised, its decoding dead letters durable, its write started.</summary>
    /// <param name="SpooledBefore">How many batches the completing loop had appended to the spool when this one's write began.</param>
    /// <param name="Ids">The ids of its Observations.</param>
    private sealed record PendingBatch(
        IReadOnlyList<IngestMessage> Messages, List<SpooledMessage> Stored, List<Rejection> Letters, List<string> ReasonCodes, HashSet<string> Ids, long SpooledBefore, Task<StoreOutcome> Durable);

    /// <summary>
    /// Appends the batch to the spool when the store could not take it, and also when it was stored but an older batch
    /// went to the spool after its write began: the spool's replay would otherwise write the older copy of an
    /// Observation over this newer one. Spooled in the order taken, Observations reach the store in the order received.
    /// </summary>
    private async Task SpoolInOrderAsync(PendingBatch batch, StoreOutcome outcome, CancellationToken cancellationToken)
    {
        var overtaken = !outcome.ToSpool && Volatile.Read(ref spooledBatches) > batch.SpooledBefore;
        if (!outcome.ToSpool && !overtaken)
        {
            return;
        }

        var messages = outcome.Refused.Count == 0 ? batch.Stored : [.. batch.Stored.Where((_, i) => !outcome.Refused.Contains(i))];
        if (messages.Count == 0)
        {
            return;
        }

        await SpoolUntilDurableAsync(messages, cancellationToken);

        // Counted once appended, never before: a write that starts now and finds the spool empty again was not overtaken.
        Interlocked.Increment(ref spooledBatches);
    }

    /// <summary>Normalises the batch, makes its dead letters durable and starts the write of its Observations.</summary>
    private async Task<PendingBatch> StartBatchAsync(List<IngestMessage> batch, Queue<PendingBatch> recent, CancellationToken cancellationToken)
    {
        var spooled = new List<SpooledMessage>(batch.Count);
        var letters = new List<Rejection>();
        foreach (var message in batch)
        {
            var outcome = NormalizeSafely(message);
            if (outcome.Rejected)
            {
                letters.Add(new Rejection(message.Topic, message.Payload, message.ReceivedAt, outcome.ReasonCode!, outcome.Reason!, outcome.ReasonFr));
            }

            if (outcome.Observations.Count > 0)
            {
                spooled.Add(new SpooledMessage(message.Topic, message.Payload, message.ReceivedAt, outcome.Observations));
            }
        }

        await AddDeadLettersAsync(letters, cancellationToken);
        var reasonCodes = letters.ConvertAll(letter => letter.ReasonCode);
        var ids = new HashSet<string>(spooled.SelectMany(m => m.Observations).Select(o => o.Id).OfType<string>(), StringComparer.Ordinal);

        // Two writes in flight land in any order: an Observation also in an older batch still being written (a device
        // that sent a reading again, corrected) waits for that write, so that the newer copy is written last.
        foreach (var older in recent)
        {
            if (!older.Durable.IsCompleted && older.Ids.Overlaps(ids))
            {
                await Task.WhenAny(older.Durable);
            }
        }

        var spooledBefore = Volatile.Read(ref spooledBatches);
        return new PendingBatch(batch, spooled, letters, reasonCodes, ids, spooledBefore, TryStoreAsync(spooled, reasonCodes, cancellationToken));
    }

    /// <summary>
    /// Completes the batches in the order they were taken: waits until each is durable, then hands it to the alert
    /// and scoring feeds and acknowledges its messages. A failure here stops the taking loop too.
    /// </summary>
    private async Task CompleteInOrderAsync(ChannelReader<PendingBatch> pending, SemaphoreSlim slots, CancellationTokenSource stopTaking, CancellationToken cancellationToken)
    {
        // Let the taking loop start before this one runs its first wait (ExecuteAsync must return to the host quickly).
        await Task.Yield();
        try
        {
            await foreach (var batch in pending.ReadAllAsync(CancellationToken.None))
            {
                try
                {
                    var outcome = await batch.Durable;
                    await SpoolInOrderAsync(batch, outcome, cancellationToken);
                    counters.Add(batch.Messages.Count, outcome.Stored, batch.ReasonCodes);

                    // Durable now, not yet acknowledged: a full alert feed holds ingestion back rather than losing an alert.
                    await alerts.PublishAsync(batch.Stored.SelectMany(message => message.Observations), batch.Letters, cancellationToken);
                    await scoring.PublishAsync(batch.Stored.SelectMany(message => message.Observations), cancellationToken);
                    await AcknowledgeAsync(batch.Messages, cancellationToken);
                }
                finally
                {
                    counters.EndBatch(batch.Messages.Count);
                    slots.Release();
                }
            }
        }
        catch
        {
            await stopTaking.CancelAsync();

            // The batches still queued are abandoned unacknowledged: wait for their writes so that none runs on after
            // this service has stopped.
            while (pending.TryRead(out var abandoned))
            {
                counters.EndBatch(abandoned.Messages.Count);
                await Task.WhenAny(abandoned.Durable);
            }

            throw;
        }
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
    /// Writes the batch's Observations to the store, unless the spool holds older data (which must reach the store
    /// first) or the store is unavailable: then the result says so, and the completing loop appends the batch to the
    /// spool, in order. Those the store refuses as the data's fault are dead-lettered here. Runs concurrently with the
    /// writes of other batches; nothing is acknowledged before the completing loop has the result.
    /// </summary>
    private async Task<StoreOutcome> TryStoreAsync(List<SpooledMessage> messages, List<string> reasonCodes, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return new StoreOutcome(0, false, []);
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
        while (!spool.HasPending)
        {
            try
            {
                var rejections = await writer.WriteAsync(observations, cancellationToken);
                spool.ClearDiskError();
                EndOutage();
                EndPause();
                if (rejections.Count == 0)
                {
                    return new StoreOutcome(observations.Count, false, []);
                }

                var refused = rejections.GroupBy(r => owners[r.Index]).Select(g => (Index: g.Key, Message: messages[g.Key], g.First().Reason)).ToList();
                await AddDeadLettersAsync(
                    refused.ConvertAll(r => new Rejection(r.Message.Topic, r.Message.Payload, r.Message.ReceivedAt, RejectionCodes.StoreRejected, r.Reason)),
                    cancellationToken);
                reasonCodes.AddRange(refused.Select(_ => RejectionCodes.StoreRejected));
                LogStoreRejected(refused.Count, rejections.Count, refused[0].Reason);
                return new StoreOutcome(observations.Count - rejections.Count, false, [.. refused.Select(r => r.Index)]);
            }
            catch (StoreWriteException ex) when (ex.Kind == StoreFailureKind.Access)
            {
                // Not the data's fault and not transient: keep the batch unacknowledged until the operator acts.
                BeginPause();
                LogAccessDenied(ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = NextDelay(delay);
            }
            catch (StoreWriteException ex)
            {
                BeginOutage(ex.Message);
                break;
            }
        }

        return new StoreOutcome(0, true, []);
    }

    /// <summary>
    /// Appends the messages to the spool, waiting while it is full or its disk fails (back-pressure: this batch is
    /// held, no more are completed, the writes in flight end, no more messages are taken, the channel fills, the MQTT
    /// receive loop waits and the broker keeps the rest) until the replayer frees room or the disk recovers.
    /// </summary>
    private async Task SpoolUntilDurableAsync(IReadOnlyList<SpooledMessage> messages, CancellationToken cancellationToken)
    {
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                var appended = await spool.AppendAsync(messages, cancellationToken);
                if (appended == SpoolAppendResult.Appended)
                {
                    metrics.Spooled(messages.Sum(m => m.Observations.Count));
                    EndPause();
                    return;
                }

                if (BeginPause(spoolFull: true))
                {
                    var status = spool.Status;
                    LogSpoolFull(status.Directory, status.Bytes, status.MaxBytes, status.Observations);
                }

                await spool.WaitForChangeAsync(TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (SpoolUnavailableException ex)
            {
                BeginPause();
                LogSpoolFailed(ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = NextDelay(delay);
            }
        }
    }

    /// <summary>What <see cref="TryStoreAsync"/> did: Observations stored, whether the batch must go to the spool, the messages the store refused (dead-lettered).</summary>
    private sealed record StoreOutcome(int Stored, bool ToSpool, HashSet<int> Refused);

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
        lock (outage)
        {
            if (spooling)
            {
                return;
            }

            spooling = true;
        }

        LogSpooling(reason, spool.DirectoryPath);
    }

    private void EndOutage()
    {
        lock (outage)
        {
            if (!spooling)
            {
                return;
            }

            spooling = false;
        }

        LogStoreWritable(writer.Display);
    }

    /// <summary>Starts timing a pause if none is timed; with <paramref name="spoolFull"/>, true the first time the spool is found full in this pause.</summary>
    private bool BeginPause(bool spoolFull = false)
    {
        lock (outage)
        {
            pausedFor ??= System.Diagnostics.Stopwatch.StartNew();
            if (!spoolFull || fullLogged)
            {
                return false;
            }

            fullLogged = true;
            return true;
        }
    }

    private void EndPause()
    {
        TimeSpan paused;
        lock (outage)
        {
            if (pausedFor is null)
            {
                return;
            }

            paused = pausedFor.Elapsed;
            pausedFor = null;
            fullLogged = false;
        }

        LogResumed(paused.TotalSeconds);
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

    /// <summary>
    /// Takes what is queued, up to <see cref="IngestOptions.BatchSize"/>. Until the batch is
    /// <see cref="IngestOptions.MinBatchAge"/> old (zero for SQLite) it takes what arrives, whatever the store is doing: a
    /// remote store's cost is mostly per request. Then, when the queue is empty and no write is in flight, the batch
    /// goes at once: waiting could only delay it, since nothing else would share its write. While a write is in flight
    /// the batch keeps taking the readings that arrive, until that write ends (the store is free again), the batch is
    /// full or <see cref="IngestOptions.BatchDelay"/> has passed since it began: under load the readings that come
    /// during one write share the next.
    /// </summary>
    private async Task FillBatchAsync(ChannelReader<IngestMessage> reader, List<IngestMessage> batch, Queue<PendingBatch> recent, CancellationToken cancellationToken)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        window.CancelAfter(settings.BatchDelay);
        var aged = minBatchAge > TimeSpan.Zero ? Task.Delay(minBatchAge, time, window.Token) : null;
        Task<bool>? arriving = null;
        try
        {
            while (true)
            {
                while (batch.Count < settings.BatchSize && reader.TryRead(out var message))
                {
                    batch.Add(message);
                }

                if (batch.Count >= settings.BatchSize)
                {
                    return;
                }

                // One wait for the next reading, kept across the loop's turns: a write or an age that ends first does not cancel it.
                Task ending;
                if (aged is { IsCompleted: false })
                {
                    ending = aged;
                }
                else if (WriteInFlight(recent) is { } writing)
                {
                    ending = writing;
                }
                else
                {
                    return;
                }

                arriving ??= reader.WaitToReadAsync(window.Token).AsTask();
                if (await Task.WhenAny(arriving, ending) != arriving)
                {
                    continue;
                }

                if (!await arriving)
                {
                    return;
                }

                arriving = null;
            }
        }
        catch (OperationCanceledException) when (window.IsCancellationRequested)
        {
            // The window has passed (or the service stops: the caller sees its own token): the batch goes as it is.
        }
        finally
        {
            // A wait still pending would stay registered with the channel until the next reading.
            await window.CancelAsync();
        }
    }

    /// <summary>A task that ends when one of the writes still in flight ends; null when none is.</summary>
    private static Task<Task>? WriteInFlight(Queue<PendingBatch> recent)
    {
        // The batches not in recent have all been completed: completion is in order, and at most WritesInFlight are open.
        List<Task>? writing = null;
        foreach (var batch in recent)
        {
            if (!batch.Durable.IsCompleted)
            {
                (writing ??= []).Add(batch.Durable);
            }
        }

        return writing is null ? null : Task.WhenAny(writing);
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
