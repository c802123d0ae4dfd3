using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TeleSuivi.Server.Broker;

/// <summary>
/// The broker secrets of devices and environment stations: generated at random, stored only as a salted
/// PBKDF2-HMAC-SHA512 hash in mosquitto 2.0's password-file format <c>$7$iterations$salt$hash</c> (base64), so that
/// the registry's hashes go into a mosquitto password file as they are and no secret is ever kept in clear.
/// </summary>
public static class BrokerSecrets
{
    /// <summary>
    /// PBKDF2 iterations of a new hash. A secret is 32 random bytes (256 bits), not a password a person chose: no
    /// dictionary applies and exhausting the space is out of reach whatever the count, so the work factor does not
    /// carry the security here (it does for human passwords, hence the 210,000 OWASP recommends for PBKDF2-HMAC-SHA512 with those). The
    /// count is paid on every CONNECT, by the embedded broker and by a single-threaded mosquitto alike: 1,000 costs
    /// about a millisecond, so a fleet of 10,000 devices reconnecting after a broker restart costs seconds, not hours.
    /// The count is stored in each hash: raising it later leaves existing hashes valid.
    /// </summary>
    public const int Iterations = 1000;

    /// <summary>mosquitto_passwd's salt length (12 bytes); any length verifies.</summary>
    private const int SaltBytes = 12;

    private const int SecretBytes = 32;
    private const int HashBytes = 64;
    private const string Prefix = "$7$";

    /// <summary>A new secret: 32 random bytes, base64url without padding (43 characters, safe in URLs, CSV and shells).</summary>
    public static string NewSecret() => Base64Url(RandomNumberGenerator.GetBytes(SecretBytes));

    public static string Hash(string secret, int iterations = Iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA512, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>True when <paramref name="secret"/> is the one <paramref name="stored"/> was made from; compared in constant time.</summary>
    public static bool Verify(string secret, string stored)
    {
        if (!TryParse(stored, out var iterations, out var salt, out var expected))
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA512, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>Whether <paramref name="stored"/> is a well-formed <c>$7$</c> hash (as mosquitto_passwd writes them).</summary>
    public static bool IsWellFormed(string stored) => TryParse(stored, out _, out _, out _);

    private static bool TryParse(string stored, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0;
        salt = hash = [];
        var parts = stored.Split('$');
        // "$7$101$salt$hash" splits into "", "7", "101", "salt", "hash".
        if (parts is not ["", "7", var count, var saltText, var hashText]
            || !int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations < 1)
        {
            return false;
        }

        try
        {
            salt = Convert.FromBase64String(saltText);
            hash = Convert.FromBase64String(hashText);
        }
        catch (FormatException)
        {
            return false;
        }

        return salt.Length > 0 && hash.Length == HashBytes;
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
