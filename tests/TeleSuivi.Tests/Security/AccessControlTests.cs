using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Security;

/// <summary>
/// Nothing of a patient without credentials, and nothing of another team's patient: every route of the running host
/// (read from its EndpointDataSource, so a route added later is covered without editing this test) and every file of
/// its web root.
/// </summary>
public sealed class AccessControlTests(SecuredHost host) : IClassFixture<SecuredHost>
{
    /// <summary>The only routes that answer without credentials, and why: none serves patient data.</summary>
    private static readonly string[] AnonymousRoutes =
    [
        "* /health/live",    // orchestrators' liveness probe
        "* /health/ready",   // orchestrators' readiness probe: dependency names and states only
        "GET /fhir/metadata", // the CapabilityStatement, read before a client authenticates
        "GET /login",        // the sign-in form
        "POST /login",       // its submission (anti-forgery token required)
    ];

    /// <summary>Files of the web root served before sign-in (what the login page needs).</summary>
    private static readonly string[] PublicFiles = ["/site.css"];

    private readonly string tag = Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task EveryRoute_WithoutCredentials_AnswersUnauthorizedOrRedirectsToLogin()
    {
        var endpoints = host.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        Assert.Contains(endpoints, e => e.RoutePattern.RawText == SecuredHost.PatientRoute);
        using var http = host.Anonymous();
        var anonymous = new List<string>();
        var failures = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [];
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                anonymous.AddRange(methods.Count == 0 ? [$"* {endpoint.RoutePattern.RawText}"] : methods.Select(m => $"{m} {endpoint.RoutePattern.RawText}"));
                continue;
            }

            var path = Concrete(endpoint.RoutePattern);
            foreach (var method in methods.Count == 0 ? ["GET", "POST"] : methods)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }

                using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
                var refused = AccessAnswers.IsMachineRoute(new PathString(path))
                    ? response.StatusCode == HttpStatusCode.Unauthorized
                    : response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location?.AbsolutePath == LoginEndpoints.LoginPath;
                if (!refused)
                {
                    failures.Add($"{method} {path} ({endpoint.RoutePattern.RawText}): {(int)response.StatusCode} {response.Headers.Location}");
                }
            }
        }

        Assert.Empty(failures);
        Assert.Equal(AnonymousRoutes.Order(StringComparer.Ordinal), anonymous.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task EveryWebRootFile_WithoutCredentials_RedirectsToLoginUnlessPublic()
    {
        var files = Files(host.App.Services.GetRequiredService<IWebHostEnvironment>().WebRootFileProvider, string.Empty).ToList();
        Assert.Contains("/index.html", files);
        using var http = host.Anonymous();
        foreach (var file in files.Append("/"))
        {
            using var response = await http.GetAsync(new Uri(file, UriKind.Relative), TestContext.Current.CancellationToken);
            if (PublicFiles.Contains(file))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location?.AbsolutePath == LoginEndpoints.LoginPath, $"GET {file}: {(int)response.StatusCode}");
            }
        }
    }

    [Fact]
    public async Task Responses_CarrySecurityHeaders()
    {
        using var http = host.Admin();

        using var response = await http.GetAsync(new Uri("/api/status", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Strict-Transport-Security"), "HSTS is sent over HTTPS only");
    }

    [Fact]
    public async Task Fhir_OtherTeamsPatient_IsForbiddenAndAudited()
    {
        var (north, south) = await SeedTwoTeamsAsync();
        var southReading = HeartRate($"Patient/{south}", DateTimeOffset.UtcNow.AddHours(-1), 70, $"Device/{south}-d");
        await host.App.Services.GetRequiredService<IObservationStore>().WriteAsync(
            [HeartRate($"Patient/{north}", DateTimeOffset.UtcNow.AddHours(-1), 60, $"Device/{north}-d"), southReading], TestContext.Current.CancellationToken);
        using var nurse = await host.KeyAsync(Roles.Nurse, "north");

        // Their own team's patient: readable.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(nurse, $"/fhir/Patient/{north}"));
        Assert.Single(Entries(await GetJsonAsync(nurse, $"/fhir/Observation?subject=Patient/{north}")));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(nurse, $"/fhir/Device/{north}-d"));

        // Another team's: refused on every FHIR interaction, and hidden from searches.
        foreach (var path in new[]
        {
            $"/fhir/Patient/{south}", $"/fhir/Observation?subject=Patient/{south}", $"/fhir/Observation?patient={south}",
            $"/fhir/Observation/{southReading.Id}", $"/fhir/Device/{south}-d", $"/fhir/Device?patient={south}", $"/fhir/RiskAssessment?subject=Patient/{south}",
            $"/api/test/patients/{south}",
        })
        {
            Assert.True(await StatusAsync(nurse, path) == HttpStatusCode.Forbidden, $"GET {path} as a nurse of north");
        }

        var patients = Entries(await GetJsonAsync(nurse, $"/fhir/Patient?_id={north},{south}")).Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList();
        Assert.Equal([north], patients);
        var devices = Entries(await GetJsonAsync(nurse, $"/fhir/Device?_id={north}-d,{south}-d")).Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList();
        Assert.Equal([$"{north}-d"], devices);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(nurse, $"/api/test/patients/{north}"));

        // An admin sees both; only an admin imports.
        using var admin = host.Admin();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(admin, $"/fhir/Patient/{south}"));
        using var import = new StringContent("""{"resourceType":"Bundle","type":"transaction","entry":[]}""", Encoding.UTF8, "application/fhir+json");
        using var refusedImport = await nurse.PostAsync(new Uri("/fhir", UriKind.Relative), import, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, refusedImport.StatusCode);

        // The trail has who saw what, and the refusals.
        var audit = host.App.Services.GetRequiredService<AuditLog>();
        var southRows = await audit.ListAsync(new AuditQuery(Patient: south, Limit: 1000), TestContext.Current.CancellationToken);
        Assert.Contains(southRows, r => r.Entry.Outcome == "403" && r.Entry.Action == "fhir.read" && r.Entry.Role == Roles.Nurse && r.Entry.Source == "127.0.0.1");
        Assert.Contains(southRows, r => r.Entry.Outcome == "403" && r.Entry.Action == "fhir.search");
        Assert.Contains(southRows, r => r.Entry.Outcome == "403" && r.Entry.Action == "test.view");
        Assert.Contains(southRows, r => r.Entry.Outcome == "200" && r.Entry.Actor == ApiKeyAuthenticationHandler.BootstrapActor);
        var northRows = await audit.ListAsync(new AuditQuery(Patient: north, Limit: 1000), TestContext.Current.CancellationToken);
        Assert.Contains(northRows, r => r.Entry.Outcome == "200" && r.Entry.Action == "fhir.search" && r.Entry.Resource!.Contains($"subject=Patient/{north}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeadLetters_OfAnotherTeamsDevice_AreHiddenAndForbidden()
    {
        var (north, south) = await SeedTwoTeamsAsync();
        var store = host.App.Services.GetRequiredService<DeadLetterStore>();
        var now = DateTimeOffset.UtcNow;
        await store.AddAsync(
        [
            new Rejection($"telesuivi/v1/devices/withings/{north}-d", Encoding.UTF8.GetBytes("{north"), now, "unparseable", "not JSON"),
            new Rejection($"telesuivi/v1/devices/withings/{south}-d", Encoding.UTF8.GetBytes("{south"), now, "unparseable", "not JSON"),
        ], TestContext.Current.CancellationToken);
        using var admin = host.Admin();
        var all = (await GetJsonAsync(admin, "/api/deadletters?limit=1000")).EnumerateArray().ToList();
        var northLetter = all.Single(l => l.GetProperty("topic").GetString()!.EndsWith($"{north}-d", StringComparison.Ordinal)).GetProperty("id").GetInt64();
        var southLetter = all.Single(l => l.GetProperty("topic").GetString()!.EndsWith($"{south}-d", StringComparison.Ordinal)).GetProperty("id").GetInt64();
        using var physician = await host.KeyAsync(Roles.Physician, "north");

        var seen = (await GetJsonAsync(physician, "/api/deadletters?limit=1000")).EnumerateArray().Select(l => l.GetProperty("id").GetInt64()).ToList();

        Assert.Contains(northLetter, seen);
        Assert.DoesNotContain(southLetter, seen);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(physician, $"/api/deadletters/{northLetter}"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(physician, $"/api/deadletters/{southLetter}"));
        using var replay = await physician.PostAsync(new Uri("/api/deadletters/replay", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, replay.StatusCode);
    }

    [Fact]
    public async Task ApiKey_Revoked_IsRefusedAtItsNextRequest()
    {
        var accounts = host.App.Services.GetRequiredService<AccountStore>();
        var (key, secret) = await accounts.CreateApiKeyAsync("ehr", Roles.Admin, [], DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);
        using var http = host.Anonymous();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, "/fhir/Patient"));

        await accounts.RevokeApiKeyAsync(key.Id, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);

        using var refused = await http.GetAsync(new Uri("/fhir/Patient", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("OperationOutcome", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetricsKey_ReadsMetricsOnly()
    {
        using var scraper = await host.KeyAsync(Roles.Metrics);

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scraper, "/metrics"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scraper, "/fhir/Patient"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scraper, "/api/status"));
        using var nurse = await host.KeyAsync(Roles.Nurse, "north");
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(nurse, "/metrics"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(nurse, "/api/audit"));
    }

    [Fact]
    public async Task AuditApi_BadTime_AnswersBadRequestWithTheReason()
    {
        using var admin = host.Admin();

        using var response = await admin.GetAsync(new Uri("/api/audit?from=yesterday", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("from 'yesterday' is not an ISO 8601 date", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    /// <summary>Registers a patient of team north and one of team south, each with a device; returns their ids.</summary>
    private async Task<(string North, string South)> SeedTwoTeamsAsync()
    {
        var (north, south) = ($"pn-{tag}", $"ps-{tag}");
        string Entries(string patient, string team) => $$"""
            { "resource": { "resourceType": "Patient", "id": "{{patient}}", "generalPractitioner": [{ "reference": "Organization/{{team}}" }] } },
            { "resource": { "resourceType": "Device", "id": "{{patient}}-d", "patient": { "reference": "Patient/{{patient}}" } } }
            """;
        await RegistryBundles.ImportAsync(host.BaseUrl, $$"""{ "resourceType": "Bundle", "type": "transaction", "entry": [ {{Entries(north, "north")}}, {{Entries(south, "south")}} ] }""");
        return (north, south);
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        return response.StatusCode;
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static List<JsonElement> Entries(JsonElement bundle) =>
        bundle.TryGetProperty("entry", out var entries) ? entries.EnumerateArray().ToList() : [];

    /// <summary>A path that matches the pattern: a number for numeric parameters, a word otherwise.</summary>
    private static string Concrete(RoutePattern pattern) => "/" + string.Join('/', pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
    {
        RoutePatternLiteralPart literal => literal.Content,
        RoutePatternParameterPart parameter when parameter.ParameterPolicies.Any(p => p.Content is "long" or "int") => "1",
        RoutePatternParameterPart parameter when parameter.IsCatchAll => "any/thing",
        RoutePatternParameterPart => "x",
        RoutePatternSeparatorPart separator => separator.Content,
        _ => string.Empty,
    }))));

    private static IEnumerable<string> Files(IFileProvider provider, string folder)
    {
        foreach (var entry in provider.GetDirectoryContents(folder))
        {
            var path = $"{folder}/{entry.Name}";
            if (entry.IsDirectory)
            {
                foreach (var file in Files(provider, path))
                {
                    yield return file;
                }
            }
            else
            {
                yield return path;
            }
        }
    }
}
