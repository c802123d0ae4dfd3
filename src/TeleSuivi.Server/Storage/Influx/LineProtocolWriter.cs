using System.Buffers;
using System.Globalization;
using System.Text;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>The unit of the timestamps in a line-protocol body; sent as the <c>precision</c> of <c>/write</c>.</summary>
public enum TimePrecision
{
    Nanoseconds,
    Milliseconds,
    Seconds,
}

/// <summary>
/// Writes points in InfluxDB line protocol (<c>measurement,tag=v field=1.5,n=2i,s="x",b=true 1700000000000</c>)
/// into a pooled, growable buffer, one point per line, without a string per point.
/// </summary>
/// <remarks>
/// <para>A point is <see cref="Measurement"/>, then <see cref="Tag"/>s in ascending key order (the order InfluxDB
/// sorts them in: the server does less work, and the writer checks it, which also rejects a repeated key), then at
/// least one <see cref="Field(string, double)"/>, then <see cref="End(DateTimeOffset)"/>.</para>
/// <para>Escaping follows the line-protocol reference: commas and spaces in measurements; commas, equals signs and
/// spaces in tag keys, tag values and field keys; double quotes and backslashes in string field values. Other
/// characters, including any Unicode, are written as UTF-8.</para>
/// <para>What the protocol cannot carry is rejected with an <see cref="ArgumentException"/> instead of being stored
/// differently: a line break (CR or LF) in a measurement, key or tag value (it would end the line); a backslash that
/// ends a measurement, key or tag value or precedes a comma, equals sign, space or double quote there (InfluxDB 1.x
/// reads it as an escape and changes the text); the key <c>time</c>; a non-finite float; text that is not valid
/// UTF-16. A tag whose value is null or empty is left out, as InfluxDB has no empty tag value. Line breaks inside
/// string field values are written as they are: InfluxDB reads them inside the quotes.</para>
/// <para>A call that throws removes the point being written, so the buffer only ever holds whole points.</para>
/// </remarks>
public sealed class LineProtocolWriter : IDisposable
{
    private const long UnixEpochTicks = 621_355_968_000_000_000;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly SearchValues<char> MeasurementSpecials = SearchValues.Create(", \\\r\n");
    private static readonly SearchValues<char> KeySpecials = SearchValues.Create(",= \\\r\n");
    private static readonly SearchValues<char> StringSpecials = SearchValues.Create("\"\\");

    private byte[] buffer;
    private int length;
    private int[] pointEnds;
    private int pointCount;
    private int pointStart;
    private State state;
    private string? lastTagKey;

    public LineProtocolWriter(TimePrecision precision = TimePrecision.Nanoseconds, int initialCapacity = 16 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialCapacity);
        Precision = precision;
        buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
        pointEnds = ArrayPool<int>.Shared.Rent(64);
    }

    private enum State
    {
        Idle,
        Tags,
        Fields,
    }

    /// <summary>The unit of the timestamps written; the client sends it as the <c>precision</c> of the request.</summary>
    public TimePrecision Precision { get; }

    /// <summary>How many whole points the buffer holds.</summary>
    public int PointCount => pointCount;

    /// <summary>How many bytes of whole points the buffer holds.</summary>
    public int Length => pointCount == 0 ? 0 : pointEnds[pointCount - 1];

    /// <summary>The whole points written so far, as UTF-8 line protocol. Valid until the next write or <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => buffer.AsMemory(0, Length);

    /// <summary>Starts a point.</summary>
    public LineProtocolWriter Measurement(string name)
    {
        try
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            if (state != State.Idle)
            {
                throw new InvalidOperationException("the previous point has not been ended");
            }

            if (name[0] == '#')
            {
                throw new ArgumentException($"measurement '{name}' starts with '#', which line protocol reads as a comment", nameof(name));
            }

            pointStart = length;
            state = State.Tags;
            lastTagKey = null;
            WriteEscaped(name, MeasurementSpecials, "measurement");
            return this;
        }
        catch
        {
            Abandon();
            throw;
        }
    }

    /// <summary>Adds a tag. Keys must come in ascending ordinal (UTF-8 byte) order; a null or empty value leaves the tag out.</summary>
    public LineProtocolWriter Tag(string key, string? value)
    {
        try
        {
            ArgumentException.ThrowIfNullOrEmpty(key);
            if (state != State.Tags)
            {
                throw new InvalidOperationException(state == State.Idle ? "a tag must follow Measurement()" : "tags must come before fields");
            }

            if (string.IsNullOrEmpty(value))
            {
                return this;
            }

            CheckKey(key, "tag key");
            if (lastTagKey is not null && CompareUtf8(lastTagKey, key) >= 0)
            {
                throw new ArgumentException($"tag key '{key}' comes after '{lastTagKey}': tags must be written once each, in ascending key order", nameof(key));
            }

            WriteByte((byte)',');
            WriteEscaped(key, KeySpecials, "tag key");
            WriteByte((byte)'=');
            WriteEscaped(value, KeySpecials, "tag value");
            lastTagKey = key;
            return this;
        }
        catch
        {
            Abandon();
            throw;
        }
    }

    /// <summary>Adds a float field (shortest text that reads back as the same double).</summary>
    public LineProtocolWriter Field(string key, double value)
    {
        try
        {
            if (!double.IsFinite(value))
            {
                throw new ArgumentException($"field '{key}' is {value}: line protocol has no NaN or infinity", nameof(value));
            }

            BeginField(key);
            var span = GetSpan(32);
            if (!value.TryFormat(span, out var written, "R", CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException("a double did not fit in 32 bytes");
            }

            length += written;
            return this;
        }
        catch
        {
            Abandon();
            throw;
        }
    }

    /// <summary>Adds an integer field (<c>42i</c>).</summary>
    public LineProtocolWriter Field(string key, long value)
    {
        try
        {
            BeginField(key);
            var span = GetSpan(21);
            value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
            span[written] = (byte)'i';
            length += written + 1;
            return this;
        }
        catch
        {
            Abandon();
            throw;
        }
    }

    /// <summary>Adds a boolean field (<c>true</c> / <c>false</c>).</summary>
    public LineProtocolWriter Field(string key, bool value)
    {
        try
        {
            BeginField(key);
            WriteAscii(value ? "true"u8 : "false"u8);
            return this;
        }
        catch
        {
            Abandon();
            throw;
        }
    }

    /// <summary>Adds a string field: double quotes and backslashes are escaped, anything else is written as is.</summary>
    public LineProtocolWriter Field(string key, string value)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(value);
            BeginField(key);
            WriteByte((byte)'"');
            WriteEscaped(value, StringSpecials, kind: null);
            WriteByte((byte)'"');
            return this;
        }
        catch
        {
            Abandon();
            throw;
        }
    }

    /// <summary>Ends the point with a timestamp, converted to <see cref="Precision"/> (rounded down).</summary>
    public void End(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - UnixEpochTicks;
        long value;
        switch (Precision)
        {
            case TimePrecision.Nanoseconds:
                if (ticks is > long.MaxValue / 100 or < long.MinValue / 100)
                {
                    Abandon();
                    throw new ArgumentOutOfRangeException(nameof(time), time, "InfluxDB stores nanosecond times between 1677-09-21 and 2262-04-11");
                }

                value = ticks * 100;
                break;
            case TimePrecision.Milliseconds:
                value = FloorDivide(ticks, TimeSpan.TicksPerMillisecond);
                break;
            default:
                value = FloorDivide(ticks, TimeSpan.TicksPerSecond);
                break;
        }

        End(value);
    }

    /// <summary>Ends the point with a timestamp already in <see cref="Precision"/> units since the Unix epoch.</summary>
    public void End(long timestamp)
    {
        EndFields();
        WriteByte((byte)' ');
        var span = GetSpan(21);
        timestamp.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        length += written;
        CompletePoint();
    }

    /// <summary>Ends the point without a timestamp: the server stamps it with its own clock.</summary>
    public void End()
    {
        EndFields();
        CompletePoint();
    }

    /// <summary>Forgets every point, keeping the buffer.</summary>
    public void Clear()
    {
        length = 0;
        pointCount = 0;
        pointStart = 0;
        state = State.Idle;
        lastTagKey = null;
    }

    /// <summary>The whole points as text, for tests and logs.</summary>
    public override string ToString() => Encoding.UTF8.GetString(buffer, 0, Length);

    public void Dispose()
    {
        var rented = Interlocked.Exchange(ref buffer, []);
        if (rented.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(rented);
            ArrayPool<int>.Shared.Return(pointEnds);
            pointEnds = [];
        }

        length = 0;
        pointCount = 0;
    }

    /// <summary>Where point <paramref name="index"/> ends (exclusive), in bytes from the start of the buffer.</summary>
    internal int PointEnd(int index) => pointEnds[index];

    /// <summary>Points <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 as one slice.</summary>
    internal ReadOnlyMemory<byte> Slice(int first, int count)
    {
        var start = first == 0 ? 0 : pointEnds[first - 1];
        return buffer.AsMemory(start, pointEnds[first + count - 1] - start);
    }

    /// <summary>
    /// Consecutive runs of points, each at most <paramref name="maxBytes"/> long unless one point alone is longer:
    /// the bodies of the requests a batch is split into.
    /// </summary>
    internal IEnumerable<(int First, int Count)> Chunks(int maxBytes)
    {
        var first = 0;
        while (first < pointCount)
        {
            var start = first == 0 ? 0 : pointEnds[first - 1];
            var count = 1;
            while (first + count < pointCount && pointEnds[first + count] - start <= maxBytes)
            {
                count++;
            }

            yield return (first, count);
            first += count;
        }
    }

    /// <summary>Compares keys in the byte order of their UTF-8 form, which is code-point order (InfluxDB sorts tags so).</summary>
    internal static int CompareUtf8(string left, string right)
    {
        var a = left.EnumerateRunes();
        var b = right.EnumerateRunes();
        while (true)
        {
            var hasA = a.MoveNext();
            var hasB = b.MoveNext();
            if (!hasA || !hasB)
            {
                return hasA ? 1 : hasB ? -1 : 0;
            }

            var order = a.Current.Value.CompareTo(b.Current.Value);
            if (order != 0)
            {
                return order;
            }
        }
    }

    private static void CheckKey(string key, string kind)
    {
        if (key == "time")
        {
            throw new ArgumentException($"{kind} 'time' is reserved by InfluxDB", nameof(key));
        }
    }

    private static long FloorDivide(long value, long divisor)
    {
        var quotient = Math.DivRem(value, divisor, out var remainder);
        return remainder < 0 ? quotient - 1 : quotient;
    }

    private void BeginField(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (state == State.Idle)
        {
            throw new InvalidOperationException("a field must follow Measurement()");
        }

        CheckKey(key, "field key");
        WriteByte(state == State.Tags ? (byte)' ' : (byte)',');
        state = State.Fields;
        WriteEscaped(key, KeySpecials, "field key");
        WriteByte((byte)'=');
    }

    private void EndFields()
    {
        if (state != State.Fields)
        {
            var message = state == State.Idle ? "no point has been started" : "a point needs at least one field";
            Abandon();
            throw new InvalidOperationException(message);
        }
    }

    private void CompletePoint()
    {
        WriteByte((byte)'\n');
        if (pointCount == pointEnds.Length)
        {
            var larger = ArrayPool<int>.Shared.Rent(pointEnds.Length * 2);
            pointEnds.AsSpan(0, pointCount).CopyTo(larger);
            ArrayPool<int>.Shared.Return(pointEnds);
            pointEnds = larger;
        }

        pointEnds[pointCount++] = length;
        state = State.Idle;
        lastTagKey = null;
    }

    /// <summary>Removes the point being written, so that the buffer only holds whole points.</summary>
    private void Abandon()
    {
        if (state != State.Idle)
        {
            length = pointStart;
            state = State.Idle;
            lastTagKey = null;
        }
    }

    /// <summary>
    /// Writes <paramref name="text"/> as UTF-8 with a backslash before each special character; <paramref name="kind"/>
    /// names a measurement, key or tag value (where line breaks and some backslashes cannot be carried), or is null
    /// for a string field value (where only the double quote and the backslash are escaped).
    /// </summary>
    private void WriteEscaped(ReadOnlySpan<char> text, SearchValues<char> specials, string? kind)
    {
        while (!text.IsEmpty)
        {
            var next = text.IndexOfAny(specials);
            var run = next < 0 ? text : text[..next];
            if (!run.IsEmpty)
            {
                var span = GetSpan(Utf8.GetMaxByteCount(run.Length));
                length += Utf8.GetBytes(run, span);
            }

            if (next < 0)
            {
                return;
            }

            var special = text[next];
            if (kind is null)
            {
                WriteByte((byte)'\\');
                WriteByte((byte)special);
            }
            else if (special is '\r' or '\n')
            {
                throw new ArgumentException($"{kind} contains a line break, which line protocol cannot carry there");
            }
            else if (special == '\\')
            {
                if (next + 1 == text.Length || text[next + 1] is ',' or '=' or ' ' or '"')
                {
                    throw new ArgumentException(
                        $"{kind} has a backslash at its end or before a comma, equals sign, space or double quote, which InfluxDB 1.x line protocol cannot carry");
                }

                WriteByte((byte)'\\');
            }
            else
            {
                WriteByte((byte)'\\');
                WriteByte((byte)special);
            }

            text = text[(next + 1)..];
        }
    }

    private void WriteByte(byte value)
    {
        GetSpan(1)[0] = value;
        length++;
    }

    private void WriteAscii(ReadOnlySpan<byte> value)
    {
        value.CopyTo(GetSpan(value.Length));
        length += value.Length;
    }

    private Span<byte> GetSpan(int size)
    {
        ObjectDisposedException.ThrowIf(buffer.Length == 0, this);
        if (buffer.Length - length < size)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, length + size));
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }

        return buffer.AsSpan(length);
    }
}
