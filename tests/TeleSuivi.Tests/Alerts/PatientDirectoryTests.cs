using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Tests.Alerts;

/// <summary>What the directory reads out of a registered Patient for the alert engine and the risk model.</summary>
public sealed class PatientDirectoryTests
{
    [Theory]
    [InlineData("2", 2)]
    [InlineData("0", 0)]
    [InlineData("52", 52)]
    [InlineData("53", null)]
    [InlineData("-1", null)]
    [InlineData(null, null)]
    public async Task Find_ExacerbationsOfTheYearBeforeEnrolment_ReadWhenAYearCanHoldThem(string? recorded, int? expected)
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var extension = recorded is null ? string.Empty : $$"""{ "url": "{{PatientInfo.PriorYearExacerbationsExtensionUrl}}", "valueInteger": {{recorded}} },""";
        await new RegistryBundleImporter(bed.Registry, TimeProvider.System).ImportAsync(
            $$"""
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/p1",
                "resource": { "resourceType": "Patient", "id": "p1",
                              "extension": [ {{extension}} { "url": "{{PatientInfo.SeverityExtensionUrl}}", "valueInteger": 3 } ] },
                "request": { "method": "PUT", "url": "Patient/p1" } } ] }
            """,
            TestContext.Current.CancellationToken);

        var info = bed.Patients.Find("p1");

        Assert.NotNull(info);
        Assert.Equal((3, expected), (info.Severity, info.PriorYearExacerbations));
    }
}
