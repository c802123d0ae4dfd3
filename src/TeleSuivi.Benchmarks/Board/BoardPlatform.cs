using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Benchmarks.Board;

/// <summary>
/// The real platform, in the benchmark process (PlatformHost.Build, as <c>serve</c> runs it): a temporary data folder,
/// the embedded broker and HTTP on free ports, an admin key from <c>Security:BootstrapApiKey</c>. It is loaded with a
/// care team's patients registered through POST /fhir and open alerts raised on its own AlertStore.
/// </summary>
public sealed class BoardPlatform : IAsyncDisposable
{
    public const string Team = "north";

    private const int PatientsPerBundle = 100;

    private readonly WebApplication app;
    private readonly string dataDirectory;

    private BoardPlatform(WebApplication app, string dataDirectory, Uri baseUrl, string adminKey)
    {
        this.app = app;
        this.dataDirectory = dataDirectory;
        BaseUrl = baseUrl;
        AdminKey = adminKey;
        Http = Client();
    }

    public Uri BaseUrl { get; }

    public string AdminKey { get; }

    /// <summary>A client signed in with the admin key, for the whole run.</summary>
    public HttpClient Http { get; }

    /// <param name="parentFolder">Where the temporary data folder goes; null for the system's temporary folder.</param>
    public static async Task<BoardPlatform> StartAsync(string? parentFolder = null)
    {
        var dataDirectory = parentFolder is null
            ? Directory.CreateTempSubdirectory("telesuivi-board-bench-").FullName
            : Directory.CreateDirectory(Path.Combine(parentFolder, "telesuivi-board-bench-" + Guid.NewGuid().ToString("N"))).FullName;
        var baseUrl = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var adminKey = "bench-admin-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var settings = new PlatformSettings { DataDirectory = dataDirectory, MqttPort = LoopbackPort.Free(), Urls = baseUrl.ToString().TrimEnd('/') };
        var app = PlatformHost.Build(settings, builder =>
        {
            // Logs at this request rate would time the console, not the board.
            builder.Configuration.AddInMemoryCollection([
                new("Security:BootstrapApiKey", adminKey),
                new("Logging:LogLevel:Default", "Warning"),
            ]);
        });
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(dataDirectory, recursive: true);
            throw;
        }

        return new BoardPlatform(app, dataDirectory, baseUrl, adminKey);
    }

    public HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return http;
    }

    /// <summary>A board's connection to the hub, as the admin (who sees every alert). Not started.</summary>
    public HubConnection Hub() => new HubConnectionBuilder()
        .WithUrl(new Uri(BaseUrl, "/hubs/triage"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(AdminKey))
        .Build();

    /// <summary>Registers <paramref name="count"/> patients of <see cref="Team"/> through FHIR transaction Bundles; returns their ids.</summary>
    /// <param name="progress">The patients registered so far.</param>
    public async Task<IReadOnlyList<string>> RegisterPatientsAsync(int count, IProgress<int> progress)
    {
        var ids = Enumerable.Range(0, count).Select(i => $"bench-{i:D5}").ToList();
        var done = 0;
        foreach (var chunk in ids.Chunk(PatientsPerBundle))
        {
            var entries = chunk.Select(id => $$"""
                { "fullUrl": "Patient/{{id}}",
                  "resource": { "resourceType": "Patient", "id": "{{id}}", "name": [{ "family": "Bench {{id[6..]}}", "given": ["Jeanne"] }],
                                "generalPractitioner": [{ "reference": "Organization/{{Team}}" }],
                                "address": [{ "use": "home", "postalCode": "750{{int.Parse(id[6..], CultureInfo.InvariantCulture) % 20 + 1:D2}}" }] },
                  "request": { "method": "PUT", "url": "Patient/{{id}}" } }
                """);
            var bundle = $$"""{ "resourceType": "Bundle", "type": "transaction", "entry": [{{string.Join(',', entries)}}] }""";
            using var content = new StringContent(bundle, Encoding.UTF8, "application/fhir+json");
            using var response = await Http.PostAsync(new Uri("/fhir", UriKind.Relative), content);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /fhir answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            done += chunk.Length;
            progress.Report(done);
        }

        return ids;
    }

    /// <summary>
    /// Opens one vital-limit alert on each of the first <paramref name="count"/> patients, with mixed severities and
    /// ages so the ranking has work to do. Raised on the store directly: nothing is pushed, the boards read them.
    /// </summary>
    public async Task<IReadOnlyList<long>> RaiseAlertsAsync(IReadOnlyList<string> patients, int count, IProgress<int> progress)
    {
        var store = app.Services.GetRequiredService<AlertStore>();
        var now = DateTimeOffset.UtcNow;
        var ids = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            var severity = (AlertSeverity)(i % 3 + 1);
            var time = now.AddMinutes(-i);
            var spo2 = 80 + i % 10;
            var draft = new AlertDraft(new AlertKey(patients[i], AlertKinds.VitalLimit, "spo2"), severity,
                new LocalizedText($"SpO2 {spo2} % under the limit", $"SpO2 {spo2} % sous la limite"),
                [new AlertEvidence(time, "SpO2", spo2, "%")]);
            var alert = await store.RaiseAsync(draft, time, CancellationToken.None)
                ?? throw new InvalidOperationException($"the store raised no alert for {patients[i]}");
            ids.Add(alert.Id);
            progress.Report(i + 1);
        }

        return ids;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        Directory.Delete(dataDirectory, recursive: true);
    }

}
