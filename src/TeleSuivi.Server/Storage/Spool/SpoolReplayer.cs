using System.Diagnostics;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage.Spool;

/// <summary>
/// Drains the spool to the store, oldest segment first and each in the order it was written: while the store is
/// down it probes it (<see cref="IObservationStore.CheckWritableAsync"/>) with exponential back-off; Observations the
/// store refuses as the data's fault are dead-lettered with their message (<c>store-rejected</c>); a fully replayed
/// segment is deleted. Spooled data may reach the store twice (a crash between a write and the deletion): writes
/// are idempotent.
/// </summary>
public sealed partial class SpoolReplayer(
    ObservationSpool spool,
    StoreWriter writer,
    IObservationStore store,
    DeadLetterStore deadLetters,
    IngestCounters counters,
    WritePathMetrics metrics,
    IOptions<StoreOptions> options,
    TimeProvider time,
    ILogger<SpoolReplayer> logger) : BackgroundService
{
    /// <summary>Observations sent to the store in one write while replaying (records are grouped up to this).</summary>
    internal const int ObservationsPerWrite = 5_000;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(250);

    private readonly TimeSpan maxDelay = options.Value.SpoolRetryMaxDelay > TimeSpan.Zero ? options.Value.SpoolRetryMaxDelay : FirstRetryDelay;
    private readonly TimeSpan writeTimeout = options.Value.WriteTimeout;
    private volatile string? readError;
    private bool waitingForStore;
    private long drainedInEpisode;
    private Stopwatch? episode;

    /// <summary>Why the spool cannot be read right now (a disk error), or null.</summary>
    public string? ReadError => readError;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FirstRetryDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var segment = await spool.NextToReplayAsync(stoppingToken);
                if (segment is null)
                {
                    EndEpisode();
                    await spool.WaitForChangeAsync(TimeSpan.FromSeconds(5), stoppingToken);
                    continue;
                }

                episode ??= Stopwatch.StartNew();
                await ReplaySegmentAsync(segment, stoppingToken);
                readError = null;
                delay = FirstRetryDelay;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                readError = ex.Message;
                LogReadFailed(spool.DirectoryPath, ex.Message, delay.TotalSeconds);
                await DelayAsync(delay, stoppingToken);
                delay = Next(delay);
            }
        }
    }

    private async Task ReplaySegmentAsync(ObservationSpool.Segment segment, CancellationToken cancellationToken)
    {
        using (var reader = ObservationSpool.Read(segment))
        {
            var group = new List<SpoolRecord>();
            var groupObservations = 0;
            while (reader.TryRead(out var record))
            {
                group.Add(record);
                groupObservations += record.ObservationCount;
                if (groupObservations >= ObservationsPerWrite)
                {
                    await ReplayAsync(segment, group, cancellationToken);
                    group.Clear();
                    groupObservations = 0;
                }
            }

            if (group.Count > 0)
            {
                await ReplayAsync(segment, group, cancellationToken);
            }

            if (reader.Tear is { } tear)
            {
                if (tear.Tail)
                {
                    LogTornTail(segment.Name, tear.Offset, tear.BytesDiscarded, tear.Reason);
                }
                else
                {
                    LogDamaged(segment.Name, tear.Offset, tear.BytesDiscarded, tear.Reason, Path.ChangeExtension(segment.Name, SpoolFormat.DamagedExtension));
                }
            }

            spool.Remove(segment, keepAsDamaged: reader.Tear is { Tail: false });
        }
    }

    /// <summary>Writes the records' Observations to the store, waiting for it as long as it takes, then dead-letters what it refused.</summary>
    private async Task ReplayAsync(ObservationSpool.Segment segment, List<SpoolRecord> records, CancellationToken cancellationToken)
    {
        var observations = new List<Observation>();
        var messages = new List<SpooledMessage>();
        var owners = new List<int>();
        foreach (var record in records)
        {
            foreach (var message in record.Messages)
            {
                foreach (var observation in message.Observations)
                {
                    observations.Add(observation);
                    owners.Add(messages.Count);
                }

                messages.Add(message);
            }
        }

        var rejections = await WriteWhenStoreAcceptsAsync(observations, cancellationToken);
        var letters = new List<Rejection>();
        var reasons = new List<string>();
        foreach (var (owner, reason) in rejections.GroupBy(r => owners[r.Index]).Select(g => (g.Key, g.First().Reason)))
        {
            var message = messages[owner];
            letters.Add(new Rejection(message.Topic, message.Payload, message.ReceivedAt, RejectionCodes.StoreRejected, reason));
            reasons.Add(RejectionCodes.StoreRejected);
        }

        if (letters.Count > 0)
        {
            await AddDeadLettersAsync(letters, cancellationToken);
            LogRejected(letters.Count, rejections.Count, letters[0].Reason);
        }

        var stored = observations.Count - rejections.Count;
        counters.Add(0, stored, reasons);
        metrics.Replayed(stored);
        drainedInEpisode += observations.Count;
        spool.MarkReplayed(segment, records.Count, messages.Count, observations.Count);
    }

    private async Task<IReadOnlyList<Storage.StoreRejection>> WriteWhenStoreAcceptsAsync(List<Observation> observations, CancellationToken cancellationToken)
    {
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                var rejections = await writer.WriteAsync(observations, cancellationToken);
                if (waitingForStore)
                {
                    waitingForStore = false;
                    var status = spool.Status;
                    LogStoreBack(writer.Display, status.Observations, status.Bytes);
                }

                return rejections;
            }
            catch (StoreWriteException ex)
            {
                if (!waitingForStore)
                {
                    waitingForStore = true;
                    LogWaitingForStore(ex.Message, spool.Status.Observations);
                }
            }

            // Probe before writing again: a small write and read-back, at a slowing pace while the store stays down.
            while (true)
            {
                await DelayAsync(delay, cancellationToken);
                delay = Next(delay);
                if (await ProbeAsync(cancellationToken))
                {
                    break;
                }
            }
        }
    }

    private async Task<bool> ProbeAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(writeTimeout);
        try
        {
            await store.CheckWritableAsync(limit.Token);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogProbeFailed(writer.Display, ex.Message);
            return false;
        }
    }

    private async Task AddDeadLettersAsync(List<Rejection> letters, CancellationToken cancellationToken)
    {
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                await deadLetters.AddAsync(letters, cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogDeadLetterFailed(deadLetters.FilePath, ex.Message, delay.TotalSeconds);
                await DelayAsync(delay, cancellationToken);
                delay = Next(delay);
            }
        }
    }

    private void EndEpisode()
    {
        if (episode is not null && drainedInEpisode > 0)
        {
            LogDrained(drainedInEpisode, episode.Elapsed.TotalSeconds);
        }

        episode = null;
        drainedInEpisode = 0;
    }

    private TimeSpan Next(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxDelay.Ticks));

    private Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) => Task.Delay(delay, time, cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool replay waits for the store: {Reason}; {Observations} observation(s) stay in the spool, the store is probed with back-off")]
    private partial void LogWaitingForStore(string reason, long observations);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Store probe of {Store} failed: {Reason}")]
    private partial void LogProbeFailed(string store, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Store {Store} accepts writes again: replaying the spool ({Observations} observation(s), {Bytes} bytes)")]
    private partial void LogStoreBack(string store, long observations, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spool drained: {Observations} observation(s) replayed to the store in {Seconds:F1} s")]
    private partial void LogDrained(long observations, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool replay: the store refused {Observations} observation(s) of {Messages} message(s) as the data's fault; dead-lettered as store-rejected (first reason: {Reason})")]
    private partial void LogRejected(int messages, int observations, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool segment {Segment}: the last record, at byte {Offset}, is torn ({Reason}); its {Bytes} byte(s) are skipped (a write cut short by a crash before its fsync, so never acknowledged: the broker redelivers it); the records before it were replayed")]
    private partial void LogTornTail(string segment, long offset, long bytes, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Spool segment {Segment} is damaged at byte {Offset} ({Reason}): the records before it were replayed, the {Bytes} byte(s) from there cannot be read and are kept in {DamagedFile} for inspection")]
    private partial void LogDamaged(string segment, long offset, long bytes, string reason, string damagedFile);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot read the spool {Directory}: {Reason}; retrying in {DelaySeconds:F1} s")]
    private partial void LogReadFailed(string directory, string reason, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot write dead letters to {Path}: {Reason}; retrying in {DelaySeconds:F1} s")]
    private partial void LogDeadLetterFailed(string path, string reason, double delaySeconds);
}
