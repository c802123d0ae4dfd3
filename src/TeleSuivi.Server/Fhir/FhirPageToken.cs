using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// The opaque <c>_page</c> value of <c>next</c> and <c>previous</c> links: a position in the search's order (not an
/// offset, which would shift when readings arrive), the direction to read from it, and a fingerprint of the search it
/// belongs to. Base64url of <c>v1|n or p|position|id|fingerprint</c>; a client must not build or change it.
/// </summary>
/// <param name="Forward">True: the entries strictly after the position (next); false: strictly before it (previous).</param>
/// <param name="Position">The store's position of the entry (for Observations: the effective time in the store's unit; 0 for the registry).</param>
/// <param name="Id">The id of the entry at the position (the tie-breaker).</param>
/// <param name="Fingerprint">A hash of the search's criteria and order: a token is refused on another search.</param>
public sealed record FhirPageToken(bool Forward, long Position, string Id, string Fingerprint)
{
    public const string Parameter = "_page";

    public string Encode()
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"v1|{(Forward ? 'n' : 'p')}|{Position}|{Id}|{Fingerprint}");
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Reads a token of the search with this fingerprint; 400 when it is not one.</summary>
    public static FhirPageToken Decode(string token, string fingerprint)
    {
        string[] parts;
        try
        {
            parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token)).Split('|');
        }
        catch (FormatException)
        {
            throw Invalid();
        }

        if (parts is not ["v1", "n" or "p", var position, var id, var print]
            || !long.TryParse(position, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            || !FhirSearchValues.IsId(id))
        {
            throw Invalid();
        }

        if (!string.Equals(print, fingerprint, StringComparison.Ordinal))
        {
            throw FhirRequestException.BadParameter("_page belongs to another search: follow the links of a Bundle without changing its other parameters");
        }

        return new FhirPageToken(parts[1] == "n", value, id, print);
    }

    /// <summary>
    /// The next and previous tokens of a page of a search ordered by (position, id): <paramref name="first"/> and
    /// <paramref name="last"/> are the positions of the page's first and last entries (null when the page is empty),
    /// <paramref name="page"/> the token the page was read with, <paramref name="more"/> whether the store had more
    /// entries beyond the page in the direction it was read.
    /// </summary>
    public static (string? Next, string? Previous) Around(
        (long Position, string Id)? first, (long Position, string Id)? last, FhirPageToken? page, bool more, string fingerprint)
    {
        if (first is not { } head || last is not { } tail)
        {
            return (null, null);
        }

        var backwards = page is { Forward: false };
        var next = (backwards ? page is not null : more) ? new FhirPageToken(true, tail.Position, tail.Id, fingerprint).Encode() : null;
        var previous = (backwards ? more : page is not null) ? new FhirPageToken(false, head.Position, head.Id, fingerprint).Encode() : null;
        return (next, previous);
    }

    /// <summary>
    /// Reads the page <paramref name="page"/> points at (the first page when null) of a search ordered by (position, id):
    /// <paramref name="read"/> is given whether to read backwards (a previous page), the position to read after, and how
    /// many to read — one more than the page, to know whether there is a page beyond. Returns the page in the search's
    /// order, the store's total, and the next and previous tokens (<see cref="Around"/>).
    /// </summary>
    public static async Task<(List<T> Matches, long? Total, string? Next, string? Previous)> ReadPageAsync<T>(
        FhirPageToken? page,
        int count,
        string fingerprint,
        Func<bool, (long Position, string Id)?, int, Task<(IReadOnlyList<T> Found, long? Total)>> read,
        Func<T, (long Position, string Id)> positionOf)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(positionOf);
        var backwards = page is { Forward: false };
        var (found, total) = await read(backwards, page is null ? null : (page.Position, page.Id), count + 1);
        var matches = backwards ? found.Take(count).Reverse().ToList() : found.Take(count).ToList();
        var (next, previous) = Around(
            matches.Count == 0 ? null : positionOf(matches[0]),
            matches.Count == 0 ? null : positionOf(matches[^1]),
            page, found.Count > count, fingerprint);
        return (matches, total, next, previous);
    }

    /// <summary>A short hash of the search's criteria (everything but the page and its size).</summary>
    public static string FingerprintOf(params IEnumerable<string> criteria)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', criteria)));
        return Convert.ToHexStringLower(hash.AsSpan(0, 6));
    }

    private static FhirRequestException Invalid() =>
        FhirRequestException.BadParameter("_page is not a page of this server: use the next and previous links of a searchset as they are");
}
