using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Server.Board;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Board;

/// <summary>
/// One real <c>telesuivi serve</c> on the shared mosquitto for the board tests (each test uses its own patients), with
/// helpers to register patients, publish Withings readings over MQTT and talk to the API and the hub.
/// </summary>
public sealed class BoardHost(ExternalServices services) : IAsyncLifetime
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private MqttTestPublisher? publisher;

    public TeleSuiviProcess Process { get; private set; } = null!;

    public Uri BaseUrl => Process.BaseUrl;

    public HttpClient Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Process = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')]);
        await Process.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        Http = new HttpClient { BaseAddress = Process.BaseUrl };
        publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (publisher is not null)
        {
            await publisher.DisposeAsync();
        }

        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
    }

    /// <summary>Registers a new patient (with the given SNOMED CT conditions) and a Withings device; returns their ids.</summary>
    public async Task<(string Patient, string Device)> RegisterPatientAsync(string name = "Martin", params string[] snomedConditions)
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
                              "name": [{ "family": "{{name}}", "given": ["Jeanne"] }], "address": [{ "use": "home", "postalCode": "75011" }] },
                "request": { "method": "PUT", "url": "Patient/{{patient}}" } },
              { "fullUrl": "Device/{{device}}",
                "resource": { "resourceType": "Device", "id": "{{device}}", "patient": { "reference": "Patient/{{patient}}" } },
                "request": { "method": "PUT", "url": "Device/{{device}}" } } ] }
            """;
        await RegistryBundles.ImportAsync(BaseUrl, bundle.Replace("\"extension\": [],", string.Empty, StringComparison.Ordinal));
        return (patient, device);
    }

    /// <summary>Publishes one Withings reading (SpO2 is type 54, heart rate 11, weight 1) over MQTT, QoS 1.</summary>
    public Task PublishWithingsAsync(string device, DateTimeOffset time, int type, double value) =>
        publisher!.PublishAsync($"telesuivi/v1/devices/withings/{device}",
            $$"""{"measuregrps":[{"date":{{time.ToUnixTimeSeconds()}},"measures":[{"value":{{value.ToString(CultureInfo.InvariantCulture)}},"type":{{type}},"unit":0}]}]}""");

    /// <summary>Waits until the patient has an open alert matching <paramref name="match"/> (read through the REST API).</summary>
    public Task<AlertView> WaitForAlertAsync(string patient, Func<AlertView, bool> match, TimeSpan? timeout = null) =>
        Poll.UntilAsync(
            async () => (await GetBoardAsync(patient)).Alerts.FirstOrDefault(match),
            alert => alert is not null,
            timeout ?? Deadline,
            $"alert of {patient}").ContinueWith(t => t.Result!, TaskScheduler.Default);

    public async Task<BoardSnapshot> GetBoardAsync(string? patient = null, bool closed = false) =>
        (await Http.GetFromJsonAsync<BoardSnapshot>($"/api/alerts?closed={(closed ? "true" : "false")}{(patient is null ? "" : "&patient=" + patient)}", Json))!;

    public async Task<HttpResponseMessage> PostAsync(string path, string user, object? body = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body ?? new { }) };
        request.Headers.Add("X-TeleSuivi-User", user);
        return await Http.SendAsync(request);
    }

    public HubConnection Hub() => new HubConnectionBuilder().WithUrl(new Uri(BaseUrl, "/hubs/triage")).Build();

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}
