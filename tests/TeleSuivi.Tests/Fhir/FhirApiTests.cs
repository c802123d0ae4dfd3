using System.Net;
using System.Net.Http.Headers;
using Hl7.Fhir.Model;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Fhir;

/// <summary>
/// What the facade does whatever the observation store: the CapabilityStatement, Patient, Device and RiskAssessment,
/// content negotiation, methods, and every refusal as an OperationOutcome with the right status. The real executable
/// on SQLite.
/// </summary>
public sealed class FhirApiTests(ExternalServices services, SqliteFhirHost host) : IAsyncLifetime, IClassFixture<SqliteFhirHost>
{
    private readonly string tag = Guid.NewGuid().ToString("N")[..12];
    private FhirClient? client;

    private FhirClient Fhir => client ?? throw new InvalidOperationException("not initialized");

    public async ValueTask InitializeAsync()
    {
        await host.StartAsync(services);
        client = new FhirClient(host.Process.BaseUrl);
    }

    public ValueTask DisposeAsync()
    {
        client?.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Metadata_DescribesTheServer()
    {
        var answer = await Fhir.GetAsync("/fhir/metadata");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var capability = Assert.IsType<CapabilityStatement>(answer.Resource);
        Assert.Equal(FHIRVersion.N4_0_1, capability.FhirVersion);
        Assert.Equal(PublicationStatus.Active, capability.Status);
        Assert.Equal(CapabilityStatementKind.Instance, capability.Kind);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}$", capability.Date);
        Assert.Equal("TeleSuivi", capability.Software?.Name);
        Assert.False(string.IsNullOrEmpty(capability.Software?.Version));
        Assert.Equal(Fhir.BaseUrl, capability.Implementation?.Url);
        Assert.Equal(["json", "application/fhir+json"], capability.Format);
        var rest = Assert.Single(capability.Rest);
        Assert.Equal(CapabilityStatement.RestfulCapabilityMode.Server, rest.Mode);
        Assert.Equal(CapabilityStatement.SystemRestfulInteraction.Transaction, Assert.Single(rest.Interaction).Code);
        Assert.Contains("Authorization: Bearer", rest.Security?.Description, StringComparison.Ordinal);
        Assert.Equal(["Observation", "Patient", "Device", "RiskAssessment"], rest.Resource.Select(r => r.Type));
        Assert.All(rest.Resource, r => Assert.Equal(
            [CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.SearchType],
            r.Interaction.Select(i => i.Code!.Value)));
        Assert.Equal(
            ["subject patient code date", "_id identifier", "_id identifier patient", "subject patient date"],
            rest.Resource.Select(r => string.Join(' ', r.SearchParam.Select(p => p.Name))));
        Assert.Contains("online risk scores", rest.Resource[3].Documentation, StringComparison.Ordinal);
    }

    /// <summary>Every search parameter the CapabilityStatement lists is accepted; one it does not list is refused.</summary>
    [Fact]
    public async Task Metadata_EverySearchParameterListed_IsAccepted()
    {
        var capability = Assert.IsType<CapabilityStatement>((await Fhir.GetAsync("/fhir/metadata")).Resource);
        var samples = new Dictionary<string, string>
        {
            ["subject"] = "Patient/x", ["patient"] = "Patient/x", ["code"] = "http://loinc.org|8867-4", ["date"] = "ge2026-01",
            ["_id"] = "x", ["identifier"] = "urn:x|1",
        };

        foreach (var resource in capability.Rest[0].Resource)
        {
            var required = resource.Type is "Observation" or "RiskAssessment" ? "subject=Patient/x&" : string.Empty;
            foreach (var parameter in resource.SearchParam)
            {
                var answer = await Fhir.GetAsync($"/fhir/{resource.Type}?{required}{parameter.Name}={Uri.EscapeDataString(samples[parameter.Name!])}");
                Assert.True(answer.Status == HttpStatusCode.OK, $"{resource.Type}?{parameter.Name}: {(int)answer.Status}");
            }

            var read = await Fhir.GetAsync($"/fhir/{resource.Type}/x-{tag}");
            Assert.Equal(HttpStatusCode.NotFound, read.Status);
            var unlisted = await Fhir.GetAsync($"/fhir/{resource.Type}?{required}_summary=count");
            Assert.Equal(HttpStatusCode.BadRequest, unlisted.Status);
        }
    }

    [Fact]
    public async Task Patient_SearchAndRead_ServeTheRegistry()
    {
        var ids = new[] { $"a-{tag}", $"b-{tag}", $"c-{tag}" };
        await RegistryBundles.ImportAsync(host.Process.BaseUrl, PatientsBundle(ids));

        var byId = await Fhir.GetAsync($"/fhir/Patient?_id={string.Join(',', ids)}&_count=2");
        var pages = await Fhir.FollowAsync(byId);
        var byIdentifier = await Fhir.GetAsync($"/fhir/Patient?identifier={Uri.EscapeDataString($"urn:oid:1.2.250.1.213.1.4.8|nir-{ids[1]}")}");
        var byValueOnly = await Fhir.GetAsync($"/fhir/Patient?identifier=nir-{ids[2]}");
        var read = await Fhir.GetAsync($"/fhir/Patient/{ids[0]}");

        Assert.Equal(ids, pages.SelectMany(p => p.Matches<Patient>()).Select(p => p.Id));
        Assert.Equal([2, 1], pages.Select(p => p.Matches<Patient>().Count));
        Assert.All(pages, p => Assert.Equal(3, p.Bundle.Total));
        Assert.Equal([ids[1]], byIdentifier.Matches<Patient>().Select(p => p.Id));
        Assert.Equal([ids[2]], byValueOnly.Matches<Patient>().Select(p => p.Id));
        var patient = Assert.IsType<Patient>(read.Resource);
        Assert.Equal(("Martin", "75011"), (patient.Name[0].Family, patient.Address[0].PostalCode));
        Assert.Equal(Json(patient), Json(byId.Matches<Patient>()[0]));
        Assert.Equal($"{Fhir.BaseUrl}/Patient/{ids[0]}", byId.Bundle.Entry[0].FullUrl);
        var back = await Fhir.FollowAsync(pages[^1], "previous");
        Assert.Equal(ids, back.AsEnumerable().Reverse().SelectMany(p => p.Matches<Patient>()).Select(p => p.Id));
    }

    [Fact]
    public async Task Device_SearchByPatientIdentifierAndRead_ServeTheRegistry()
    {
        var (patient, device, other, returned) = ($"p-{tag}", $"d-{tag}", $"o-{tag}", $"r-{tag}");
        await RegistryBundles.ImportAsync(host.Process.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-3)));
        await RegistryBundles.ImportAsync(host.Process.BaseUrl, RegistryBundles.PatientWithDevice($"q-{tag}", other, DateTimeOffset.UtcNow.AddDays(-3)));
        await RegistryBundles.ImportAsync(host.Process.BaseUrl, RegistryBundles.PatientWithDevice($"s-{tag}", returned, DateTimeOffset.UtcNow.AddDays(-9), DateTimeOffset.UtcNow.AddDays(-1))
            .Replace($"Patient/s-{tag}", $"Patient/{patient}", StringComparison.Ordinal).Replace($"\"id\": \"s-{tag}\"", $"\"id\": \"{patient}\"", StringComparison.Ordinal));

        var assigned = await Fhir.GetAsync($"/fhir/Device?patient={patient}");
        var assignedByReference = await Fhir.GetAsync($"/fhir/Device?patient=Patient/{patient}");
        var bySerial = await Fhir.GetAsync($"/fhir/Device?identifier=SN-{other}");
        var read = await Fhir.GetAsync($"/fhir/Device/{device}");

        Assert.Equal([device], assigned.Matches<Device>().Select(d => d.Id));
        Assert.Equal([device], assignedByReference.Matches<Device>().Select(d => d.Id));
        Assert.Equal([other], bySerial.Matches<Device>().Select(d => d.Id));
        Assert.Equal($"SN-{device}", Assert.IsType<Device>(read.Resource).Identifier[0].Value);
        Assert.Equal(HttpStatusCode.NotFound, (await Fhir.GetAsync($"/fhir/Device/none-{tag}")).Status);
    }

    [Fact]
    public async Task RiskAssessment_UnscoredPatientAndUnknownId_SearchIsEmptyAndReadIsNotFound()
    {
        var search = await Fhir.GetAsync($"/fhir/RiskAssessment?patient=p-{tag}");
        var read = await Fhir.GetAsync($"/fhir/RiskAssessment/r-{tag}");
        var withoutPatient = await Fhir.GetAsync("/fhir/RiskAssessment");

        Assert.Equal(HttpStatusCode.OK, search.Status);
        Assert.Empty(search.Bundle.Entry);
        Assert.Equal(0, search.Bundle.Total);
        Assert.Equal(HttpStatusCode.NotFound, read.Status);
        Assert.Equal(HttpStatusCode.BadRequest, withoutPatient.Status);
        Assert.Contains("must name its patient", withoutPatient.Outcome.Issue[0].Diagnostics, StringComparison.Ordinal);
    }

    public static TheoryData<string, string?, HttpStatusCode, OperationOutcome.IssueType> Refusals => new()
    {
        { "/fhir/Observation", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?code=8867-4", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&foo=1", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x&_summary=count", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x&code:text=pulse", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x,Patient/y", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=https://other.example/fhir/Patient/x", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?patient=Location/x", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&date=2026-13", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&date=2026-02-30", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&date=yesterday", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&date=ne2026", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x&date=sa2026", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x&_sort=code", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x&_count=0", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&_count=-1", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&_count=ten", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&_count=5&_count=6", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&_page=garbage", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&_pretty=maybe", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation?subject=Patient/x&_format=xml", null, HttpStatusCode.NotAcceptable, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x&_format=application/fhir%2Bxml", null, HttpStatusCode.NotAcceptable, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x", "Accept: application/fhir+xml", HttpStatusCode.NotAcceptable, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x", "Accept: text/html, application/xml;q=0.9", HttpStatusCode.NotAcceptable, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x", "Accept: application/fhir+json; fhirVersion=3.0", HttpStatusCode.NotAcceptable, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Observation?subject=Patient/x", "Prefer: handling=sloppy", HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation/not$an$id", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid },
        { "/fhir/Observation/x/_history", null, HttpStatusCode.NotFound, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Patient/nobody-at-all", null, HttpStatusCode.NotFound, OperationOutcome.IssueType.NotFound },
        { "/fhir/Patient?name=Martin", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Device?patient=Patient/a,Patient/b", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/RiskAssessment?probability=gt0.5", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
        { "/fhir/Encounter", null, HttpStatusCode.NotFound, OperationOutcome.IssueType.NotSupported },
        { "/fhir/metadata?mode=terminology", null, HttpStatusCode.BadRequest, OperationOutcome.IssueType.NotSupported },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Request_Refused_AnswersOperationOutcomeWithItsStatus(string path, string? header, HttpStatusCode status, OperationOutcome.IssueType issue)
    {
        var headers = header is null ? [] : new[] { (header[..header.IndexOf(':', StringComparison.Ordinal)], header[(header.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()) };

        var answer = await Fhir.GetAsync(path, headers);

        Assert.Equal(status, answer.Status);
        var problem = Assert.Single(answer.Outcome.Issue);
        Assert.Equal((OperationOutcome.IssueSeverity.Error, issue), (problem.Severity!.Value, problem.Code!.Value));
        Assert.False(string.IsNullOrWhiteSpace(problem.Diagnostics));
    }

    public static TheoryData<string?, string?> AcceptedFormats => new()
    {
        { null, null },
        { "json", null },
        { "application/fhir+json", null },
        { null, "application/json" },
        { null, "*/*" },
        { null, "application/fhir+json; fhirVersion=4.0" },
        { null, "application/fhir+xml;q=0.9, application/fhir+json" },
    };

    [Theory]
    [MemberData(nameof(AcceptedFormats))]
    public async Task Request_JsonFormatOrAccept_IsServed(string? format, string? accept)
    {
        var query = format is null ? string.Empty : $"&_format={Uri.EscapeDataString(format)}";

        var answer = await Fhir.GetAsync($"/fhir/Observation?subject=Patient/x{query}", accept is null ? [] : [("Accept", accept)]);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("4.0", answer.ContentHeaders.ContentType!.Parameters.Single(p => p.Name == "fhirVersion").Value);
    }

    public static TheoryData<string, string, string> Methods => new()
    {
        { "PUT", "/fhir/Observation/x", "GET" },
        { "DELETE", "/fhir/Observation/x", "GET" },
        { "POST", "/fhir/Observation", "GET" },
        { "PATCH", "/fhir/Patient/x", "GET" },
        { "DELETE", "/fhir/Device", "GET" },
        { "PUT", "/fhir/metadata", "GET" },
        { "GET", "/fhir", "POST" },
        { "GET", "/fhir/Observation/_search", "POST" },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Request_UnsupportedMethod_Answers405WithAllow(string method, string path, string allowed)
    {
        using var content = method is "GET" or "DELETE" ? null : new StringContent("{}", new MediaTypeHeaderValue("application/fhir+json"));

        var answer = await Fhir.SendAsync(new HttpMethod(method), path, content);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.Status);
        Assert.Equal([allowed], answer.ContentHeaders.Allow);
        Assert.Equal(OperationOutcome.IssueType.NotSupported, Assert.Single(answer.Outcome.Issue).Code);
    }

    [Fact]
    public async Task PostSearch_FormBody_AnswersAsGet()
    {
        var patient = $"Patient/p-{tag}";
        await host.Store.WriteAsync([HeartRate(patient, Morning, 60, $"Device/{tag}"), BodyWeight(patient, Morning, 70m, $"Device/{tag}-s")], TestContext.Current.CancellationToken);
        using var form = new FormUrlEncodedContent([new("subject", patient), new("code", "http://loinc.org|8867-4")]);
        using var json = new StringContent("{}", new MediaTypeHeaderValue("application/json"));

        var posted = await Fhir.SendAsync(HttpMethod.Post, "/fhir/Observation/_search", form);
        var got = await Fhir.GetAsync($"/fhir/Observation?subject={patient}&code=http://loinc.org%7C8867-4");
        var wrongType = await Fhir.SendAsync(HttpMethod.Post, "/fhir/Observation/_search", json);

        Assert.Equal(HttpStatusCode.OK, posted.Status);
        Assert.Equal(got.Matches<Observation>().Select(Json), posted.Matches<Observation>().Select(Json));
        Assert.Single(posted.Matches<Observation>());
        Assert.Equal(got.Link("self"), posted.Link("self"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType.Status);
    }

    [Fact]
    public async Task Search_LenientHandling_IgnoresAndReportsUnknownParameters()
    {
        var patient = $"Patient/p-{tag}";
        await host.Store.WriteAsync([HeartRate(patient, Morning, 60, $"Device/{tag}")], TestContext.Current.CancellationToken);

        var answer = await Fhir.GetAsync($"/fhir/Observation?subject={patient}&_summary=data&color=blue", ("Prefer", "handling=lenient"));
        var strict = await Fhir.GetAsync($"/fhir/Observation?subject={patient}&color=blue", ("Prefer", "return=minimal, handling=strict"));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Single(answer.Matches<Observation>());
        var outcome = Assert.IsType<OperationOutcome>(answer.Bundle.Entry.Single(e => e.Search?.Mode == Bundle.SearchEntryMode.Outcome).Resource);
        Assert.Equal(2, outcome.Issue.Count);
        Assert.All(outcome.Issue, i => Assert.Equal(OperationOutcome.IssueSeverity.Warning, i.Severity));
        Assert.DoesNotContain("color", answer.Link("self"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, strict.Status);
    }

    [Fact]
    public async Task Search_PageTokenOfAnotherSearch_IsRefused()
    {
        var patient = $"Patient/p-{tag}";
        await host.Store.WriteAsync([HeartRate(patient, Morning, 60, $"Device/{tag}"), HeartRate(patient, Morning.AddMinutes(1), 61, $"Device/{tag}")], TestContext.Current.CancellationToken);
        var first = await Fhir.GetAsync($"/fhir/Observation?subject={patient}&_count=1");
        var next = first.Link("next")!;

        var otherCount = await Fhir.GetAsync(next.Replace("_count=1", "_count=2", StringComparison.Ordinal));
        var otherSort = await Fhir.GetAsync(next.Replace("_sort=date", "_sort=-date", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, otherCount.Status); // the page size may change along the way
        Assert.Equal(HttpStatusCode.BadRequest, otherSort.Status);
        Assert.Contains("another search", otherSort.Outcome.Issue[0].Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_TransactionBundle_AnswersAStrictTransactionResponse()
    {
        using var content = new StringContent(PatientsBundle([$"i-{tag}"]), new MediaTypeHeaderValue("application/fhir+json"));

        var answer = await Fhir.SendAsync(HttpMethod.Post, "/fhir?_pretty=true", content);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(Bundle.BundleType.TransactionResponse, answer.Bundle.Type);
        Assert.Equal($"Patient/i-{tag}", Assert.Single(answer.Bundle.Entry).Response?.Location);
    }

    [Fact]
    public async Task Read_Pretty_IsIndentedFhirJson()
    {
        using var http = new HttpClient { BaseAddress = host.Process.BaseUrl };

        var pretty = await http.GetStringAsync(new Uri("/fhir/metadata?_pretty=true", UriKind.Relative), TestContext.Current.CancellationToken);
        var compact = await http.GetStringAsync(new Uri("/fhir/metadata", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Contains('\n', pretty);
        Assert.DoesNotContain('\n', compact);
        Assert.Equal(HttpStatusCode.OK, (await Fhir.GetAsync("/fhir/metadata?_pretty=true")).Status);
    }

    private static string PatientsBundle(IEnumerable<string> ids) => $$"""
        { "resourceType": "Bundle", "type": "transaction", "entry": [
        {{string.Join(",\n", ids.Select(id => $$"""
          { "fullUrl": "Patient/{{id}}",
            "resource": { "resourceType": "Patient", "id": "{{id}}",
                          "identifier": [{ "system": "urn:oid:1.2.250.1.213.1.4.8", "value": "nir-{{id}}" }],
                          "name": [{ "family": "Martin", "given": ["Jeanne"] }], "address": [{ "use": "home", "postalCode": "75011" }] },
            "request": { "method": "PUT", "url": "Patient/{{id}}" } }
          """))}}
        ] }
        """;
}
