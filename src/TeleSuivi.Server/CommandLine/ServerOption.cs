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
}
