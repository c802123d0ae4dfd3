using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Gatt;

/// <summary>
/// Walks a characteristic value field by field and says precisely which field is missing when the payload is short.
/// </summary>
internal ref struct GattReader
{
    private readonly ReadOnlySpan<byte> payload;
    private readonly string characteristic;
    private int position;

    public GattReader(ReadOnlySpan<byte> payload, string characteristic)
    {
        this.payload = payload;
        this.characteristic = characteristic;
        position = 0;
    }

    public readonly int Remaining => payload.Length - position;

    /// <summary>A field the characteristic always carries; <paramref name="field"/> reads like "the systolic pressure".</summary>
    public bool TryTakeMandatory(int size, string field, out ReadOnlySpan<byte> bytes, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (TryTake(size, out bytes))
        {
            return true;
        }

        error = $"{characteristic}: {field} is mandatory but the payload ends at byte {payload.Length}";
        return false;
    }

    /// <summary>A field the flags announce; <paramref name="field"/> reads like "a time stamp".</summary>
    public bool TryTakeAnnounced(int size, string field, out ReadOnlySpan<byte> bytes, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (TryTake(size, out bytes))
        {
            return true;
        }

        error = $"{characteristic}: flags announce {field} but the payload ends at byte {payload.Length}";
        return false;
    }

    /// <summary>
    /// After the last field: bytes left over are an error, unless reserved flag bits are set, because a later revision
    /// of the characteristic may announce a field with them that this decoder does not know.
    /// </summary>
    public readonly bool CheckEnd(byte flags, byte reservedFlagBits, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (Remaining == 0 || (flags & reservedFlagBits) != 0)
        {
            return true;
        }

        error = $"{characteristic}: {Remaining} unexpected byte{(Remaining == 1 ? "" : "s")} after the last field the flags announce, from byte {position}";
        return false;
    }

    /// <summary>Everything after the current position, for a field that runs to the end of the value.</summary>
    public ReadOnlySpan<byte> TakeRest()
    {
        var rest = payload[position..];
        position = payload.Length;
        return rest;
    }

    public readonly int Position => position;

    public static ushort UInt16(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt16LittleEndian(bytes);

    public static uint UInt24(ReadOnlySpan<byte> bytes) => bytes[0] | ((uint)bytes[1] << 8) | ((uint)bytes[2] << 16);

    private bool TryTake(int size, out ReadOnlySpan<byte> bytes)
    {
        if (Remaining < size)
        {
            bytes = default;
            return false;
        }

        bytes = payload.Slice(position, size);
        position += size;
        return true;
    }
}
