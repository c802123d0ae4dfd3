using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace TeleSuivi.Devices.Normalization;

/// <summary>
/// The id of an Observation: the first 128 bits of the SHA-256 of its natural key <c>{device}|{code}|{effective time}</c>
/// (UTF-8), written as 32 lowercase hex digits. Stores already hold Observations under these ids, and a redelivered
/// reading must land on the same one: the function must never change.
/// </summary>
/// <remarks>128 bits: the chance of any collision among 10^15 readings is about 10^-9 (birthday bound n²/2^129).</remarks>
internal static class DeterministicId
{
    /// <summary>Natural keys up to this many UTF-8 bytes are hashed from the stack.</summary>
    private const int StackKeyBytes = 512;

    [ThreadStatic]
    private static IncrementalHash? threadSha256;

    public static UInt128 Of(string naturalKey)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(naturalKey.Length);
        var rented = maxBytes > StackKeyBytes ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        try
        {
            Span<byte> utf8 = rented ?? stackalloc byte[StackKeyBytes];
            return Hash(utf8[..Encoding.UTF8.GetBytes(naturalKey, utf8)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The id of <c>{deviceId}|{code}|{FormatInstant(effective)}</c>, without writing that key as a string.</summary>
    public static UInt128 Of(string deviceId, string code, DateTimeOffset effective)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(deviceId.Length + code.Length) + 2 + ObservationFactory.MaxInstantLength;
        var rented = maxBytes > StackKeyBytes ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        try
        {
            Span<byte> key = rented ?? stackalloc byte[StackKeyBytes];
            var length = Encoding.UTF8.GetBytes(deviceId, key);
            key[length++] = (byte)'|';
            length += Encoding.UTF8.GetBytes(code, key[length..]);
            key[length++] = (byte)'|';
            length += ObservationFactory.WriteInstant(key[length..], effective);
            return Hash(key[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static string ToFhirId(UInt128 id)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return Convert.ToHexStringLower(bytes);
    }

    private static UInt128 Hash(ReadOnlySpan<byte> key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];

        // The same SHA-256 as SHA256.HashData, on a hash object kept per thread: the one-shot call sets up and tears
        // down a native digest context every time, which cost as much as the digest itself.
        var sha256 = threadSha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha256.AppendData(key);
        sha256.GetHashAndReset(hash);
        return BinaryPrimitives.ReadUInt128BigEndian(hash);
    }
}
