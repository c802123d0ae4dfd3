using System.Net;
using Hl7.Fhir.Model;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Fhir;

/// <summary>
/// <c>GET /fhir/Observation</c> and <c>GET /fhir/Observation/{id}</c> of the real executable, run once per store by a
/// subclass (SQLite, InfluxDB). Observations are written with the store itself (exact times and ids), or through the
/// real ingestion; each test has its own patient and devices.
/// </summary>
public abstract class FhirObservationApiContract(ExternalServices services, FhirHost host) : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
    private readonly string tag = Guid.NewGuid().ToString("N")[..12];
    private FhirClient? client;

    protected FhirClient Fhir => client ?? throw new InvalidOperationException("not initialized");

    private string PatientId => $"p-{tag}";

    private string Patient => $"Patient/{PatientId}";

    public async ValueTask InitializeAsync()
    {
        await host.StartAsync(services);
        client = new FhirClient(host.Process.BaseUrl);
    }

    public ValueTask DisposeAsync()
    {
        client?.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Search_BySubjectInEveryForm_ReturnsThatPatientsObservationsOldestFirst()
    {
        var written = new[] { Rate(T0.AddMinutes(2), 62), Weight(T0, 70.5m), Pressure(T0.AddMinutes(1), 128, 82, 97) };
        await WriteAsync([.. written, HeartRate($"Patient/other-{tag}", T0, 90, $"Device/{tag}-other")]);

        foreach (var query in new[]
        {
            $"subject=Patient/{PatientId}", $"subject={PatientId}", $"patient={PatientId}", $"patient=Patient/{PatientId}",
            $"subject:Patient={PatientId}", $"subject={Uri.EscapeDataString($"{Fhir.BaseUrl}/Patient/{PatientId}")}",
        })
        {
            var answer = await SearchAsync(query);

            Assert.Equal([written[1].Id, written[2].Id, written[0].Id], answer.Matches<Observation>().Select(o => o.Id));
            Assert.Equal(Bundle.BundleType.Searchset, answer.Bundle.Type);
            Assert.All(answer.Bundle.Entry, e => Assert.Equal($"{Fhir.BaseUrl}/Observation/{e.Resource!.Id}", e.FullUrl));
            Assert.Equal(host.CountsTotal ? 3 : null, answer.Bundle.Total);
            Assert.Equal($"{Fhir.BaseUrl}/Observation?subject=Patient%2F{PatientId}&_sort=date&_count=50", answer.Link("self"));
            Assert.Null(answer.Link("next"));
            Assert.Null(answer.Link("previous"));
        }
    }

    [Fact]
    public async Task Search_ByCode_MatchesTokensListsAndAllOccurrences()
    {
        var rate = Rate(T0, 60);
        var weight = Weight(T0.AddMinutes(1), 70m);
        var pressure = Pressure(T0.AddMinutes(2), 120, 80, 93);
        await WriteAsync(rate, weight, pressure);

        async Task<List<string>> Codes(string code) =>
            [.. (await SearchAsync($"subject={Patient}&code={Uri.EscapeDataString(code)}")).Matches<Observation>().Select(o => o.Id!)];

        Assert.Equal([rate.Id!], await Codes("http://loinc.org|8867-4"));
        Assert.Equal([rate.Id!], await Codes("8867-4"));
        Assert.Equal([rate.Id!, weight.Id!], await Codes("http://loinc.org|8867-4,29463-7"));
        Assert.Equal([rate.Id!, weight.Id!, pressure.Id!], await Codes("http://loinc.org|"));
        Assert.Empty(await Codes("urn:other|8867-4"));
        Assert.Empty(await Codes("|8867-4"));
        var both = await SearchAsync($"subject={Patient}&code=8867-4,85354-9&code=http://loinc.org%7C85354-9");
        Assert.Equal([pressure.Id], both.Matches<Observation>().Select(o => o.Id));
    }

    /// <summary>A: 2025-12-31T23:59:59.999Z, B: 2026-01-01T00:00Z, C: 2026-01-15T08:00Z, D: 08:00:00.500Z, E: 23:30Z, F: 2026-02-01T00:00Z, G: 2027-03-01T00:00Z.</summary>
    public static TheoryData<string, string> DateSearches => new()
    {
        { "date=2026", "BCDEF" },
        { "date=eq2026-01", "BCDE" },
        { "date=2026-01-15", "CDE" },
        { "date=2026-01-15T08:00", "CD" },
        { "date=2026-01-15T09:00:00%2B01:00", "CD" },
        { "date=2026-01-15T09:00:00+01:00", "CD" }, // '+' left unescaped arrives as a space
        { "date=2026-01-15T08:00:00.500Z", "D" },
        { "date=ge2026-01-15T08:00:00.500Z", "DEFG" },
        { "date=gt2026-01-15T08:00:00Z", "EFG" },
        { "date=gt2026-01-15T08:00:00.000Z", "DEFG" },
        { "date=lt2026-01-01", "A" },
        { "date=le2026-01-01", "AB" },
        { "date=le2025", "A" },
        { "date=ge2026-01-01&date=lt2026-02", "BCDE" },
        { "date=gt2025-12-31T23:59:59.998Z&date=le2026-01-15", "ABCDE" },
        { "date=ge2026-02&date=le2026-01", "" },
        { "date=gt2027", "" },
    };

    [Theory]
    [MemberData(nameof(DateSearches))]
    public async Task Search_ByDate_AppliesThePrefixToTheRangeOfThePartialDate(string query, string expected)
    {
        var times = new Dictionary<char, DateTimeOffset>
        {
            ['A'] = new(2025, 12, 31, 23, 59, 59, 999, TimeSpan.Zero),
            ['B'] = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            ['C'] = new(2026, 1, 15, 8, 0, 0, TimeSpan.Zero),
            ['D'] = new(2026, 1, 15, 8, 0, 0, 500, TimeSpan.Zero),
            ['E'] = new(2026, 1, 15, 23, 30, 0, TimeSpan.Zero),
            ['F'] = new(2026, 2, 1, 0, 0, 0, TimeSpan.Zero),
            ['G'] = new(2027, 3, 1, 0, 0, 0, TimeSpan.Zero),
        };
        var byId = times.ToDictionary(t => Rate(t.Value, 60).Id!, t => t.Key);
        await WriteAsync([.. times.Values.Select(t => Rate(t, 60))]);

        var answer = await SearchAsync($"subject={Patient}&{query}");

        Assert.Equal(expected, string.Concat(answer.Matches<Observation>().Select(o => byId[o.Id!])));
    }

    [Fact]
    public async Task Search_SortedByDateBothWays_ReturnsOppositeOrders()
    {
        var written = Enumerable.Range(0, 6).Select(i => Rate(T0.AddMinutes(i * 7 % 6), 60 + i)).ToList();
        await WriteAsync([.. written]);

        var ascending = await SearchAsync($"subject={Patient}&_sort=date");
        var descending = await SearchAsync($"subject={Patient}&_sort=-date");
        var unsorted = await SearchAsync($"subject={Patient}");

        var times = ascending.Matches<Observation>().Select(Effective).ToList();
        Assert.Equal(times.Order(), times);
        Assert.Equal(6, times.Count);
        Assert.Equal(ascending.Matches<Observation>().Select(o => o.Id).Reverse(), descending.Matches<Observation>().Select(o => o.Id));
        Assert.Equal(ascending.Matches<Observation>().Select(o => o.Id), unsorted.Matches<Observation>().Select(o => o.Id));
        Assert.EndsWith("_sort=-date&_count=50", descending.Link("self"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_FollowingNextWhileReadingsArrive_ReturnsEveryObservationExactlyOnce()
    {
        // Ties: two devices measure in the same millisecond, which pages must never cut in two.
        var original = Enumerable.Range(0, 20).SelectMany(i => new[] { Rate(T0.AddMinutes(i), 60 + i), Rate(T0.AddMinutes(i), 70 + i, "bp") }).ToList();
        await WriteAsync([.. original]);
        var early = Enumerable.Range(1, 3).Select(i => Rate(T0.AddHours(-i), 50, "late")).ToList();
        var later = Enumerable.Range(1, 3).Select(i => Rate(T0.AddHours(i), 90, "late")).ToList();
        var inserted = false;

        var first = await SearchAsync($"subject={Patient}&code=8867-4&_count=7");
        var pages = await Fhir.FollowAsync(first, between: async page =>
        {
            if (!inserted)
            {
                // Before the cursor (never seen now), and after it (seen on a later page).
                await WriteAsync([.. early, .. later]);
                inserted = true;
            }
        });

        var ids = pages.SelectMany(p => p.Matches<Observation>()).Select(o => o.Id).ToList();
        Assert.All(pages, p => Assert.InRange(p.Matches<Observation>().Count, 1, 7));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(original.Concat(later), o => Assert.Contains(o.Id, ids));
        Assert.All(early, o => Assert.DoesNotContain(o.Id, ids));
        var times = pages.SelectMany(p => p.Matches<Observation>()).Select(Effective).ToList();
        Assert.Equal(times.Order(), times);
        Assert.NotNull(pages[^1].Link("previous"));
        Assert.Null(first.Link("previous"));

        // Back from the last page: previous links give everything before it, now including the early ones.
        var backwards = await Fhir.FollowAsync(pages[^1], "previous");
        var everything = await SearchAsync($"subject={Patient}&code=8867-4&_count=1000");
        Assert.Equal(
            everything.Matches<Observation>().Select(o => o.Id),
            backwards.AsEnumerable().Reverse().SelectMany(p => p.Matches<Observation>()).Select(o => o.Id));
        Assert.Equal(original.Count + 6, everything.Matches<Observation>().Count);
    }

    [Fact]
    public async Task Search_LatestFirstInPages_ReturnsTheReverseOfOldestFirst()
    {
        await WriteAsync([.. Enumerable.Range(0, 11).Select(i => Rate(T0.AddSeconds(i), 60 + i)), Weight(T0.AddSeconds(5), 70m)]);

        var ascending = await SearchAsync($"subject={Patient}&_count=100");
        var pages = await Fhir.FollowAsync(await SearchAsync($"subject={Patient}&_sort=-date&_count=4"));

        Assert.Equal(3, pages.Count);
        Assert.Equal(
            ascending.Matches<Observation>().Select(o => o.Id).Reverse(),
            pages.SelectMany(p => p.Matches<Observation>()).Select(o => o.Id));
        Assert.All(pages.Skip(1), p => Assert.Contains("_sort=-date", p.Link("self"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Search_Count_DefaultsTo50AndIsCappedAt1000()
    {
        await WriteAsync([.. Enumerable.Range(0, 55).Select(i => Rate(T0.AddMinutes(i), 60))]);

        var byDefault = await SearchAsync($"subject={Patient}");
        var capped = await SearchAsync($"subject={Patient}&_count=5000");
        var one = await SearchAsync($"subject={Patient}&_count=1");

        Assert.Equal(50, byDefault.Matches<Observation>().Count);
        Assert.NotNull(byDefault.Link("next"));
        Assert.Equal(55, capped.Matches<Observation>().Count);
        Assert.EndsWith("&_count=1000", capped.Link("self"), StringComparison.Ordinal);
        Assert.Single(one.Matches<Observation>());
        Assert.Equal(host.CountsTotal ? 55 : null, one.Bundle.Total);
    }

    [Fact]
    public async Task Read_ById_ReturnsTheObservationAsItWasStored()
    {
        var pressure = Pressure(T0, 128, 82, 97.5m);
        var weight = Weight(T0.AddMinutes(1), 72.50m);
        var noted = Rate(T0.AddMinutes(2), 131);
        noted.Note.Add(new Annotation { Text = new Markdown("device status: irregular pulse") });
        noted.Interpretation.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H", "High"));
        await WriteAsync(pressure, weight, noted);

        foreach (var observation in new[] { pressure, weight, noted })
        {
            var read = await Fhir.GetAsync($"/fhir/Observation/{observation.Id}");

            Assert.Equal(HttpStatusCode.OK, read.Status);
            Assert.Equal(Json(observation), Json(read.Resource));
        }
    }

    [Fact]
    public async Task Read_UnknownId_Answers404WithOperationOutcome()
    {
        var answer = await Fhir.GetAsync($"/fhir/Observation/none-{tag}");

        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
        Assert.Equal(OperationOutcome.IssueType.NotFound, Assert.Single(answer.Outcome.Issue).Code);
    }

    [Fact]
    public async Task IngestedReadings_ThroughMqtt_AreSearchableAndReadableExactlyAsStored()
    {
        var device = $"d-{tag}";
        await RegistryBundles.ImportAsync(host.Process.BaseUrl, RegistryBundles.PatientWithDevice(PatientId, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var weighed = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddMinutes(-20).ToUnixTimeSeconds());
        var broker = services.MqttUrl;
        await MosquittoClients.PublishAsync(broker, $"telesuivi/v1/devices/withings/{device}",
            $$"""{"measuregrps":[{"date":{{weighed.ToUnixTimeSeconds()}},"measures":[{"value":7250,"type":1,"unit":-2}]}]}""");
        var measured = DateTime.UtcNow.AddMinutes(-10);
        await MosquittoClients.PublishAsync(broker, $"telesuivi/v1/devices/gatt/{device}/2a35", GattEncoder.Encode(new BloodPressureMeasurement(
            PressureUnit.MillimetreOfMercury, Ieee11073Value.Number(128, 0), Ieee11073Value.Number(82, 0), Ieee11073Value.Number(97, 0))
        {
            TimeStamp = GattDateTime.From(measured),
        }));

        var answer = await Poll.UntilAsync(
            () => SearchAsync($"patient={PatientId}"), a => a.Matches<Observation>().Count == 2, TimeSpan.FromSeconds(30), "both readings to be searchable");

        var weight = answer.Matches<Observation>()[0];
        var pressure = answer.Matches<Observation>()[1];
        Assert.Equal(("http://loinc.org", "29463-7"), (weight.Code.Coding[0].System, weight.Code.Coding[0].Code));
        Assert.Equal((72.50m, "kg", "http://unitsofmeasure.org"), (((Quantity)weight.Value!).Value, ((Quantity)weight.Value).Code, ((Quantity)weight.Value).System));
        Assert.Equal(weighed, Effective(weight));
        Assert.Equal("85354-9", pressure.Code.Coding[0].Code);
        Assert.Equal(
            [("8480-6", 128m, "mm[Hg]"), ("8462-4", 82m, "mm[Hg]"), ("8478-0", 97m, "mm[Hg]")],
            pressure.Component.Select(c => (c.Code.Coding[0].Code, ((Quantity)c.Value!).Value!.Value, ((Quantity)c.Value).Code)));
        foreach (var observation in new[] { weight, pressure })
        {
            Assert.Equal($"Device/{device}", observation.Device?.Reference);
            Assert.Equal(Patient, observation.Subject?.Reference);
            Assert.Equal("https://telesuivi.org/fhir/observation-id", Assert.Single(observation.Identifier).System);
            Assert.StartsWith($"{device}|", observation.Identifier[0].Value, StringComparison.Ordinal);

            var read = await Fhir.GetAsync($"/fhir/Observation/{observation.Id}");
            var stored = await host.Store.FindAsync(observation.Id!, TestContext.Current.CancellationToken);
            Assert.Equal(Json(observation), Json(read.Resource));
            Assert.Equal(Json(stored!), Json(read.Resource));
        }
    }

    [Fact]
    public async Task Search_EnvironmentOfAZone_BySubjectLocation()
    {
        var zone = $"z{tag}";
        var ambient = HeartRate($"Location/{zone}", T0, 12, $"Device/{tag}-station");
        ambient.Device = null;
        await WriteAsync(ambient, Rate(T0, 60));

        var answer = await SearchAsync($"subject=Location/{zone}");

        Assert.Equal([ambient.Id], answer.Matches<Observation>().Select(o => o.Id));
        Assert.Equal($"Location/{zone}", answer.Matches<Observation>()[0].Subject?.Reference);
    }

    private async Task<FhirAnswer> SearchAsync(string query)
    {
        var answer = await Fhir.GetAsync($"/fhir/Observation?{query}");
        Assert.True(answer.Status == HttpStatusCode.OK, $"{query}: {(int)answer.Status} {Json(answer.Resource)}");
        return answer;
    }

    private Task WriteAsync(params Observation[] observations) => host.Store.WriteAsync(observations, TestContext.Current.CancellationToken);

    private Observation Rate(DateTimeOffset time, decimal value, string device = "ox") => HeartRate(Patient, time, value, $"Device/{tag}-{device}");

    private Observation Weight(DateTimeOffset time, decimal value) => BodyWeight(Patient, time, value, $"Device/{tag}-scale");

    private Observation Pressure(DateTimeOffset time, decimal systolic, decimal diastolic, decimal mean) =>
        BloodPressure(Patient, time, systolic, diastolic, mean, $"Device/{tag}-bp");

    private static DateTimeOffset Effective(Observation observation) =>
        ((FhirDateTime)observation.Effective!).ToDateTimeOffset(TimeSpan.Zero);
}

public sealed class SqliteFhirObservationApiTests(ExternalServices services, SqliteFhirHost host)
    : FhirObservationApiContract(services, host), IClassFixture<SqliteFhirHost>;

public sealed class InfluxFhirObservationApiTests(ExternalServices services, InfluxFhirHost host)
    : FhirObservationApiContract(services, host), IClassFixture<InfluxFhirHost>;
