using System.Globalization;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace TeleSuivi.Server.Storage.Spool;

/// <summary>What an append did.</summary>
public enum SpoolAppendResult
{
    /// <summary>On disk, fsynced: the batch may be acknowledged.</summary>
    Appended,

    /// <summary>The spool is at <see cref="StoreOptions.SpoolMaxBytes"/>: nothing was written.</summary>
    Full,
}

/// <summary>The spool's state at one moment, for health, metrics and logs.</summary>
public sealed record SpoolStatus(
    string Directory,
    long Bytes,
    long MaxBytes,
    long Messages,
    long Observations,
    int Segments,
    bool Full,
    string? DiskError)
{
    public bool HasPending => Observations > 0 || Messages > 0;
}

/// <summary>
/// The durable on-disk spool of batches the observation store could not take: append-only segment files
/// (<see cref="SpoolFormat"/>) in <see cref="StoreOptions.SpoolDirectory"/>, replayed to the store in the order they
/// were written by <see cref="SpoolReplayer"/>, deleted once replayed. Bounded by <see cref="StoreOptions.SpoolMaxBytes"/>.
/// </summary>
/// <remarks>
/// One process appends (the ingest processor) while one replays (the replayer). Appends go to the newest segment,
/// replays read sealed segments only: the replayer seals the newest one when it is the only one left. A new process
/// never appends to a segment of a previous one (its tail may be torn), it starts a new one.
/// </remarks>
public sealed partial class ObservationSpool : IDisposable
{
    private readonly Lock state = new();
    private readonly SemaphoreSlim appending = new(1, 1);
    private readonly List<Segment> segments = [];
    private readonly ILogger<ObservationSpool> logger;
    private Segment? active;
    private SafeFileHandle? activeHandle;
    private long nextSequence = 1;
    private long bytes;
    private long messages;
    private long observations;
    private bool full;
    private string? diskError;
    private TaskCompletionSource changed = NewSignal();

    public ObservationSpool(IOptions<StoreOptions> options, ILogger<ObservationSpool> logger)
    {
        var settings = options.Value;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(settings.SpoolMaxBytes);
        DirectoryPath = settings.ResolveSpoolDirectory();
        MaxBytes = settings.SpoolMaxBytes;
        SegmentBytes = Math.Max(1, settings.ResolveSpoolSegmentBytes());
        this.logger = logger;
    }

    public string DirectoryPath { get; }

    public long MaxBytes { get; }

    public long SegmentBytes { get; }

    /// <summary>True while some spooled Observations are not yet replayed to the store.</summary>
    public bool HasPending
    {
        get
        {
            lock (state)
            {
                return messages > 0;
            }
        }
    }

    public SpoolStatus Status
    {
        get
        {
            lock (state)
            {
                return new SpoolStatus(DirectoryPath, bytes, MaxBytes, messages, observations, segments.Count, full && messages > 0, diskError);
            }
        }
    }

    /// <summary>
    /// Creates the folder and takes stock of the segments a previous process left (they are replayed first).
    /// Throws <see cref="ConfigurationException"/> when the folder cannot be used.
    /// </summary>
    public void Open()
    {
        try
        {
            Directory.CreateDirectory(DirectoryPath);
            var found = new List<Segment>();
            foreach (var path in Directory.EnumerateFiles(DirectoryPath, "*" + SpoolFormat.SegmentExtension))
            {
                if (!SpoolFormat.TryParseSegmentFileName(Path.GetFileName(path), out var sequence))
                {
                    continue;
                }

                var summary = SpoolSegmentReader.Summarize(path);
                found.Add(new Segment(sequence, path)
                {
                    Bytes = new FileInfo(path).Length,
                    Records = summary.Records,
                    Messages = summary.Messages,
                    Observations = summary.Observations,
                });
            }

            found.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
            lock (state)
            {
                segments.Clear();
                segments.AddRange(found);
                bytes = found.Sum(s => s.Bytes);
                messages = found.Sum(s => s.Messages);
                observations = found.Sum(s => s.Observations);
                nextSequence = found.Count == 0 ? 1 : found[^1].Sequence + 1;
            }

            if (found.Count > 0)
            {
                LogFoundSegments(found.Count, DirectoryPath, observations, messages, bytes);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot use the spool folder {DirectoryPath}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Appends one batch as one record and fsyncs it. <see cref="SpoolAppendResult.Full"/> when it would take the
    /// spool past its maximum (an empty spool always takes one batch, so that no batch can be too large to ever pass).
    /// Throws <see cref="SpoolUnavailableException"/> when the disk fails (no space left, read-only, removed folder):
    /// then nothing of the batch counts as spooled.
    /// </summary>
    public async Task<SpoolAppendResult> AppendAsync(IReadOnlyList<SpooledMessage> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        byte[] record;
        int observationCount;
        try
        {
            record = SpoolFormat.EncodeRecord(batch, out observationCount);
        }
        catch (SpoolRecordTooLargeException) when (batch.Count > 1)
        {
            // Halves, each a record of its own (a retry after a Full may spool the first half twice: harmless).
            var half = batch.Count / 2;
            var first = await AppendAsync([.. batch.Take(half)], cancellationToken);
            return first == SpoolAppendResult.Full ? first : await AppendAsync([.. batch.Skip(half)], cancellationToken);
        }
        catch (SpoolRecordTooLargeException ex)
        {
            throw new SpoolUnavailableException($"cannot spool a message on {batch[0].Topic}: {ex.Message}", ex);
        }

        await appending.WaitAsync(cancellationToken);
        try
        {
            lock (state)
            {
                var newSegment = active is null || active.Bytes >= SegmentBytes;
                var needed = record.Length + (newSegment ? SpoolFormat.FileHeaderBytes : 0);
                if (messages > 0 && bytes + needed > MaxBytes)
                {
                    SetFull(true);
                    return SpoolAppendResult.Full;
                }
            }

            // The write and the fsync are not cancelled half-way: a record is either durable or torn, never both.
            Write(record, batch.Count, observationCount);
            lock (state)
            {
                full = false;
                diskError = null;
                Signal();
            }

            return SpoolAppendResult.Appended;
        }
        finally
        {
            appending.Release();
        }
    }

    /// <summary>
    /// Completes when the spool changes (an append, a replay, a segment removed, a failure) or after
    /// <paramref name="timeout"/>, whichever comes first.
    /// </summary>
    public async Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task signal;
        lock (state)
        {
            signal = changed.Task;
        }

        try
        {
            await signal.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>
    /// The oldest segment, to replay then <see cref="Remove"/>; null when there is nothing to replay. Seals the segment
    /// being appended to when it is the only one left, so that the next append starts a new one.
    /// </summary>
    internal async Task<Segment?> NextToReplayAsync(CancellationToken cancellationToken)
    {
        await appending.WaitAsync(cancellationToken);
        try
        {
            lock (state)
            {
                if (segments.Count == 0)
                {
                    return null;
                }

                var oldest = segments[0];
                if (oldest == active)
                {
                    if (oldest.Records == 0)
                    {
                        return null;
                    }

                    CloseActive();
                }

                return oldest;
            }
        }
        finally
        {
            appending.Release();
        }
    }

    /// <summary>
    /// Forgets the last disk failure once the spool is not needed (the store took a batch directly): the spool is
    /// not reported unhealthy for a disk it is not using. The next append finds out again.
    /// </summary>
    public void ClearDiskError()
    {
        lock (state)
        {
            if (diskError is not null && messages == 0)
            {
                diskError = null;
                Signal();
            }
        }
    }

    /// <summary>Opens a sealed segment for reading.</summary>
    internal static SpoolSegmentReader Read(Segment segment) => new(segment.Path);

    /// <summary>Records that Observations of a segment reached the store (or the dead-letter store).</summary>
    internal void MarkReplayed(Segment segment, int records, int replayedMessages, int replayedObservations)
    {
        lock (state)
        {
            var m = Math.Min(replayedMessages, segment.Messages);
            var o = Math.Min(replayedObservations, segment.Observations);
            segment.Records = Math.Max(0, segment.Records - records);
            segment.Messages -= m;
            segment.Observations -= o;
            messages -= m;
            observations -= o;
            Signal();
        }
    }

    /// <summary>
    /// Removes a replayed segment: deleted, or renamed <c>*.damaged</c> for the operator to look at when it held bytes
    /// that were damaged on disk. Whatever the segment still counted leaves the spool's totals.
    /// </summary>
    internal void Remove(Segment segment, bool keepAsDamaged)
    {
        if (keepAsDamaged)
        {
            File.Move(segment.Path, Path.ChangeExtension(segment.Path, SpoolFormat.DamagedExtension), overwrite: true);
        }
        else
        {
            File.Delete(segment.Path);
        }

        lock (state)
        {
            if (segments.Remove(segment))
            {
                bytes -= segment.Bytes;
                messages -= segment.Messages;
                observations -= segment.Observations;
            }

            Signal();
        }
    }

    /// <summary>
    /// Removes every spooled Observation of <paramref name="subject"/> (the right to erasure), and each message left
    /// with none: every segment that holds some is rewritten without them (a new file, fsynced, renamed over the
    /// old one), or deleted when nothing is left. Segments kept as <c>*.damaged</c> are searched as far as they can
    /// be read. For a spool no process appends to or replays (the erasure runs with the server stopped); the spool's
    /// totals are taken again from disk afterwards.
    /// </summary>
    public async Task<SpoolErasure> EraseSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        await appending.WaitAsync(cancellationToken);
        try
        {
            lock (state)
            {
                CloseActive();
            }

            long observationsErased = 0, messagesErased = 0;
            var unsearchable = new List<string>();
            if (Directory.Exists(DirectoryPath))
            {
                var files = Directory.EnumerateFiles(DirectoryPath, "*" + SpoolFormat.SegmentExtension)
                    .Concat(Directory.EnumerateFiles(DirectoryPath, "*" + SpoolFormat.DamagedExtension))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                foreach (var path in files)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (observationsOut, messagesOut, unreadable) = EraseSubjectFromFile(path, subject);
                    observationsErased += observationsOut;
                    messagesErased += messagesOut;
                    if (unreadable is not null)
                    {
                        unsearchable.Add(unreadable);
                    }
                }
            }

            Open();
            return new SpoolErasure(observationsErased, messagesErased, unsearchable);
        }
        finally
        {
            appending.Release();
        }
    }

    private (long Observations, long Messages, string? Unsearchable) EraseSubjectFromFile(string path, string subject)
    {
        var kept = new List<IReadOnlyList<SpooledMessage>>();
        long observationsErased = 0, messagesErased = 0;
        SpoolTear? tear;
        using (var reader = new SpoolSegmentReader(path))
        {
            while (reader.TryRead(out var record))
            {
                var messagesKept = new List<SpooledMessage>(record.Messages.Count);
                foreach (var message in record.Messages)
                {
                    var others = message.Observations.Where(o => o.Subject?.Reference != subject).ToList();
                    observationsErased += message.Observations.Count - others.Count;
                    if (others.Count == message.Observations.Count)
                    {
                        messagesKept.Add(message);
                    }
                    else if (others.Count > 0)
                    {
                        // The message also carries readings of another patient (a device re-assigned within one
                        // payload): those stay, with the message they came in.
                        messagesKept.Add(message with { Observations = others });
                    }
                    else
                    {
                        messagesErased++;
                    }
                }

                if (messagesKept.Count > 0)
                {
                    kept.Add(messagesKept);
                }
            }

            tear = reader.Tear;
        }

        var unsearchable = tear is { Tail: false }
            ? string.Create(CultureInfo.InvariantCulture, $"{path}: damaged from byte {tear.Offset} ({tear.Reason}); the {tear.BytesDiscarded} byte(s) from there cannot be read, so they were not searched")
            : null;
        if (observationsErased == 0)
        {
            return (0, 0, unsearchable);
        }

        if (kept.Count == 0)
        {
            File.Delete(path);
        }
        else
        {
            // Only the good records are copied: a torn tail was never acknowledged, and damaged bytes (of a file kept
            // as *.damaged) could not be read anyway and may hold more of the patient's data.
            var rewritten = path + ".erasing";
            using (var handle = File.OpenHandle(rewritten, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                long offset = 0;
                RandomAccess.Write(handle, SpoolFormat.FileMagic, offset);
                offset += SpoolFormat.FileHeaderBytes;
                foreach (var messages in kept)
                {
                    var record = SpoolFormat.EncodeRecord(messages, out _);
                    RandomAccess.Write(handle, record, offset);
                    offset += record.Length;
                }

                RandomAccess.FlushToDisk(handle);
            }

            File.Move(rewritten, path, overwrite: true);
        }

        DirectorySync.Flush(DirectoryPath);
        return (observationsErased, messagesErased, null);
    }

    public void Dispose()
    {
        lock (state)
        {
            CloseActive();
        }

        appending.Dispose();
    }

    private void Write(byte[] record, int messageCount, int observationCount)
    {
        Segment? created = null;
        try
        {
            if (active is null || active.Bytes >= SegmentBytes)
            {
                lock (state)
                {
                    CloseActive();
                }

                created = CreateSegment();
            }

            var segment = active!;
            var offset = segment.Bytes;
            try
            {
                RandomAccess.Write(activeHandle!, record, offset);
                RandomAccess.FlushToDisk(activeHandle!);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Leave no half record behind: cut the file back, and start a new segment for the next append
                // (if the cut fails too, the reader stops at the torn record, which was never acknowledged).
                try
                {
                    RandomAccess.SetLength(activeHandle!, offset);
                }
                catch (Exception cut) when (cut is IOException or UnauthorizedAccessException)
                {
                    LogCannotTruncate(segment.Path, cut.Message);
                }

                lock (state)
                {
                    CloseActive();
                }

                throw;
            }

            if (created is not null)
            {
                // The new file's name must survive a power cut as well as its content.
                DirectorySync.Flush(DirectoryPath);
            }

            lock (state)
            {
                segment.Bytes += record.Length;
                segment.Records++;
                segment.Messages += messageCount;
                segment.Observations += observationCount;
                bytes += record.Length;
                messages += messageCount;
                observations += observationCount;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (created is { Records: 0 })
            {
                lock (state)
                {
                    if (active == created)
                    {
                        CloseActive();
                    }
                }

                DeleteQuietly(created);
            }

            // The size of what could not be written and the room left: a single record larger than the free space
            // (one message of many Observations) keeps failing while smaller ones would fit.
            var error = string.Create(CultureInfo.InvariantCulture, $"{ex.Message} (a record of {record.Length:N0} bytes{FreeSpace()})");
            lock (state)
            {
                diskError = error;
                Signal();
            }

            throw new SpoolUnavailableException($"cannot write to the spool {DirectoryPath}: {error}", ex);
        }
    }

    private string FreeSpace()
    {
        try
        {
            return string.Create(CultureInfo.InvariantCulture, $"; {new DriveInfo(DirectoryPath).AvailableFreeSpace:N0} bytes free on its disk");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return string.Empty; // the folder is gone or unreadable: its own error says so
        }
    }

    private Segment CreateSegment()
    {
        Directory.CreateDirectory(DirectoryPath);
        long sequence;
        lock (state)
        {
            sequence = nextSequence++;
        }

        var path = Path.Combine(DirectoryPath, SpoolFormat.SegmentFileName(sequence));
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        var segment = new Segment(sequence, path);
        try
        {
            RandomAccess.Write(handle, SpoolFormat.FileMagic, 0);
        }
        catch
        {
            handle.Dispose();
            File.Delete(path);
            throw;
        }

        lock (state)
        {
            segment.Bytes = SpoolFormat.FileHeaderBytes;
            bytes += SpoolFormat.FileHeaderBytes;
            segments.Add(segment);
            active = segment;
            activeHandle = handle;
        }

        return segment;
    }

    private void DeleteQuietly(Segment segment)
    {
        lock (state)
        {
            if (segments.Remove(segment))
            {
                bytes -= segment.Bytes;
            }
        }

        try
        {
            File.Delete(segment.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCannotDelete(segment.Path, ex.Message);
        }
    }

    private void CloseActive()
    {
        activeHandle?.Dispose();
        activeHandle = null;
        active = null;
    }

    private void SetFull(bool value)
    {
        if (full != value)
        {
            full = value;
            Signal();
        }
    }

    private void Signal()
    {
        var previous = changed;
        changed = NewSignal();
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One segment file and what it still holds that is not replayed. Guarded by the spool's lock.</summary>
    internal sealed class Segment(long sequence, string path)
    {
        public long Sequence { get; } = sequence;

        public string Path { get; } = path;

        public string Name => System.IO.Path.GetFileName(Path);

        public long Bytes { get; set; }

        public int Records { get; set; }

        public long Messages { get; set; }

        public long Observations { get; set; }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({Records} record(s), {Bytes} bytes)");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Spool {Directory}: {Segments} segment(s) left by a previous run hold {Observations} observation(s) of {Messages} message(s) ({Bytes} bytes); they are replayed to the store first")]
    private partial void LogFoundSegments(int segments, string directory, long observations, long messages, long bytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot cut the spool segment {Path} back after a failed write: {Reason} (its torn last record was never acknowledged and is skipped on replay)")]
    private partial void LogCannotTruncate(string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot delete the empty spool segment {Path}: {Reason}")]
    private partial void LogCannotDelete(string path, string reason);
}

/// <summary>What an erasure removed from the spool, and the files it could not search entirely.</summary>
public sealed record SpoolErasure(long Observations, long Messages, IReadOnlyList<string> Unsearchable);

/// <summary>A batch too large for one spool record (<see cref="SpoolFormat.MaxRecordBytes"/>).</summary>
public sealed class SpoolRecordTooLargeException(string message) : Exception(message);

/// <summary>The spool's disk refused a write (no space left, read-only file system, folder removed): nothing was spooled.</summary>
public sealed class SpoolUnavailableException(string message, Exception innerException) : IOException(message, innerException);
