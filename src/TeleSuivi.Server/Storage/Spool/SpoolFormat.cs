using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Storage.Spool;

/// <summary>
/// One MQTT message whose Observations wait in the spool, with what is needed to dead-letter it if the store
/// later refuses them (topic, payload, receive time).
/// </summary>
public sealed record SpooledMessage(string Topic, byte[] Payload, DateTimeOffset ReceivedAt, IReadOnlyList<Observation> Observations);

/// <summary>
/// The byte layout of spool segment files. All integers are little-endian.
/// <code>
/// segment  := "TSSPOOL1" record*
/// record   := length:u32  messages:u32  observations:u32  crc:u32  payload[length]
///             crc = CRC-32C of the 12 header bytes before it followed by the payload
/// payload  := message{messages}
/// message  := receivedAtUtcTicks:i64  topicLength:i32 topic(UTF-8)  payloadLength:i32 payload
///             observationCount:i32 (jsonLength:i32 observation(FHIR JSON, UTF-8)){observationCount}
/// </code>
/// A record is one batch; it is appended with one write and made durable with one fsync before the batch is
/// acknowledged. A crash can only tear the last record of a segment; the checksum finds it.
/// </summary>
internal static class SpoolFormat
{
    public const int FileHeaderBytes = 8;

    public const int RecordHeaderBytes = 16;

    /// <summary>Larger records are refused (to write) and taken for corruption (to read).</summary>
    public const int MaxRecordBytes = 512 * 1024 * 1024;

    public const string SegmentExtension = ".spool";

    public const string DamagedExtension = ".damaged";

    private static readonly FhirJsonSerializer Serializer = new();

    public static ReadOnlySpan<byte> FileMagic => "TSSPOOL1"u8;

    /// <summary>The name of the segment with this sequence number: they sort in the order they were written.</summary>
    public static string SegmentFileName(long sequence) => $"{sequence:D16}{SegmentExtension}";

    public static bool TryParseSegmentFileName(string fileName, out long sequence)
    {
        sequence = 0;
        return fileName.EndsWith(SegmentExtension, StringComparison.Ordinal)
            && fileName.Length == 16 + SegmentExtension.Length
            && long.TryParse(fileName.AsSpan(0, 16), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out sequence);
    }

    /// <summary>The bytes of one record (header and payload) holding <paramref name="messages"/>.</summary>
    public static byte[] EncodeRecord(IReadOnlyList<SpooledMessage> messages, out int observationCount)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("a spool record holds at least one message", nameof(messages));
        }

        var output = new ArrayBufferWriter<byte>(4096);
        output.Advance(RecordHeaderBytes);
        observationCount = 0;
        foreach (var message in messages)
        {
            WriteInt64(output, message.ReceivedAt.UtcTicks);
            WriteBytes(output, Encoding.UTF8.GetBytes(message.Topic));
            WriteBytes(output, message.Payload);
            WriteInt32(output, message.Observations.Count);
            foreach (var observation in message.Observations)
            {
                WriteBytes(output, Encoding.UTF8.GetBytes(Serializer.SerializeToString(observation)));
                observationCount++;
            }
        }

        var record = output.WrittenSpan.ToArray();
        var payloadLength = record.Length - RecordHeaderBytes;
        if (payloadLength > MaxRecordBytes)
        {
            throw new SpoolRecordTooLargeException($"{payloadLength} bytes is more than a spool record may hold ({MaxRecordBytes} bytes)");
        }

        var header = record.AsSpan(0, RecordHeaderBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)messages.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)observationCount);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], Checksum(header[..12], record.AsSpan(RecordHeaderBytes)));
        return record;
    }

    /// <summary>The messages of a record's payload; <see cref="InvalidDataException"/> when it does not hold what its header says.</summary>
    public static IReadOnlyList<SpooledMessage> DecodePayload(ReadOnlySpan<byte> payload, int messageCount, int observationCount)
    {
        var messages = new List<SpooledMessage>(messageCount);
        var position = 0;
        var observationsRead = 0;
        for (var i = 0; i < messageCount; i++)
        {
            var ticks = ReadInt64(payload, ref position);
            if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                throw new InvalidDataException($"message {i} has an impossible receive time");
            }

            var topic = Encoding.UTF8.GetString(ReadBytes(payload, ref position));
            var body = ReadBytes(payload, ref position).ToArray();
            var count = ReadInt32(payload, ref position);
            if (count < 0 || count > observationCount - observationsRead)
            {
                throw new InvalidDataException($"message {i} claims {count} observation(s)");
            }

            var observations = new List<Observation>(count);
            for (var j = 0; j < count; j++)
            {
                var json = Encoding.UTF8.GetString(ReadBytes(payload, ref position));
                observations.Add(FhirJsonDeserializer.OSTRICH.Deserialize<Observation>(json));
            }

            observationsRead += count;
            messages.Add(new SpooledMessage(topic, body, new DateTimeOffset(ticks, TimeSpan.Zero), observations));
        }

        if (position != payload.Length || observationsRead != observationCount)
        {
            throw new InvalidDataException($"the payload holds {observationsRead} observation(s) in {position} of {payload.Length} bytes; its header says {observationCount}");
        }

        return messages;
    }

    /// <summary>CRC-32C (Castagnoli) of the record header's first 12 bytes followed by the payload.</summary>
    public static uint Checksum(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) =>
        ~Crc32C(Crc32C(uint.MaxValue, header), payload);

    /// <summary>CRC-32C of <paramref name="data"/> (initial value all ones, final complement): 0xE3069283 for "123456789".</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => ~Crc32C(uint.MaxValue, data);

    private static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words)
        {
            crc = BitOperations.Crc32C(crc, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        }

        foreach (var b in data[(words.Length * sizeof(ulong))..])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    private static void WriteInt32(ArrayBufferWriter<byte> output, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    private static void WriteInt64(ArrayBufferWriter<byte> output, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        WriteInt32(output, bytes.Length);
        output.Write(bytes);
    }

    private static int ReadInt32(ReadOnlySpan<byte> payload, ref int position)
    {
        if (payload.Length - position < 4)
        {
            throw new InvalidDataException("the payload ends inside a length");
        }

        var value = BinaryPrimitives.ReadInt32LittleEndian(payload[position..]);
        position += 4;
        return value;
    }

    private static long ReadInt64(ReadOnlySpan<byte> payload, ref int position)
    {
        if (payload.Length - position < 8)
        {
            throw new InvalidDataException("the payload ends inside a time");
        }

        var value = BinaryPrimitives.ReadInt64LittleEndian(payload[position..]);
        position += 8;
        return value;
    }

    private static ReadOnlySpan<byte> ReadBytes(ReadOnlySpan<byte> payload, ref int position)
    {
        var length = ReadInt32(payload, ref position);
        if (length < 0 || length > payload.Length - position)
        {
            throw new InvalidDataException($"a field claims {length} bytes where {payload.Length - position} remain");
        }

        var bytes = payload.Slice(position, length);
        position += length;
        return bytes;
    }
}
