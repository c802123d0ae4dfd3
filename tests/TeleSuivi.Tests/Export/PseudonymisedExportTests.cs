using System.Security.Cryptography;
using System.Text;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Alerts;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Export;

/// <summary>
/// <c>telesuivi patients export</c>, the real command on a data folder filled by the platform's own classes: nothing that
/// names a patient or a device leaves, pseudonyms are the keyed hash of the README and stable for one key.
/// </summary>
public sealed class PseudonymisedExportTests
{
    private const string PatientId = "nir-2480312345678";
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Export_RegisteredPatientWithReadingsAndResolvedAlert_WritesNoIdentifierAndKeyedPseudonyms()
    {
        await using var bed = await AlertTestBed.CreateAsync();
        await SeedAsync(bed);
        var output = Path.Combine(bed.DataDirectory, "export");

        var (exit, stdout, stderr) = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromMinutes(2), "patients", "export", "--out", output, "--data", bed.DataDirectory);

        Assert.True(exit == 0, stderr);
        Assert.Contains("Exported 1 patient(s), 3 reading(s), 1 resolved alert(s)", stdout, StringComparison.Ordinal);
        var key = await File.ReadAllBytesAsync(Path.Combine(bed.DataDirectory, "pseudonym.key"), Ct);
        var pseudonym = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes("patient:" + PatientId)), 0, 16);
        var device = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes("device:bp-77")), 0, 16);

        var patients = await File.ReadAllLinesAsync(Path.Combine(output, "patients.csv"), Ct);
        Assert.Equal(["patient,birth_year,sex,zone,conditions,severity,prior_year_exacerbations", $"{pseudonym},1948,female,75011,13645005,,2"], patients);
        var readings = await File.ReadAllLinesAsync(Path.Combine(output, "readings.csv"), Ct);
        Assert.Equal(4, readings.Length);
        Assert.All(readings.Skip(1), line => Assert.StartsWith($"{pseudonym},{device},", line, StringComparison.Ordinal));
        Assert.Contains(readings, line => line.EndsWith(",http://loinc.org|85354-9,http://loinc.org|8480-6,142,mm[Hg]", StringComparison.Ordinal));
        var outcomes = await File.ReadAllLinesAsync(Path.Combine(output, "outcomes.csv"), Ct);
        Assert.StartsWith($"{pseudonym},vital-limit,spo2,critical,", outcomes[1], StringComparison.Ordinal);
        Assert.EndsWith(",confirmed-exacerbation", outcomes[1], StringComparison.Ordinal);

        foreach (var file in Directory.EnumerateFiles(output))
        {
            var text = await File.ReadAllTextAsync(file, Ct);
            foreach (var identifying in new[] { PatientId, "Dupont", "Jeanne", "1948-03-12", "rue des Lilas", "bp-77", "SN-4411", "0612345678", "called her daughter" })
            {
                Assert.DoesNotContain(identifying, text, StringComparison.Ordinal);
            }
        }

        // The same key, the same pseudonyms; another key, others.
        var again = Path.Combine(bed.DataDirectory, "again");
        Assert.Equal(0, (await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromMinutes(2), "patients", "export", "--out", again, "--data", bed.DataDirectory)).ExitCode);
        Assert.Equal(patients, await File.ReadAllLinesAsync(Path.Combine(again, "patients.csv"), Ct));
        var other = Path.Combine(bed.DataDirectory, "other");
        Assert.Equal(0, (await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromMinutes(2),
            "patients", "export", "--out", other, "--data", bed.DataDirectory, "--key-file", Path.Combine(bed.DataDirectory, "other.key"))).ExitCode);
        Assert.DoesNotContain(pseudonym, await File.ReadAllTextAsync(Path.Combine(other, "patients.csv"), Ct), StringComparison.Ordinal);
    }

    private static async Task SeedAsync(AlertTestBed bed)
    {
        var importer = new RegistryBundleImporter(bed.Registry, TimeProvider.System);
        await importer.ImportAsync($$"""
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/{{PatientId}}",
                "resource": { "resourceType": "Patient", "id": "{{PatientId}}", "gender": "female", "birthDate": "1948-03-12",
                              "identifier": [{ "system": "urn:oid:1.2.250.1.213.1.4.8", "value": "2480312345678" }],
                              "name": [{ "family": "Dupont", "given": ["Jeanne"] }], "telecom": [{ "system": "phone", "value": "0612345678" }],
                              "address": [{ "use": "home", "line": ["3 rue des Lilas"], "postalCode": "75011" }],
                              "extension": [{ "url": "https://telesuivi.org/fhir/StructureDefinition/condition",
                                              "valueCodeableConcept": { "coding": [{ "system": "http://snomed.info/sct", "code": "13645005" }] } },
                                            { "url": "https://telesuivi.org/fhir/StructureDefinition/exacerbations-prior-year", "valueInteger": 2 }] },
                "request": { "method": "PUT", "url": "Patient/{{PatientId}}" } },
              { "fullUrl": "Device/bp-77",
                "resource": { "resourceType": "Device", "id": "bp-77", "identifier": [{ "value": "SN-4411" }], "patient": { "reference": "Patient/{{PatientId}}" } },
                "request": { "method": "PUT", "url": "Device/bp-77" } } ] }
            """, Ct);

        var factory = new ObservationFactory();
        var context = new ObservationContext("bp-77", PatientId, Now, "test");
        var message = factory.CreateAll(
        [
            new DecodedReading("blood-pressure", Now.AddHours(-2), [new("systolic-pressure", 142, "mm[Hg]"), new("diastolic-pressure", 88, "mm[Hg]")]),
            DecodedReading.OfValue("heart-rate", Now.AddHours(-2), 77, "/min"),
        ], context);
        Assert.Empty(message.Rejections);
        using var store = new SqliteObservationStore(Path.Combine(bed.DataDirectory, "telesuivi.db"));
        await store.InitializeAsync(Ct);
        await store.WriteAsync(message.Observations, Ct);

        var alert = await bed.RaiseAsync(AlertTestBed.Draft(patient: PatientId));
        Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "nurse-1", Ct)).Succeeded);
        Assert.True((await bed.Workflow.AddNoteAsync(alert.Id, "nurse-1", "called her daughter", Ct)).Succeeded);
        Assert.True((await bed.Workflow.ResolveAsync(alert.Id, "nurse-1", "confirmed-exacerbation", "called her daughter", Ct)).Succeeded);
    }
}
