using System.Text;

namespace TeleSuivi.Devices.Profiles;

/// <summary>Splits one CSV line (RFC 4180 quoting: "a;b" and doubled "" inside quotes); cells are trimmed.</summary>
public static class CsvLine
{
    public static string[] Split(ReadOnlySpan<char> line, char delimiter)
    {
        if (!line.Contains('"'))
        {
            // One string per cell, cut and trimmed straight from the line.
            var plain = new string[line.Count(delimiter) + 1];
            for (var i = 0; i < plain.Length; i++)
            {
                var end = line.IndexOf(delimiter);
                var cell = end < 0 ? line : line[..end];
                plain[i] = cell.Trim().ToString();
                line = end < 0 ? [] : line[(end + 1)..];
            }

            return plain;
        }

        var cells = new List<string>();
        var builder = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    builder.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    builder.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == delimiter)
            {
                cells.Add(builder.ToString().Trim());
                builder.Clear();
            }
            else
            {
                builder.Append(c);
            }
        }

        cells.Add(builder.ToString().Trim());
        return [.. cells];
    }
}
