using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The 64-bit key the SQLite store indexes an Observation's id by (<c>observation_id.key</c>, <c>observation_log.id_key</c>):
/// the first 16 hex digits of an id of 32 (the platform's own ids, <c>DeterministicId</c>: already a hash), the first
/// 8 bytes of the SHA-256 of its UTF-8 otherwise. Keys are stored: the function must never change.
/// </summary>
/// <remarks>
/// Why not the id itself: the ids are random, so every fold chunk inserts its ids all over the index, and once the index
/// has more pages than a chunk has readings nearly every page of it is rewritten per chunk. An 8-byte key makes the
/// index about 2.3 times smaller (BENCHMARKS.md, Storage, "ninth round"). Two ids may share a key: by chance (a few in
/// a hundred that any pair does among 10^9 readings) or on purpose (ids of 32 characters that differ only after the
/// 16th). So the index is (key, seq), not unique by key, and every lookup checks the id of the row it finds.
/// </remarks>
internal static class ObservationIdKey
{
    /// <summary>The name of the SQL function <see cref="Register"/> adds, for the statements that index rows already stored (migration, retention).</summary>
    public const string SqlFunction = "telesuivi_id_key";

    public static long Of(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length == 32 && ulong.TryParse(id.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var top))
        {
            return unchecked((long)top);
        }

        var length = Encoding.UTF8.GetByteCount(id);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(rented.AsSpan(0, Encoding.UTF8.GetBytes(id, rented)), hash);
            return BinaryPrimitives.ReadInt64BigEndian(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Adds <see cref="SqlFunction"/>(id) to <paramref name="connection"/>.</summary>
    public static void Register(Microsoft.Data.Sqlite.SqliteConnection connection) =>
        connection.CreateFunction(SqlFunction, (string id) => Of(id), isDeterministic: true);
}
