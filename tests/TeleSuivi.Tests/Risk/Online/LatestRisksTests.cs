using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Tests.Alerts;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>The board's latest risks keep nothing of a patient the registry no longer holds.</summary>
public sealed class LatestRisksTests
{
    [Fact]
    public async Task Set_PatientErasedFromTheRegistry_ForgottenWhenTheRegistryChanges()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var ct = TestContext.Current.CancellationToken;
        await new RegistryBundleImporter(bed.Registry, TimeProvider.System).ImportAsync(
            """
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/p1", "resource": { "resourceType": "Patient", "id": "p1" }, "request": { "method": "PUT", "url": "Patient/p1" } },
              { "fullUrl": "Patient/p2", "resource": { "resourceType": "Patient", "id": "p2" }, "request": { "method": "PUT", "url": "Patient/p2" } } ] }
            """,
            ct);
        var latest = new LatestRisks(bed.Registry);
        var at = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        latest.Set("p1", 0.03, at);
        latest.Set("p2", 0.01, at);

        await bed.Registry.ErasePatientAsync("p1", [], ct);

        Assert.Null(latest.Find("p1"));
        Assert.Equal(0.01, latest.Find("p2")?.Probability);
    }
}
