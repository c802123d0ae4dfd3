using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Server.Storage.Spool;

/// <summary>One record read back from a segment, checksum verified.</summary>
internal sealed record SpoolRecord(long Offset, int Bytes, IReadOnlyList<SpooledMessage> Messages, int ObservationCount);

/// <summary>
/// Where a segment stops being readable. <paramref name="Tail"/>: nothing readable can follow (the record runs to the
/// end of the file, or only zeros remain): the torn last append of a process that died before its fsync returned,
/// so never acknowledged. Otherwise bytes that once were a good record were damaged (a disk fault).
/// </summary>
internal sealed record SpoolTear(long Offset, long BytesDiscarded, string Reason, bool Tail);

/// <summary>Header totals of a segment, read without checking payloads (to size the spool at start-up).</summary>
internal readonly record struct SpoolSegmentSummary(int Records, long Messages, long Observations);

/// <summary>Reads the records of one segment file in order, verifying each checksum, and stops at the first tear.</summary>
internal sealed class SpoolSegmentReader : IDisposable
{
    private readonly FileStream stream;
    private readonly long length;
    private long offset;
    private bool started;

    public SpoolSegmentReader(string path)
    {
        Path = path;
        stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.SequentialScan);
        length = stream.Length;
    }

    public string Path { get; }

    /// <summary>Set when reading stopped before the end of the file.</summary>
    public SpoolTear? Tear { get; private set; }

    /// <summary>Counts records, messages and Observations from the headers alone, up to the first header that does not fit.</summary>
    public static SpoolSegmentSummary Summarize(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, FileOptions.RandomAccess);
        Span<byte> header = stackalloc byte[SpoolFormat.RecordHeaderBytes];
        var fileLength = file.Length;
        if (fileLength < SpoolFormat.FileHeaderBytes || file.Read(header[..SpoolFormat.FileHeaderBytes]) != SpoolFormat.FileHeaderBytes
            || !header[..SpoolFormat.FileHeaderBytes].SequenceEqual(SpoolFormat.FileMagic))
        {
            return default;
        }

        var records = 0;
        long messages = 0, observations = 0, position = SpoolFormat.FileHeaderBytes;
        while (fileLength - position >= SpoolFormat.RecordHeaderBytes)
        {
            file.Position = position;
            file.ReadExactly(header);
            var payload = BinaryPrimitives.ReadUInt32LittleEndian(header);
            if (payload == 0 || payload > SpoolFormat.MaxRecordBytes || fileLength - position - SpoolFormat.RecordHeaderBytes < payload)
            {
                break;
            }

            records++;
            messages += BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            observations += BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            position += SpoolFormat.RecordHeaderBytes + payload;
        }

        return new SpoolSegmentSummary(records, messages, observations);
    }

    /// <summary>The next good record; false at the end of the segment or at a tear (then <see cref="Tear"/> says where and why).</summary>
    public bool TryRead([NotNullWhen(true)] out SpoolRecord? record)
    {
        record = null;
        if (Tear is not null)
        {
            return false;
        }

        if (!started)
        {
            started = true;
            Span<byte> magic = stackalloc byte[SpoolFormat.FileHeaderBytes];
            var read = ReadAt(0, magic);
            if (read < SpoolFormat.FileHeaderBytes || !magic.SequenceEqual(SpoolFormat.FileMagic))
            {
                return Torn(0, read < SpoolFormat.FileHeaderBytes ? "the file header is incomplete" : "the file does not start with the spool header", tailIfZeros: read < SpoolFormat.FileHeaderBytes || RestIsZero(0));
            }

            offset = SpoolFormat.FileHeaderBytes;
        }

        var remaining = length - offset;
        if (remaining == 0)
        {
            return false;
        }

        if (remaining < SpoolFormat.RecordHeaderBytes)
        {
            return Torn(offset, $"only {remaining} byte(s) of a record header remain", tailIfZeros: true);
        }

        Span<byte> header = stackalloc byte[SpoolFormat.RecordHeaderBytes];
        ReadAt(offset, header);
        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var messages = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        var observations = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        var checksum = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (payloadLength == 0 || payloadLength > SpoolFormat.MaxRecordBytes || messages == 0 || messages > payloadLength || observations > payloadLength)
        {
            return Torn(offset, $"the record header is not valid (length {payloadLength}, {messages} message(s), {observations} observation(s))", tailIfZeros: RestIsZero(offset));
        }

        if (remaining - SpoolFormat.RecordHeaderBytes < payloadLength)
        {
            return Torn(offset, $"the record of {payloadLength} bytes is cut short at {remaining - SpoolFormat.RecordHeaderBytes}", tailIfZeros: true);
        }

        var payload = new byte[payloadLength];
        ReadAt(offset + SpoolFormat.RecordHeaderBytes, payload);
        var end = offset + SpoolFormat.RecordHeaderBytes + payloadLength;
        var actual = SpoolFormat.Checksum(header[..12], payload);
        if (actual != checksum)
        {
            return Torn(offset, $"checksum mismatch (stored {checksum:x8}, computed {actual:x8})", tailIfZeros: end == length || RestIsZero(end));
        }

        IReadOnlyList<SpooledMessage> decoded;
        try
        {
            decoded = SpoolFormat.DecodePayload(payload, (int)messages, (int)observations);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Torn(offset, $"the record passes its checksum but does not decode: {ex.Message}", tailIfZeros: false);
        }

        record = new SpoolRecord(offset, (int)(end - offset), decoded, (int)observations);
        offset = end;
        return true;
    }

    public void Dispose() => stream.Dispose();

    private bool Torn(long at, string reason, bool tailIfZeros)
    {
        Tear = new SpoolTear(at, length - at, reason, tailIfZeros);
        return false;
    }

    private bool RestIsZero(long from)
    {
        var buffer = new byte[64 * 1024];
        for (var position = from; position < length;)
        {
            var read = ReadAt(position, buffer);
            if (read == 0)
            {
                break;
            }

            if (buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                return false;
            }

            position += read;
        }

        return true;
    }

    private int ReadAt(long position, Span<byte> buffer)
    {
        stream.Position = position;
        var total = 0;
        while (total < buffer.Length)
        {
            var read = stream.Read(buffer[total..]);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
