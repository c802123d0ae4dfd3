using System.Buffers;
using System.Buffers.Binary;

namespace TeleSuivi.Devices.Gatt;

/// <summary>Appends characteristic fields little-endian, as the Bluetooth health services transmit them.</summary>
internal sealed class GattWriter
{
    private readonly ArrayBufferWriter<byte> buffer = new(32);

    public void UInt8(byte value)
    {
        buffer.GetSpan(1)[0] = value;
        buffer.Advance(1);
    }

    public void UInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.GetSpan(2), value);
        buffer.Advance(2);
    }

    public void Int16(short value)
    {
        BinaryPrimitives.WriteInt16LittleEndian(buffer.GetSpan(2), value);
        buffer.Advance(2);
    }

    public void UInt24(uint value)
    {
        if (value > 0xFFFFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "a 24-bit field holds at most 0xFFFFFF");
        }

        var span = buffer.GetSpan(3);
        span[0] = (byte)value;
        span[1] = (byte)(value >> 8);
        span[2] = (byte)(value >> 16);
        buffer.Advance(3);
    }

    public void SFloat(Ieee11073Value value)
    {
        Ieee11073.WriteSFloat(buffer.GetSpan(Ieee11073.SFloatSize), value);
        buffer.Advance(Ieee11073.SFloatSize);
    }

    public void Float(Ieee11073Value value)
    {
        Ieee11073.WriteFloat(buffer.GetSpan(Ieee11073.FloatSize), value);
        buffer.Advance(Ieee11073.FloatSize);
    }

    public void DateTime(GattDateTime value)
    {
        value.Write(buffer.GetSpan(GattDateTime.Size));
        buffer.Advance(GattDateTime.Size);
    }

    public byte[] ToArray() => buffer.WrittenSpan.ToArray();
}
