using System.Text;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// Quoting for the parts of InfluxQL that cannot be bound parameters (database, measurement and key names).
/// Values go in the <c>params</c> of <see cref="InfluxClient.QueryAsync"/>, never in the text.
/// </summary>
public static class InfluxQl
{
    /// <summary><c>"name"</c>, with backslashes and double quotes escaped.</summary>
    public static string QuoteIdentifier(string name) => Quote(name, '"');

    /// <summary><c>'text'</c>, with backslashes and single quotes escaped (for the rare place a parameter cannot go).</summary>
    public static string QuoteString(string text) => Quote(text, '\'');

    private static string Quote(string text, char quote)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("InfluxQL names and strings cannot contain line breaks", nameof(text));
        }

        var builder = new StringBuilder(text.Length + 2).Append(quote);
        foreach (var c in text)
        {
            if (c == '\\' || c == quote)
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.Append(quote).ToString();
    }
}
