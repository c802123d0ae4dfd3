using System.Text;

namespace TeleSuivi.Devices.Profiles;

/// <summary>Splits one CSV line (RFC 4180 quoting: "a;b" and doubled "" inside quotes); cells are trimmed.</summary>
internal static class CsvLine
{
    public static string[] Split(string line, char delimiter)
    {
        if (line.IndexOf('"', StringComparison.Ordinal) < 0)
        {
            var plain = line.Split(delimiter);
            for (var i = 0; i < plain.Length; i++)
            {
                plain[i] = plain[i].Trim();
            }

            return plain;
        }

        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == delimiter)
            {
                cells.Add(cell.ToString().Trim());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString().Trim());
        return [.. cells];
    }
}
