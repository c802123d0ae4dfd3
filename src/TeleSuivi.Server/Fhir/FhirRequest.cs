using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Net.Http.Headers;

namespace TeleSuivi.Server.Fhir;

/// <summary>One search or read parameter as sent: its name, its modifier (after ':'), its raw value.</summary>
public sealed record FhirParameter(string Name, string? Modifier, string Value)
{
    public string FullName => Modifier is null ? Name : $"{Name}:{Modifier}";
}

/// <summary>
/// What every FHIR request of the facade shares: the base URL, the format the client accepts (only JSON is served),
/// <c>_pretty</c>, the <c>Prefer: handling</c> of unknown parameters, and the parameters themselves (query string, plus
/// the form body of <c>POST [type]/_search</c>).
/// </summary>
public sealed class FhirRequest
{
    /// <summary>Parameters every interaction accepts.</summary>
    public const string Format = "_format", Pretty = "_pretty";

    private static readonly string[] PatientTypes = ["Patient"];

    private static readonly string[] JsonFormats = ["json", "application/json", "application/fhir+json", "application/json+fhir"];

    private FhirRequest(HttpRequest http, IReadOnlyList<FhirParameter> parameters, bool lenient, bool pretty)
    {
        Http = http;
        Parameters = parameters;
        Lenient = lenient;
        IsPretty = pretty;
        BaseUrl = $"{http.Scheme}://{http.Host}{http.PathBase}/fhir";
    }

    public HttpRequest Http { get; }

    /// <summary>The service base URL, e.g. <c>http://host:5080/fhir</c> (from the request: behind a proxy, forward its headers).</summary>
    public string BaseUrl { get; }

    public IReadOnlyList<FhirParameter> Parameters { get; }

    /// <summary><c>Prefer: handling=lenient</c>: unknown parameters are ignored (and reported) instead of refused.</summary>
    public bool Lenient { get; }

    public bool IsPretty { get; }

    /// <summary>
    /// Reads the request: refuses (406) a <c>_format</c> or an <c>Accept</c> that allows no JSON, and (400) a bad
    /// <c>_pretty</c> or <c>Prefer: handling</c>. <paramref name="form"/> adds the parameters of a <c>_search</c> body.
    /// </summary>
    public static FhirRequest Read(HttpRequest http, IFormCollection? form = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        var parameters = new List<FhirParameter>();
        Add(parameters, http.Query);
        if (form is not null)
        {
            Add(parameters, form);
        }

        CheckAccept(http.Headers.Accept);
        var formats = parameters.Where(p => p.Name == Format).ToList();
        foreach (var format in formats)
        {
            var mediaType = format.Value.Split(';')[0].Trim();
            if (!JsonFormats.Contains(mediaType, StringComparer.OrdinalIgnoreCase))
            {
                throw new FhirRequestException(StatusCodes.Status406NotAcceptable, OperationOutcome.IssueType.NotSupported,
                    $"_format '{format.Value}' is not supported: this server answers in JSON only (_format=json or application/fhir+json)");
            }
        }

        var pretty = false;
        var prettyValues = parameters.Where(p => p.Name == Pretty).ToList();
        if (prettyValues.Count > 1 || (prettyValues.Count == 1 && !bool.TryParse(prettyValues[0].Value, out pretty)))
        {
            throw FhirRequestException.BadParameter("_pretty must be given once, true or false");
        }

        return new FhirRequest(http, parameters, ReadHandling(http.Headers["Prefer"]), pretty);
    }

    /// <summary>The parameters that are not in <paramref name="known"/> (nor <c>_format</c>, <c>_pretty</c>): refused (400) unless lenient; returned when lenient.</summary>
    public IReadOnlyList<FhirParameter> CheckKnown(IReadOnlySet<string> known, string interaction)
    {
        var unknown = Parameters.Where(p => p.Name is not (Format or Pretty) && !known.Contains(p.Name)).ToList();
        if (unknown.Count > 0 && !Lenient)
        {
            throw FhirRequestException.NotSupported(
                $"unknown or unsupported parameter{(unknown.Count > 1 ? "s" : string.Empty)} {string.Join(", ", unknown.Select(p => $"'{p.FullName}'").Distinct())} for {interaction}" +
                $" (supported: {string.Join(", ", known.Order(StringComparer.Ordinal))}; send 'Prefer: handling=lenient' to have unknown parameters ignored)");
        }

        return unknown;
    }

    /// <summary>The values of a known parameter, refusing modifiers other than <paramref name="modifiers"/>.</summary>
    public IReadOnlyList<FhirParameter> Values(string name, params string[] modifiers)
    {
        var values = Parameters.Where(p => p.Name == name).ToList();
        foreach (var value in values)
        {
            if (value.Modifier is not null && !modifiers.Contains(value.Modifier, StringComparer.Ordinal))
            {
                throw FhirRequestException.NotSupported($"the modifier ':{value.Modifier}' of '{name}' is not supported");
            }
        }

        return values;
    }

    /// <summary>
    /// The one subject a search names, as <c>subject</c> (of <paramref name="subjectTypes"/>, the first being the
    /// default type of a bare id) or its alias <c>patient</c>, refused (403) when the caller may not see it;
    /// <c>None</c> when two different subjects are named (nothing has both). 400 when none is named.
    /// </summary>
    /// <param name="what">What the search names, in the messages ("subject", "patient").</param>
    /// <param name="missing">The message when no subject is named.</param>
    public (string Subject, bool None) SingleSubject(IReadOnlyList<string> subjectTypes, string what, string missing)
    {
        ArgumentNullException.ThrowIfNull(subjectTypes);
        var subjects = new List<string>();
        foreach (var parameter in Values("subject", [.. subjectTypes]).Concat(Values("patient", "Patient")))
        {
            var values = FhirSearchValues.SplitList(parameter.Value);
            if (values.Count != 1)
            {
                throw FhirRequestException.NotSupported($"'{parameter.FullName}={parameter.Value}': one {what} per search");
            }

            var isPatient = parameter.Name == "patient" || parameter.Modifier == "Patient";
            subjects.Add(FhirSearchValues.Reference(
                parameter.FullName, values[0], parameter.Modifier ?? subjectTypes[0], isPatient ? PatientTypes : (parameter.Modifier is { } type ? [type] : subjectTypes), BaseUrl));
        }

        if (subjects.Count == 0)
        {
            throw FhirRequestException.BadParameter(missing);
        }

        foreach (var named in subjects.Distinct(StringComparer.Ordinal))
        {
            Security.FhirAccess.DemandSubject(Http, named);
        }

        return (subjects[0], subjects.Distinct(StringComparer.Ordinal).Count() > 1);
    }

    /// <summary>The value of a parameter that may be given at most once, or null.</summary>
    public string? Once(string name)
    {
        var values = Values(name);
        return values.Count switch
        {
            0 => null,
            1 => values[0].Value,
            _ => throw FhirRequestException.BadParameter($"'{name}' may be given only once"),
        };
    }

    /// <summary>A link of the searchset: the base URL, the resource type and the parameters in the order given.</summary>
    public string Link(string resourceType, IEnumerable<(string Name, string Value)> parameters)
    {
        var url = new StringBuilder(BaseUrl).Append('/').Append(resourceType);
        var separator = '?';
        foreach (var (name, value) in parameters)
        {
            url.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        return url.ToString();
    }

    private static void Add(List<FhirParameter> parameters, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> source)
    {
        foreach (var (key, values) in source)
        {
            var colon = key.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? key : key[..colon];
            var modifier = colon < 0 ? null : key[(colon + 1)..];
            foreach (var value in values)
            {
                parameters.Add(new FhirParameter(name, modifier, value ?? string.Empty));
            }
        }
    }

    /// <summary>406 unless the Accept header allows JSON (any JSON or FHIR JSON media type, or a wildcard), in FHIR version 4.0 when it says which.</summary>
    private static void CheckAccept(Microsoft.Extensions.Primitives.StringValues accept)
    {
        if (accept.Count == 0 || accept.All(string.IsNullOrWhiteSpace))
        {
            return;
        }

        if (!MediaTypeHeaderValue.TryParseList(accept, out var types))
        {
            throw new FhirRequestException(StatusCodes.Status406NotAcceptable, OperationOutcome.IssueType.NotSupported, $"Accept '{accept}' is not a valid list of media types");
        }

        foreach (var type in types)
        {
            if (type.Quality is 0)
            {
                continue;
            }

            var mediaType = type.MediaType.Value ?? string.Empty;
            var json = mediaType is "*/*" or "application/*" || JsonFormats.Skip(1).Contains(mediaType, StringComparer.OrdinalIgnoreCase);
            var version = type.Parameters.FirstOrDefault(p => p.Name.Equals("fhirVersion", StringComparison.OrdinalIgnoreCase))?.Value.Value;
            if (json && (version is null || version.StartsWith("4.0", StringComparison.Ordinal)))
            {
                return;
            }
        }

        throw new FhirRequestException(StatusCodes.Status406NotAcceptable, OperationOutcome.IssueType.NotSupported,
            $"Accept '{accept}' allows no format this server produces: it answers in application/fhir+json (FHIR 4.0) only");
    }

    /// <summary><c>Prefer: handling=strict</c> (the default) or <c>handling=lenient</c>, among other preferences.</summary>
    private static bool ReadHandling(Microsoft.Extensions.Primitives.StringValues prefer)
    {
        foreach (var preference in prefer.SelectMany(p => (p ?? string.Empty).Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var parts = preference.Split('=', 2, StringSplitOptions.TrimEntries);
            if (!parts[0].Equals("handling", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            return (parts.Length > 1 ? parts[1].Trim('"') : string.Empty).ToLowerInvariant() switch
            {
                "lenient" => true,
                "strict" => false,
                _ => throw FhirRequestException.BadParameter($"Prefer '{preference}' is not valid: handling=strict or handling=lenient"),
            };
        }

        return false;
    }
}
