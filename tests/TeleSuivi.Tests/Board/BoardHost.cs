using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Security;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Board;

/// <summary>
/// One real <c>telesuivi serve</c> on a mosquitto of its own for the board tests (each test uses its own patients), with
/// helpers to register patients, publish Withings readings over MQTT and talk to the API and the hub. The patients
/// belong to care team <see cref="Team"/>; nurses are real accounts of that team (API keys for the API and the hub,
/// passwords for the browser), so every test goes through the platform's authentication and access checks.
/// </summary>
/// <remarks>
/// Not the shared mosquitto: there every other test's traffic (a zone's hour of environment in one message, payloads of
/// a megabyte) would reach this server's pipeline too, and the board test holds that pipeline to 1 s from publish to
/// board.
/// </remarks>
public sealed class BoardHost : IAsyncLifetime
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public const string Team = "north";

    private readonly ConcurrentDictionary<string, Task<(ApiKeyRecord Key, string Secret)>> apiKeys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HttpClient> clients = new(StringComparer.Ordinal);
    private MqttTestPublisher? publisher;
    private PrivateMosquitto? mosquitto;

    public TeleSuiviProcess Process { get; private set; } = null!;

    public Uri BaseUrl => Process.BaseUrl;

    public HttpClient Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        mosquitto = await PrivateMosquitto.StartAsync();
        Process = TeleSuiviProcess.Start("serve", ["--broker", mosquitto.BrokerOption]);
        await Process.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        Http = Process.CreateClient();
        publisher = await MqttTestPublisher.ConnectAsync(mosquitto.Url);
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        foreach (var client in clients.Values)
        {
            client.Dispose();
        }

        if (publisher is not null)
        {
            await publisher.DisposeAsync();
        }

        if (Process is not null)
        {
            await Process.DisposeAsync();
        }

        if (mosquitto is not null)
        {
            await mosquitto.DisposeAsync();
        }
    }

    /// <summary>Registers a new patient (with the given SNOMED CT conditions) and a Withings device; returns their ids.</summary>
    public Task<(string Patient, string Device)> RegisterPatientAsync(string name = "Martin", params string[] snomedConditions) =>
        RegisterPatientAsync(BaseUrl, name, "75011", snomedConditions);

    /// <summary>The same on any running server, the patient living in zone <paramref name="postalCode"/>.</summary>
    public static async Task<(string Patient, string Device)> RegisterPatientAsync(Uri baseUrl, string name, string postalCode, params string[] snomedConditions)
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        var (patient, device) = ($"p-{id}", $"wd-{id}");
        var conditions = string.Join(',', snomedConditions.Select(code => $$"""
            { "url": "https://telesuivi.org/fhir/StructureDefinition/condition",
              "valueCodeableConcept": { "coding": [{ "system": "http://snomed.info/sct", "code": "{{code}}" }] } }
            """));
        var bundle = $$"""
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/{{patient}}",
                "resource": { "resourceType": "Patient", "id": "{{patient}}", "extension": [{{conditions}}],
                              "name": [{ "family": "{{name}}", "given": ["Jeanne"] }],
                              "generalPractitioner": [{ "reference": "Organization/{{Team}}" }], "address": [{ "use": "home", "postalCode": "{{postalCode}}" }] },
                "request": { "method": "PUT", "url": "Patient/{{patient}}" } },
              { "fullUrl": "Device/{{device}}",
                "resource": { "resourceType": "Device", "id": "{{device}}", "patient": { "reference": "Patient/{{patient}}" } },
                "request": { "method": "PUT", "url": "Device/{{device}}" } } ] }
            """;
        await RegistryBundles.ImportAsync(baseUrl, bundle.Replace("\"extension\": [],", string.Empty, StringComparison.Ordinal));
        return (patient, device);
    }

    /// <summary>Publishes one Withings reading (SpO2 is type 54, heart rate 11, weight 1) over MQTT, QoS 1.</summary>
    public Task PublishWithingsAsync(string device, DateTimeOffset time, int type, double value) => PublishWithingsAsync(publisher!, device, time, type, value);

    /// <summary>The same through any publisher.</summary>
    public static Task PublishWithingsAsync(MqttTestPublisher publisher, string device, DateTimeOffset time, int type, double value) =>
        PublishWithingsAsync(publisher, device, (time, type, value));

    /// <summary>One message holding several readings, in this order.</summary>
    public static Task PublishWithingsAsync(MqttTestPublisher publisher, string device, params (DateTimeOffset Time, int Type, double Value)[] readings) =>
        publisher.PublishAsync($"telesuivi/v1/devices/withings/{device}", WithingsMessage.Of(readings));

    /// <summary>Waits until the patient has an open alert matching <paramref name="match"/> (read through the REST API).</summary>
    public Task<AlertView> WaitForAlertAsync(string patient, Func<AlertView, bool> match, TimeSpan? timeout = null) =>
        Poll.UntilAsync(
            async () => (await GetBoardAsync(patient)).Alerts.FirstOrDefault(match),
            alert => alert is not null,
            timeout ?? Deadline,
            $"alert of {patient}").ContinueWith(t => t.Result!, TaskScheduler.Default);

    public async Task<BoardSnapshot> GetBoardAsync(string? patient = null, bool closed = false) =>
        (await Http.GetFromJsonAsync<BoardSnapshot>($"/api/alerts?closed={(closed ? "true" : "false")}{(patient is null ? "" : "&patient=" + patient)}", Json))!;

    /// <summary>A workflow step as <paramref name="user"/>, a nurse of <paramref name="team"/> signed in with her own API key.</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, string user, object? body = null, string team = Team) =>
        await (await ClientOfAsync(user, team)).PostAsync(path, JsonContent.Create(body ?? new { }));

    /// <summary>An HTTP client signed in as nurse <paramref name="user"/> of <paramref name="team"/>.</summary>
    public async Task<HttpClient> ClientOfAsync(string user, string team = Team)
    {
        var (_, key) = await ApiKeyOfAsync(user, team);
        return clients.GetOrAdd($"{user}/{team}", _ =>
        {
            var http = new HttpClient { BaseAddress = BaseUrl };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return http;
        });
    }

    /// <summary>A board connection to the hub: as an admin, or as nurse <paramref name="user"/> of <paramref name="team"/>.</summary>
    public HubConnection Hub(string? user = null, string team = Team) => new HubConnectionBuilder()
        .WithUrl(new Uri(BaseUrl, "/hubs/triage"), options => options.AccessTokenProvider = async () => user is null
            ? TeleSuiviProcess.AdminApiKey
            : (await ApiKeyOfAsync(user, team)).Secret)
        .Build();

    /// <summary>Creates a user who signs in with a password in the browser; returns the password.</summary>
    public async Task<string> AddUserAsync(string user, string role, string team = Team)
    {
        var accounts = new AccountStore(Process.DataDirectory);
        await accounts.InitializeAsync(CancellationToken.None);
        var password = AccountStore.GeneratePassword();
        await accounts.AddUserAsync(user, role, [team], password, DateTimeOffset.UtcNow, CancellationToken.None);
        return password;
    }

    /// <summary>The name the platform records the actions of <paramref name="user"/>'s API key under (<c>apikey:{id}</c>).</summary>
    public async Task<string> ActorOfAsync(string user, string team = Team) => "apikey:" + (await ApiKeyOfAsync(user, team)).Key.Id;

    private Task<(ApiKeyRecord Key, string Secret)> ApiKeyOfAsync(string user, string team) => apiKeys.GetOrAdd($"{user}/{team}", async _ =>
    {
        var accounts = new AccountStore(Process.DataDirectory);
        await accounts.InitializeAsync(CancellationToken.None);
        return await accounts.CreateApiKeyAsync(user, Roles.Nurse, [team], DateTimeOffset.UtcNow, CancellationToken.None);
    });

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}
