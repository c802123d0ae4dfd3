using System.Net;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Fhir;

/// <summary>The curl examples of the README's "FHIR API" section, run against the real executable: they must keep working.</summary>
public sealed partial class FhirReadmeExamplesTests(ExternalServices services, SqliteFhirHost host) : IClassFixture<SqliteFhirHost>
{
    [Fact]
    public async System.Threading.Tasks.Task ReadmeExamples_EachCurl_AnswersWhatItShows()
    {
        await host.StartAsync(services);
        await RegistryBundles.ImportAsync(host.Process.BaseUrl, """
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/p1", "resource": { "resourceType": "Patient", "id": "p1",
                "identifier": [{ "system": "urn:oid:1.2.250.1.213.1.4.8", "value": "2840375123456" }],
                "address": [{ "use": "home", "postalCode": "75011" }] }, "request": { "method": "PUT", "url": "Patient/p1" } },
              { "fullUrl": "Device/oximeter-1", "resource": { "resourceType": "Device", "id": "oximeter-1", "patient": { "reference": "Patient/p1" } },
                "request": { "method": "PUT", "url": "Device/oximeter-1" } } ] }
            """);
        var rate = HeartRate("Patient/p1", new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero), 74);
        rate.Id = "975d1e400e90e9442093d8e6ab3bfa15";
        var ambient = BodyWeight("Location/75011", new DateTimeOffset(2026, 1, 10, 8, 0, 0, TimeSpan.Zero), 12.5m);
        ambient.Id = "readme-ambient";
        await host.Store.WriteAsync([rate, ambient], TestContext.Current.CancellationToken);
        using var fhir = new FhirClient(host.Process.BaseUrl);

        var examples = Examples().ToList();

        Assert.True(examples.Count >= 8, $"found {examples.Count} curl examples");
        foreach (var (method, url, form) in examples)
        {
            using var content = form.Count > 0 ? new FormUrlEncodedContent(form) : null;
            var answer = await fhir.SendAsync(method, url.Replace("$FHIR", fhir.BaseUrl, StringComparison.Ordinal), content);

            Assert.True(answer.Status == HttpStatusCode.OK, $"{method} {url}: {(int)answer.Status}");
            if (answer.Resource is Bundle bundle)
            {
                Assert.True(answer.Bundle.Entry.Count > 0, $"{url}: the example finds nothing");
                Assert.Equal(Bundle.BundleType.Searchset, bundle.Type);
            }
        }
    }

    private static IEnumerable<(HttpMethod Method, string Url, List<KeyValuePair<string, string>> Form)> Examples()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        var section = readme[readme.IndexOf("## FHIR API", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        foreach (var line in section.Split('\n').Where(l => l.StartsWith("curl ", StringComparison.Ordinal)))
        {
            var url = UrlPattern().Match(line).Groups[1].Value;
            var form = FormPattern().Matches(line).Select(m => new KeyValuePair<string, string>(m.Groups[1].Value, m.Groups[2].Value)).ToList();
            yield return (line.Contains("-X POST", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, url, form);
        }
    }

    [GeneratedRegex("\"(\\$FHIR[^\"]*)\"")]
    private static partial Regex UrlPattern();

    [GeneratedRegex(@" -d ([^=\s]+)=(\S+)")]
    private static partial Regex FormPattern();
}
