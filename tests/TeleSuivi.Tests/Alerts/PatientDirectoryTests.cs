using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Tests.Alerts;

/// <summary>The risk model's facts on a registered Patient: checked at import, read by the directory.</summary>
public sealed class PatientDirectoryTests
{
    [Theory]
    [InlineData("2", 2)]
    [InlineData("0", 0)]
    [InlineData("52", 52)]
    [InlineData(null, null)]
    public async Task Find_ExacerbationsOfTheYearBeforeEnrolment_AsRecorded(string? recorded, int? expected)
    {
        await using var bed = await AlertTestBed.CreateAsync();
        var extension = recorded is null ? string.Empty : $$"""{ "url": "{{PatientInfo.PriorYearExacerbationsExtensionUrl}}", "valueInteger": {{recorded}} },""";

        await ImportAsync(bed, extension);

        var info = bed.Patients.Find("p1");
        Assert.NotNull(info);
        Assert.Equal((3, expected), (info.Severity, info.PriorYearExacerbations));
    }

    [Theory]
    [InlineData(PatientInfo.PriorYearExacerbationsExtensionUrl, "\"valueInteger\": 53", "from 0 to 52 (exacerbations in the 12 months before enrolment), not integer '53'")]
    [InlineData(PatientInfo.PriorYearExacerbationsExtensionUrl, "\"valueInteger\": -1", "from 0 to 52")]
    [InlineData(PatientInfo.PriorYearExacerbationsExtensionUrl, "\"valueString\": \"three\"", "from 0 to 52 (exacerbations in the 12 months before enrolment), not string 'three'")]
    [InlineData(PatientInfo.SeverityExtensionUrl, "\"valueInteger\": 5", "from 1 to 4 (GOLD grade for COPD, NYHA class for heart failure), not integer '5'")]
    public async Task Import_RiskFactOutOfItsRange_RefusedWithTheExtensionAndItsRange(string url, string value, string expected)
    {
        await using var bed = await AlertTestBed.CreateAsync();

        var error = await Assert.ThrowsAsync<RegistryImportException>(() => ImportAsync(bed, $$"""{ "url": "{{url}}", {{value}} },"""));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith($"Patient/p1: extension {url} must be a valueInteger ", problem, StringComparison.Ordinal);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Null(bed.Patients.Find("p1"));
    }

    private static Task<RegistryImportResult> ImportAsync(AlertTestBed bed, string extension) =>
        new RegistryBundleImporter(bed.Registry, TimeProvider.System).ImportAsync(
            $$"""
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/p1",
                "resource": { "resourceType": "Patient", "id": "p1",
                              "extension": [ {{extension}} { "url": "{{PatientInfo.SeverityExtensionUrl}}", "valueInteger": 3 } ] },
                "request": { "method": "PUT", "url": "Patient/p1" } } ] }
            """,
            TestContext.Current.CancellationToken);
}
