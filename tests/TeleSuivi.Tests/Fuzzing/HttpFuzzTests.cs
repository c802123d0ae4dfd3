using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Fuzzing;

/// <summary>The real telesuivi process, started once for the HTTP fuzz tests, with a patient to aim at.</summary>
public sealed class FuzzedHost : IAsyncLifetime
{
    public const string Patient = "fuzz-patient";

    /// <summary>A fixed date, not the clock's, so that a seed and case number replay the same Bundle.</summary>
    public static readonly DateTimeOffset AssignedFrom = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public TeleSuiviProcess Process { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Process = TeleSuiviProcess.Start("serve");
        await Process.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        await RegistryBundles.ImportAsync(Process.BaseUrl, RegistryBundles.PatientWithDevice(Patient, "fuzz-device", AssignedFrom));
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}

/// <summary>
/// Every HTTP input a client controls, fuzzed against the real process: the FHIR transaction Bundle, FHIR search
/// parameters, the login form, alert actions and threshold changes, with mutated bodies, huge ones, deep nesting,
/// invalid UTF-8 and wrong content types. Each answer is 2xx, or 4xx with a reason; never a 5xx, and the process
/// keeps serving.
/// </summary>
public sealed partial class HttpFuzzTests(FuzzedHost host) : IClassFixture<FuzzedHost>
{
    private static readonly string[] ContentTypes = ["application/fhir+json", "application/json", "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", ""];

    [Fact]
    public async Task FhirTransaction_MutatedBundles_AnsweredWithoutServerError()
    {
        var valid = Encoding.UTF8.GetBytes(RegistryBundles.PatientWithDevice("fuzz-p2", "fuzz-d2", FuzzedHost.AssignedFrom));
        await RunAsync("POST /fhir", Fuzz.Cases(80), fuzz => Request(HttpMethod.Post, "/fhir", fuzz.Input(valid), ContentTypes[fuzz.Next(3)]));
    }

    [Fact]
    public async Task FhirTransaction_WrongContentTypes_AnsweredWithoutServerError()
    {
        var valid = Encoding.UTF8.GetBytes(RegistryBundles.PatientWithDevice("fuzz-p3", "fuzz-d3", FuzzedHost.AssignedFrom));
        await RunAsync("POST /fhir (content types)", ContentTypes.Length * 3, fuzz => Request(HttpMethod.Post, "/fhir", fuzz.Next(2) == 0 ? valid : fuzz.Input(valid), ContentTypes[fuzz.Next(ContentTypes.Length)]));
    }

    [Fact]
    public async Task FhirSearch_MutatedParameters_AnsweredWithoutServerError()
    {
        string[] resources = ["Observation", "Patient", "Device", "RiskAssessment", "DeviceUseStatement", "Observation/_search"];
        string[] names = ["subject", "patient", "code", "date", "_count", "_sort", "_page", "_id", "identifier", "device", "date:missing", "_format", "%00", "subject:Patient"];
        string[] values = [$"Patient/{FuzzedHost.Patient}", "http://loinc.org|29463-7", "ge2026-01-01", "le2026-13-45T25:61:00Z", "1000", "0", "-1", "99999999999999999999", "-date", "date", "%C3%28", "%FF%FE", "|", "||", "eq", "ap2026", "Patient/", ""];
        await RunAsync("GET /fhir/…?", Fuzz.Cases(150), fuzz =>
        {
            var query = new StringBuilder();
            for (var i = fuzz.Next(5); i >= 0; i--)
            {
                var value = values[fuzz.Next(values.Length)];
                if (fuzz.Next(4) == 0)
                {
                    value = Uri.EscapeDataString(Encoding.Latin1.GetString(fuzz.Input(Encoding.UTF8.GetBytes(value))));
                }

                query.Append(i == 0 && query.Length == 0 ? string.Empty : "&").Append(names[fuzz.Next(names.Length)]).Append('=').Append(fuzz.Next(50) == 0 ? new string('9', 6_000) : value);
            }

            var resource = resources[fuzz.Next(resources.Length)];
            if (query.Length > 7_000)
            {
                // Kestrel refuses a request line over 8 KiB (414) and closes the connection before the client has sent it.
                query.Length = 7_000;
            }

            return Request(resource.EndsWith("_search", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, $"/fhir/{resource}?{query}", null, null);
        });
    }

    [Fact]
    public async Task LoginForm_MutatedFields_AnsweredWithoutServerError()
    {
        using var cookies = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var browser = new HttpClient(cookies) { BaseAddress = host.Process.BaseUrl };
        var page = await browser.GetStringAsync(new Uri("/login", UriKind.Relative), TestContext.Current.CancellationToken);
        var token = AntiforgeryToken().Match(page);
        Assert.True(token.Success, page);
        var valid = Encoding.UTF8.GetBytes($"{WebUtility.HtmlDecode(token.Groups[1].Value)}={Uri.EscapeDataString(WebUtility.HtmlDecode(token.Groups[2].Value))}&returnUrl=%2F&username=nobody&password=wrong");
        var fuzz = Fuzz.For("POST /login");
        for (var i = 0; i < Fuzz.Cases(60); i++)
        {
            // Mutations of the fields only, so that most cases pass the antiforgery check and reach the form's own checks.
            var body = fuzz.Next(3) == 0 ? fuzz.Input(valid) : [.. valid.AsSpan(0, valid.Length - "username=nobody&password=wrong".Length), .. fuzz.Input("username=nobody&password=wrong"u8.ToArray())];
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-www-form-urlencoded");
            using var response = await browser.PostAsync(new Uri("/login", UriKind.Relative), content, TestContext.Current.CancellationToken);
            await AssertAnsweredAsync("POST /login", i, body, response);
        }
    }

    [Fact]
    public async Task AlertActions_MutatedIdsAndBodies_AnsweredWithoutServerError()
    {
        string[] actions = ["claim", "release", "acknowledge", "notes", "calls", "snooze", "escalate", "resolve", "unknown"];
        string[] ids = ["1", "0", "-1", "9223372036854775807", "9223372036854775808", "abc", "1.5", "%00"];
        byte[] valid = """{"text":"called","summary":"ok","reached":true,"until":"2026-01-15T08:00:00Z","minutes":30,"reason":"r","to":"physician","outcome":"resolved","note":"n"}"""u8.ToArray();
        await RunAsync("POST /api/alerts/{id}/{action}", Fuzz.Cases(120), fuzz =>
            Request(HttpMethod.Post, $"/api/alerts/{ids[fuzz.Next(ids.Length)]}/{actions[fuzz.Next(actions.Length)]}", fuzz.Input(valid), fuzz.Next(8) == 0 ? ContentTypes[fuzz.Next(ContentTypes.Length)] : "application/json"));
    }

    [Fact]
    public async Task ThresholdsPut_MutatedBodies_AnsweredWithoutServerError()
    {
        string[] vitals = ["spo2", "heart-rate", "systolic", "weight", "temperature", "unknown", "%00", new string('v', 5000)];
        byte[] valid = """{"criticalLow":85,"low":90,"high":null,"criticalHigh":null,"reason":"COPD baseline"}"""u8.ToArray();
        await RunAsync("PUT /api/patients/{id}/thresholds/{vital}", Fuzz.Cases(120), fuzz =>
            Request(HttpMethod.Put, $"/api/patients/{(fuzz.Next(6) == 0 ? "nobody" : FuzzedHost.Patient)}/thresholds/{vitals[fuzz.Next(vitals.Length)]}", fuzz.Input(valid), fuzz.Next(8) == 0 ? ContentTypes[fuzz.Next(ContentTypes.Length)] : "application/json"));
    }

    private static (HttpMethod Method, string Path, byte[]? Body, string? ContentType) Request(HttpMethod method, string path, byte[]? body, string? contentType) => (method, path, body, contentType);

    private async Task RunAsync(string what, int cases, Func<Fuzz, (HttpMethod Method, string Path, byte[]? Body, string? ContentType)> next)
    {
        using var http = host.Process.CreateClient(TimeSpan.FromSeconds(60));
        var fuzz = Fuzz.For(what);
        for (var i = 0; i < cases; i++)
        {
            var (method, path, body, contentType) = next(fuzz);
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                // As a well-behaved client of large uploads: an endpoint that refuses without reading the body answers
                // before it is sent, instead of closing the connection under a client still writing.
                request.Headers.ExpectContinue = body.Length > 64 * 1024;
                if (!string.IsNullOrEmpty(contentType))
                {
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                }
            }

            using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
            await AssertAnsweredAsync($"{what} {method} {path[..Math.Min(path.Length, 200)]}", i, body ?? [], response);
        }

        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.False(host.Process.HasExited);
    }

    private async Task AssertAnsweredAsync(string what, int index, byte[] body, HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var context = $"{what}, seed {Fuzz.Seed}, case {index}: {status} {text[..Math.Min(text.Length, 400)]}\nbody {Fuzz.Describe(body)}";
        if (status >= 500)
        {
            Assert.Fail($"{context}\nwhole body:\n{Fuzz.Whole(body)}\nserver log:\n{await ServerErrorLogAsync()}");
        }

        // A refusal of the request's content says why; 401/403/404/405/415 are about the route, the caller or the media type
        // and say it in their status. A NUL in the path is refused by Kestrel itself, before any endpoint, with a bare 400.
        if (status is 400 or 409 or 413 or 422 && !what.Contains("%00", StringComparison.Ordinal))
        {
            Assert.False(string.IsNullOrWhiteSpace(text), $"{context}: refused without a reason");
        }
    }

    /// <summary>The server's log from its first error on, once the console logger has written it (it writes from a queue).</summary>
    private async Task<string> ServerErrorLogAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var lines = host.Process.Output.Split('\n');
            var first = Array.FindIndex(lines, line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal));
            if (first >= 0)
            {
                await Task.Delay(200, TestContext.Current.CancellationToken); // the exception's lines follow its header
                return string.Join('\n', host.Process.Output.Split('\n').Skip(first).Take(60));
            }

            if (DateTime.UtcNow > deadline)
            {
                return "(no error logged within 10 s; last lines)\n" + string.Join('\n', lines.TakeLast(30));
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [GeneratedRegex("type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
