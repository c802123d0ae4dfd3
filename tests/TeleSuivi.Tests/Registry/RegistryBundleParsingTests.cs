using TeleSuivi.Server.Registry;
using TeleSuivi.Tests.Fuzzing;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Registry;

/// <summary>Reading a registry Bundle sent by a client: a malformed one is refused with its reason, never a crash.</summary>
public sealed class RegistryBundleParsingTests
{
    [Fact]
    public void Parse_ValidBundle_GivesItsEntries()
    {
        var bundle = RegistryBundleImporter.Parse(RegistryBundles.PatientWithDevice("p-1", "d-1", FuzzedHost.AssignedFrom));

        Assert.Equal(["Patient", "Device", "DeviceUseStatement"], bundle.Entry.Select(e => e.Resource!.TypeName));
    }

    // Found by the HTTP fuzz test (seeds 12-14): Firely's parser threw IndexOutOfRangeException on an empty property
    // name at any depth, which POST /fhir answered with a 500.
    [Theory]
    [InlineData("""{ "resourceType": "Bundle", "": "transaction" }""", 1)]
    [InlineData("""{ "resourceType": "Bundle", "type": "transaction", "entry": [{ "resource": { "resourceType": "DeviceUseStatement", "": "u-1" } }] }""", 1)]
    [InlineData("{ \"resourceType\": \"Bundle\", \"type\": \"transaction\",\n \"entry\": [{\n \"\": { \"resourceType\": \"Device\" } }] }", 3)]
    public void Parse_EmptyPropertyName_RefusedWithItsLine(string json, int line)
    {
        var refused = Assert.Throws<RegistryImportException>(() => RegistryBundleImporter.Parse(json));

        Assert.Equal($"line {line}: a property with an empty name (\"\"); every element of FHIR JSON is named", Assert.Single(refused.Problems));
    }

    [Fact]
    public void Parse_EscapedPropertyName_IsNotTakenForAnEmptyOne()
    {
        var refused = Assert.Throws<RegistryImportException>(() => RegistryBundleImporter.Parse("""{ "resourceType": "Bundle", "type": "transaction", "\u0041": 1 }"""));

        Assert.DoesNotContain(refused.Problems, p => p.Contains("empty name", StringComparison.Ordinal));
    }
}
