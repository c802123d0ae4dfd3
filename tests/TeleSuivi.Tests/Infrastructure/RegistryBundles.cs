using System.Net.Http.Headers;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>FHIR transaction Bundles that register test patients and devices, and a way to post them.</summary>
public static class RegistryBundles
{
    /// <summary>A patient with a home postal code, a device, and (if <paramref name="assignedFrom"/> is set) its assignment.</summary>
    public static string PatientWithDevice(string patientId, string deviceId, DateTimeOffset? assignedFrom, DateTimeOffset? assignedUntil = null, string postalCode = "75011")
    {
        var period = assignedUntil is null
            ? $$"""{ "start": "{{assignedFrom:O}}" }"""
            : $$"""{ "start": "{{assignedFrom:O}}", "end": "{{assignedUntil:O}}" }""";
        var use = assignedFrom is null ? string.Empty : $$"""
            ,{ "fullUrl": "DeviceUseStatement/{{deviceId}}-use",
               "resource": { "resourceType": "DeviceUseStatement", "id": "{{deviceId}}-use", "status": "active",
                             "subject": { "reference": "Patient/{{patientId}}" }, "device": { "reference": "Device/{{deviceId}}" },
                             "timingPeriod": {{period}} },
               "request": { "method": "PUT", "url": "DeviceUseStatement/{{deviceId}}-use" } }
            """;
        return $$"""
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/{{patientId}}",
                "resource": { "resourceType": "Patient", "id": "{{patientId}}", "name": [{ "family": "Test", "given": ["Patient"] }],
                              "address": [{ "use": "home", "postalCode": "{{postalCode}}" }] },
                "request": { "method": "PUT", "url": "Patient/{{patientId}}" } },
              { "fullUrl": "Device/{{deviceId}}",
                "resource": { "resourceType": "Device", "id": "{{deviceId}}", "identifier": [{ "value": "SN-{{deviceId}}" }] },
                "request": { "method": "PUT", "url": "Device/{{deviceId}}" } }
              {{use}}
            ] }
            """;
    }

    public static async Task<HttpResponseMessage> PostAsync(Uri host, string bundle)
    {
        using var http = TeleSuiviProcess.CreateClient(host);
        using var content = new StringContent(bundle);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
        return await http.PostAsync(new Uri("/fhir", UriKind.Relative), content);
    }

    public static async Task ImportAsync(Uri host, string bundle)
    {
        using var response = await PostAsync(host, bundle);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /fhir answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
