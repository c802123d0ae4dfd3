using System.Net;
using System.Net.Http.Headers;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Fhir;

/// <summary>A FHIR answer, parsed with Firely's parser in strict mode (a response that does not parse fails the test).</summary>
public sealed record FhirAnswer(HttpStatusCode Status, Resource Resource, HttpResponseHeaders Headers, HttpContentHeaders ContentHeaders)
{
    public Bundle Bundle => Assert.IsType<Bundle>(Resource);

    public OperationOutcome Outcome => Assert.IsType<OperationOutcome>(Resource);

    /// <summary>The Observations (or other resources) matched by a searchset, in order.</summary>
    public IReadOnlyList<T> Matches<T>()
        where T : Resource =>
        Bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => Assert.IsType<T>(e.Resource)).ToList();

    public string? Link(string relation) => Bundle.Link.FirstOrDefault(l => l.Relation == relation)?.Url;

    public override string ToString() => $"{(int)Status} {Resource.TypeName}";
}

/// <summary>Talks to <c>/fhir</c> of a running telesuivi and parses every answer strictly, checking it is FHIR JSON.</summary>
public sealed class FhirClient(Uri host) : IDisposable
{
    private static readonly FhirJsonDeserializer StrictParser = new(new DeserializerSettings().UsingMode(DeserializationMode.Strict));

    private readonly HttpClient http = TeleSuiviProcess.CreateClient(host, TimeSpan.FromSeconds(30));

    public Uri Host => host;

    /// <summary>The service base URL the server writes in its links and fullUrls.</summary>
    public string BaseUrl => host.ToString().TrimEnd('/') + "/fhir";

    public Task<FhirAnswer> GetAsync(string pathOrUrl, params (string Name, string Value)[] headers) =>
        SendAsync(HttpMethod.Get, pathOrUrl, null, headers);

    public async Task<FhirAnswer> SendAsync(HttpMethod method, string pathOrUrl, HttpContent? content, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, new Uri(pathOrUrl, pathOrUrl.StartsWith("http", StringComparison.Ordinal) ? UriKind.Absolute : UriKind.Relative)) { Content = content };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(
            response.Content.Headers.ContentType?.MediaType == "application/fhir+json",
            $"{method} {pathOrUrl}: {(int)response.StatusCode} answered with Content-Type '{response.Content.Headers.ContentType}': {body}");
        Resource resource;
        try
        {
            resource = StrictParser.Deserialize<Resource>(body);
        }
        catch (DeserializationFailedException ex)
        {
            throw new Xunit.Sdk.XunitException($"{method} {pathOrUrl}: the answer does not parse strictly: {ex.Message}\n{body}");
        }

        return new FhirAnswer(response.StatusCode, resource, response.Headers, response.Content.Headers);
    }

    /// <summary>Follows <c>next</c> (or another relation) from a first answer until there is none; every page is checked.</summary>
    public async Task<List<FhirAnswer>> FollowAsync(FhirAnswer first, string relation = "next", Func<FhirAnswer, System.Threading.Tasks.Task>? between = null)
    {
        var pages = new List<FhirAnswer> { first };
        for (var url = first.Link(relation); url is not null; url = pages[^1].Link(relation))
        {
            Assert.True(pages.Count < 500, "the links never end");
            if (between is not null)
            {
                await between(pages[^1]);
            }

            var page = await GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, page.Status);
            pages.Add(page);
        }

        return pages;
    }

    public void Dispose() => http.Dispose();
}
