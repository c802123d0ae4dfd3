using System.Buffers;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>A write-only stream into a buffer rented from the shared pool: where a request body is gzip-compressed.</summary>
internal sealed class PooledBufferStream(int initialCapacity) : Stream
{
    private byte[] buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    private int length;

    public ReadOnlyMemory<byte> WrittenMemory => buffer.AsMemory(0, length);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => length;

    public override long Position
    {
        get => length;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(buffer.Length == 0, this);
        if (buffer.Length - length < source.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, length + source.Length));
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }

        source.CopyTo(buffer.AsSpan(length));
        length += source.Length;
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        var rented = Interlocked.Exchange(ref buffer, []);
        if (rented.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        length = 0;
        base.Dispose(disposing);
    }
}
