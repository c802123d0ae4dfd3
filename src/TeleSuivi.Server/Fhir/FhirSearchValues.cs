using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace TeleSuivi.Server.Fhir;

/// <summary>A token search value: <c>system|code</c>, <c>|code</c> (no system), <c>system|</c> (any code of the system) or <c>code</c> (any system).</summary>
public sealed record FhirToken(string? System, string? Code)
{
    /// <summary>True when the value names one exact <c>system|code</c> (or <c>|code</c>).</summary>
    public bool IsExact => System is not null && Code is not null;

    /// <summary><c>system|code</c> as the stores index it (the first coding of Observation.code).</summary>
    public string Key => $"{System}|{Code}";

    public bool Matches(string system, string code) =>
        (System is null || string.Equals(System, system, StringComparison.Ordinal))
        && (Code is null || string.Equals(Code, code, StringComparison.Ordinal));

    /// <summary>Does the stored token <c>system|code</c> match this value?</summary>
    public bool Matches(string key)
    {
        var bar = key.IndexOf('|', StringComparison.Ordinal);
        return bar >= 0 && Matches(key[..bar], key[(bar + 1)..]);
    }
}

/// <summary>The FHIR search value syntax: escaped lists, tokens, references, dates with prefixes, counts.</summary>
public static partial class FhirSearchValues
{
    /// <summary>The longest page.</summary>
    public const int MaxCount = 1000;

    public const int DefaultCount = 50;

    /// <summary>Splits a value on unescaped commas (<c>\,</c> is a comma inside a value; <c>\\</c> a backslash).</summary>
    public static IReadOnlyList<string> SplitList(string value) => Split(value, ',');

    public static FhirToken Token(string name, string value)
    {
        var parts = Split(value, '|');
        var token = parts.Count switch
        {
            1 => new FhirToken(null, parts[0]),
            2 => new FhirToken(parts[0], parts[1].Length == 0 ? null : parts[1]),
            _ => null,
        };
        if (token is null || (token.System is null && string.IsNullOrEmpty(token.Code)) || (token.Code is null && string.IsNullOrEmpty(token.System)))
        {
            throw FhirRequestException.BadParameter($"'{name}={value}' is not a token: expected system|code, |code, system| or code");
        }

        return token;
    }

    /// <summary>
    /// A reference value: <c>Type/id</c>, a bare <c>id</c> (of <paramref name="defaultType"/>), or an absolute URL on this
    /// server. Types outside <paramref name="allowedTypes"/> are refused.
    /// </summary>
    public static string Reference(string name, string value, string defaultType, IReadOnlyCollection<string> allowedTypes, string baseUrl)
    {
        var text = value.Trim();
        if (text.StartsWith(baseUrl + "/", StringComparison.Ordinal))
        {
            text = text[(baseUrl.Length + 1)..];
        }
        else if (text.Contains("://", StringComparison.Ordinal))
        {
            throw FhirRequestException.NotSupported($"'{name}={value}': references to other servers are not supported (use Type/id)");
        }

        var parts = text.Split('/');
        var (type, id) = parts.Length switch
        {
            1 => (defaultType, parts[0]),
            2 => (parts[0], parts[1]),
            _ => (string.Empty, string.Empty),
        };
        if (!allowedTypes.Contains(type) || !IsId(id))
        {
            throw FhirRequestException.BadParameter(
                $"'{name}={value}' is not a reference to {string.Join(" or ", allowedTypes)}: expected {defaultType}/{{id}} or {{id}}");
        }

        return $"{type}/{id}";
    }

    /// <summary>A FHIR id: 1 to 64 of <c>[A-Za-z0-9\-\.]</c>.</summary>
    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary><c>_sort</c> of a search ordered by date: <c>date</c> (the default) or <c>-date</c>; true for the latter.</summary>
    public static bool DescendingByDate(string sort) => sort switch
    {
        "date" => false,
        "-date" => true,
        _ => throw FhirRequestException.NotSupported($"_sort '{sort}' is not supported: date (oldest first, the default) or -date (latest first)"),
    };

    /// <summary><c>_count</c>: 1 to <see cref="MaxCount"/>; more is served as <see cref="MaxCount"/>.</summary>
    public static int Count(string? value)
    {
        if (value is null)
        {
            return DefaultCount;
        }

        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
        {
            if (value.Length > 0 && value.All(char.IsAsciiDigit) && value.TrimStart('0').Length > 0)
            {
                return MaxCount; // a number too large for an int
            }

            throw FhirRequestException.BadParameter($"_count '{value}' is not valid: a whole number from 1 to {MaxCount}");
        }

        return Math.Min(count, MaxCount);
    }

    private static List<string> Split(string value, char separator)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\\' && i + 1 < value.Length && value[i + 1] is ',' or '|' or '$' or '\\')
            {
                current.Append(value[++i]);
            }
            else if (c == separator)
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        parts.Add(current.ToString());
        return parts;
    }

    [GeneratedRegex(@"^[A-Za-z0-9\-\.]{1,64}$")]
    private static partial Regex IdPattern();
}
