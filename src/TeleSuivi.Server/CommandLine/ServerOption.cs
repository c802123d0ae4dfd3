using System.CommandLine;

namespace TeleSuivi.Server.CommandLine;

/// <summary>The <c>--server URL</c> option of the commands that talk to a running TeleSuivi.</summary>
public static class ServerOption
{
    public static readonly Uri Default = new("http://127.0.0.1:5080");

    public static Option<string> Create(string description, bool recursive = false)
    {
        var option = new Option<string>("--server")
        {
            Description = $"{description} (default {Default})",
            DefaultValueFactory = _ => Default.ToString(),
            Recursive = recursive,
            HelpName = "URL",
        };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                result.AddError($"--server '{value}' is not valid: expected http://host:port or https://host:port");
            }
        });
        return option;
    }

    public static Uri Read(ParseResult parse, Option<string> option) => new(parse.GetValue(option)!);

    /// <summary>The environment variable holding the API key that commands send to a running TeleSuivi.</summary>
    public const string ApiKeyVariable = "TELESUIVI_API_KEY";

    /// <summary>
    /// A client of a running TeleSuivi, authenticated with the key in <c>TELESUIVI_API_KEY</c> (an environment variable,
    /// not an option: a command line is visible to every user of the machine).
    /// </summary>
    public static HttpClient Client(Uri server, TimeSpan timeout)
    {
        var http = new HttpClient { BaseAddress = server, Timeout = timeout };
        if (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        return http;
    }

    /// <summary>What to tell an operator whose request was refused for want of credentials.</summary>
    public static string Refused(Uri server, System.Net.HttpStatusCode status) =>
        $"{server} refused the request ({(int)status} {status}): set {ApiKeyVariable} to an API key of the admin role (telesuivi apikey create NAME --role admin)";
}
