using System.Globalization;
using System.Text;

namespace TeleSuivi.Tests.Fuzzing;

/// <summary>
/// The seeded input generator of the fuzz tests: random bytes, mutations of valid payloads (bit flips, cuts, splices,
/// repeated chunks, numbers swapped for extreme ones), huge payloads, deep JSON nesting and invalid UTF-8. CI runs a
/// small number of cases (seconds); infra/fuzz.sh runs the same tests with many more
/// (TELESUIVI_FUZZ_CASES, TELESUIVI_FUZZ_SEED). A failure names its seed and case number, so it reproduces.
/// </summary>
public sealed class Fuzz(int seed)
{
    private static readonly string[] ExtremeNumbers =
    [
        "0", "-0", "-1", "1e308", "-1e308", "1e-320", "9223372036854775808", "-9223372036854775809", "NaN", "Infinity",
        "1.7976931348623157E+309", "00000000000000000000000000000001", "4294967296", "0.1e99999", "\"12\"", "null", "true", "[]", "{}",
    ];

    private static readonly byte[] StructuralBytes = "{}[]\",:\\-.eE0<>&="u8.ToArray();

    private readonly Random random = new(seed);

    /// <summary>Cases per input kind in this run (TELESUIVI_FUZZ_CASES; default: a CI-sized number).</summary>
    public static int Cases(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("TELESUIVI_FUZZ_CASES"), NumberStyles.None, CultureInfo.InvariantCulture, out var cases) ? cases : ciDefault;

    /// <summary>The run's seed (TELESUIVI_FUZZ_SEED; default fixed, so CI is deterministic).</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("TELESUIVI_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : 20261123;

    /// <summary>
    /// The generator for one input kind: the run's seed mixed with a stable hash of the kind's name (FNV-1a, not
    /// <see cref="HashCode"/>, which .NET randomises per process), so a seed and case number replay the same input.
    /// </summary>
    public static Fuzz For(string what)
    {
        var hash = 2166136261u;
        foreach (var c in what)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return new Fuzz(Seed ^ (int)hash);
    }

    public int Next(int max) => random.Next(max);

    /// <summary>One input derived from <paramref name="valid"/> (or from nothing), chosen among the kinds above.</summary>
    public byte[] Input(byte[] valid)
    {
        return random.Next(12) switch
        {
            0 => RandomBytes(random.Next(0, 512)),
            1 => DeepNesting(random.Next(64, 100_000)),
            2 => Huge(valid),
            3 => InvalidUtf8(valid),
            4 => Truncate(valid),
            5 => Splice(valid),
            _ => Mutate(valid, 1 + random.Next(8)),
        };
    }

    public byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary><c>[[[[…</c> or <c>{"a":{"a":…</c>, closed or not.</summary>
    public byte[] DeepNesting(int depth)
    {
        var text = new StringBuilder();
        var objects = random.Next(2) == 0;
        for (var i = 0; i < depth; i++)
        {
            text.Append(objects ? "{\"a\":" : "[");
        }

        if (random.Next(2) == 0)
        {
            text.Append('1');
            for (var i = 0; i < depth; i++)
            {
                text.Append(objects ? '}' : ']');
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The valid payload repeated to 1–4 MiB, or one string of that length inside it.</summary>
    public byte[] Huge(byte[] valid)
    {
        var size = (1 + random.Next(4)) << 20;
        if (valid.Length > 0 && random.Next(2) == 0)
        {
            var huge = new byte[size];
            for (var i = 0; i < size; i += valid.Length)
            {
                valid.AsSpan(0, Math.Min(valid.Length, size - i)).CopyTo(huge.AsSpan(i));
            }

            return huge;
        }

        var at = valid.Length == 0 ? 0 : random.Next(valid.Length);
        return [.. valid.AsSpan(0, at), .. "\""u8, .. Enumerable.Repeat((byte)'9', size), .. "\""u8, .. valid.AsSpan(at)];
    }

    public byte[] InvalidUtf8(byte[] valid)
    {
        byte[][] broken = [[0xC3], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0x00]];
        var at = valid.Length == 0 ? 0 : random.Next(valid.Length + 1);
        return [.. valid.AsSpan(0, at), .. broken[random.Next(broken.Length)], .. valid.AsSpan(at)];
    }

    public byte[] Truncate(byte[] valid) => valid.Length == 0 ? [] : valid[..random.Next(valid.Length)];

    /// <summary>A chunk of the payload repeated, moved or deleted.</summary>
    public byte[] Splice(byte[] valid)
    {
        if (valid.Length < 2)
        {
            return RandomBytes(8);
        }

        var start = random.Next(valid.Length - 1);
        var length = 1 + random.Next(Math.Min(64, valid.Length - start));
        var chunk = valid.AsSpan(start, length);
        var at = random.Next(valid.Length);
        return random.Next(2) == 0
            ? [.. valid.AsSpan(0, at), .. chunk, .. chunk, .. valid.AsSpan(at)]
            : [.. valid.AsSpan(0, start), .. valid.AsSpan(start + length)];
    }

    /// <summary>A few point mutations: bit flips, random bytes, structural characters, numbers swapped for extreme ones.</summary>
    public byte[] Mutate(byte[] valid, int count)
    {
        var bytes = new List<byte>(valid);
        for (var n = 0; n < count && bytes.Count > 0; n++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.Insert(at, StructuralBytes[random.Next(StructuralBytes.Length)]);
                    break;
                case 3:
                    bytes.RemoveAt(at);
                    break;
                default:
                    ReplaceNumber(bytes, at);
                    break;
            }
        }

        return [.. bytes];
    }

    private void ReplaceNumber(List<byte> bytes, int from)
    {
        var start = bytes.FindIndex(from, b => b is >= (byte)'0' and <= (byte)'9');
        if (start < 0)
        {
            return;
        }

        var end = start;
        while (end < bytes.Count && bytes[end] is >= (byte)'0' and <= (byte)'9' or (byte)'.' or (byte)'-' or (byte)'e' or (byte)'E')
        {
            end++;
        }

        bytes.RemoveRange(start, end - start);
        bytes.InsertRange(start, Encoding.UTF8.GetBytes(ExtremeNumbers[random.Next(ExtremeNumbers.Length)]));
    }

    /// <summary>Printable description of a case for a failure message: its size and first bytes.</summary>
    /// <summary>The whole input, as text when it is printable UTF-8 and as hex otherwise, to replay a failure.</summary>
    public static string Whole(byte[] input)
    {
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(input);
            if (!text.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            {
                return text;
            }
        }
        catch (DecoderFallbackException)
        {
            // Not text: hex below.
        }

        return Convert.ToHexString(input);
    }

    public static string Describe(byte[] input) =>
        $"{input.Length} bytes: {Convert.ToHexString(input.AsSpan(0, Math.Min(48, input.Length)))}{(input.Length > 48 ? "…" : string.Empty)}";
}
