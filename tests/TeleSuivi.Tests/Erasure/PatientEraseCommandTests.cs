using System.Net;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Server.Storage.Spool;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Erasure;

/// <summary>
/// <c>telesuivi patients erase</c> run as an operator would, on a data folder holding two patients' data in every store
/// (observations of several codes, a spooled batch, dead letters, registry entries): nothing of the erased patient
/// remains in any file or through the FHIR API, and everything of the other one does.
/// </summary>
public sealed class PatientEraseCommandTests(ExternalServices services) : IDisposable
{
    /// <summary>Patient ids that appear nowhere else (no device id contains them), so that a byte search is meaningful.</summary>
    private const string Erased = "pat-e";
    private const string Kept = "pat-k";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-erase-").FullName;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("influxdb")]
    public async Task Erase_PatientWithDataInEveryStore_LeavesNothingOfThemAndEverythingOfTheOther(string kind)
    {
        var storeUrl = kind == "sqlite" ? "sqlite" : services.InfluxStoreUrl(ExternalServices.NewDatabaseName("erase"));
        var now = DateTimeOffset.UtcNow.AddMinutes(-30);
        var erasedStored = Enumerable.Range(0, 20).SelectMany(i => new[]
        {
            HeartRate($"Patient/{Erased}", now.AddMinutes(-i), 60 + i, "Device/ox-e"),
            BloodPressure($"Patient/{Erased}", now.AddMinutes(-i), 120 + i, 80, 93, "Device/bp-e"),
            BodyWeight($"Patient/{Erased}", now.AddHours(-i), 70m, "Device/bp-e"),
        }).ToList();
        var keptStored = Enumerable.Range(0, 10).SelectMany(i => new[]
        {
            HeartRate($"Patient/{Kept}", now.AddMinutes(-i), 70 + i, "Device/ox-k"),
            BodyWeight($"Patient/{Kept}", now.AddHours(-i), 80m, "Device/ox-k"),
        }).ToList();
        var erasedSpooled = HeartRate($"Patient/{Erased}", now.AddMinutes(5), 99, "Device/ox-e");
        var keptSpooled = HeartRate($"Patient/{Kept}", now.AddMinutes(5), 77, "Device/ox-k");
        await WriteEveryStoreAsync(storeUrl, erasedStored, keptStored, erasedSpooled, keptSpooled, now);

        var (exit, output, error) = await TeleSuiviProcess.RunToExitAsync(Deadline, "patients", "erase", Erased, "--yes", "--data", data, "--store", storeUrl);

        Assert.True(exit == 0, $"exit {exit}: {output}{error}");
        Assert.Contains($"observations    {erasedStored.Count} observation(s)", output, StringComparison.Ordinal);
        Assert.Contains("spool           2 observation(s) in 2 message(s)", output, StringComparison.Ordinal);
        Assert.Contains("dead letters    3 letter(s)", output, StringComparison.Ordinal);
        Assert.Contains("registry        1 patient record, 2 assignment(s)", output, StringComparison.Ordinal);
        Assert.Contains("risk            2 risk assessment(s)", output, StringComparison.Ordinal);
        Assert.Contains("unassigned: bp-e, ox-e", output, StringComparison.Ordinal);
        Assert.Contains($"Erased patient {Erased} at the request of", error, StringComparison.Ordinal);

        // Not a byte of the patient in the data folder: databases, write-ahead logs, spool segments.
        foreach (var file in Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(file, Cancel);
            Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Erased)) < 0, $"{file} still holds '{Erased}'");
        }

        if (kind == "influxdb")
        {
            using var influx = new InfluxClient(new InfluxClientOptions { BaseUri = services.InfluxUrl });
            var database = storeUrl[(storeUrl.LastIndexOf('/') + 1)..];
            using var tags = await influx.QueryAsync(database, "SHOW TAG VALUES WITH KEY = \"patient\"", null, TimePrecision.Nanoseconds, Cancel);
            Assert.Equal([$"Patient/{Kept}"], tags.Series.SelectMany(s => s.Rows).Select(r => r.GetString(1)).Distinct());
            using var index = await influx.QueryAsync(database, $"SELECT count(\"id\") FROM \"observation_id\" WHERE \"patient\" = 'Patient/{Erased}'", null, TimePrecision.Nanoseconds, Cancel);
            Assert.Empty(index.Series);
        }

        // The server on the same folder: the spool is replayed (the other patient's batch only), the API shows nothing of
        // the erased patient. On its own embedded broker: the shared mosquitto carries other tests' readings, which
        // would add dead letters to the ones this test counts.
        await using var host = TeleSuiviProcess.Start("serve", ["--store", storeUrl], data);
        await host.WaitUntilReadyAsync(Deadline);
        using var fhir = new FhirClient(host.BaseUrl);
        var kept = await Poll.UntilAsync(
            () => fhir.GetAsync($"/fhir/Observation?subject=Patient/{Kept}&_count=1000"),
            answer => answer.Matches<Observation>().Count == keptStored.Count + 1,
            Deadline,
            "the other patient's spooled observation to be replayed");
        Assert.Equal(keptStored.Append(keptSpooled).Select(Json).Order(), kept.Matches<Observation>().Select(Json).Order());
        Assert.Empty((await fhir.GetAsync($"/fhir/Observation?subject=Patient/{Erased}&_count=1000")).Matches<Observation>());
        Assert.Equal(HttpStatusCode.NotFound, (await fhir.GetAsync($"/fhir/Patient/{Erased}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fhir.GetAsync($"/fhir/Observation/{erasedStored[0].Id}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await fhir.GetAsync($"/fhir/Patient/{Kept}")).Status);
        Assert.Empty((await fhir.GetAsync($"/fhir/RiskAssessment?subject=Patient/{Erased}")).Matches<RiskAssessment>());
        Assert.Equal(["risk-k"], (await fhir.GetAsync($"/fhir/RiskAssessment?subject=Patient/{Kept}")).Matches<RiskAssessment>().Select(r => r.Id));
        Assert.Equal(HttpStatusCode.OK, (await fhir.GetAsync($"/fhir/Observation/{keptStored[0].Id}")).Status);
        Assert.Empty((await fhir.GetAsync($"/fhir/Device?patient=Patient/{Erased}")).Matches<Device>());
        var keptDevice = Assert.IsType<Device>((await fhir.GetAsync("/fhir/Device/bp-e")).Resource);
        Assert.Null(keptDevice.Patient);
        Assert.Equal(["ox-k"], (await fhir.GetAsync($"/fhir/Device?patient=Patient/{Kept}")).Matches<Device>().Select(d => d.Id));
        var letters = await StoredData.DeadLettersAsync(host.BaseUrl, includeReplayed: true);
        Assert.Equal(
            ["telesuivi/v1/devices/withings/ox-k", "telesuivi/v1/environment/75011"],
            letters.Select(l => l.GetProperty("topic").GetString()).Order());
    }

    [Fact]
    public async Task Erase_UnknownPatient_FailsWithTheReasonAndChangesNothing()
    {
        var (exit, _, error) = await TeleSuiviProcess.RunToExitAsync(Deadline, "patients", "erase", "nobody", "--yes", "--data", data);

        Assert.Equal(1, exit);
        Assert.Contains("error: no patient 'nobody': not registered, and no observation of Patient/nobody", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Erase_InvalidId_IsAUsageError()
    {
        var (exit, _, error) = await TeleSuiviProcess.RunToExitAsync(Deadline, "patients", "erase", "a b", "--yes", "--data", data);

        Assert.Equal(2, exit);
        Assert.Contains("'a b' is not a patient id", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Erase_WhileAServerUsesTheDataFolder_RefusesToStart()
    {
        await using var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')], data);
        await host.WaitUntilReadyAsync(Deadline);

        var (exit, _, error) = await TeleSuiviProcess.RunToExitAsync(Deadline, "patients", "erase", Erased, "--yes", "--data", data);

        Assert.Equal(3, exit);
        Assert.Contains("another TeleSuivi process (serve, demo or patients erase) is using the data folder", error, StringComparison.Ordinal);
        Assert.Contains("stop the server first", error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean in /tmp.
        }
    }

    /// <summary>Fills every store of the data folder with the same classes the server uses, as ingestion would have.</summary>
    private async Task WriteEveryStoreAsync(
        string storeUrl, List<Observation> erased, List<Observation> kept, Observation erasedSpooled, Observation keptSpooled, DateTimeOffset now)
    {
        var options = Options.Create(new StoreOptions { Url = storeUrl, DataDirectory = data });
        using (var registry = new DeviceRegistry(options))
        {
            await registry.InitializeAsync(Cancel);
            var importer = new RegistryBundleImporter(registry, TimeProvider.System);
            await importer.ImportAsync(RegistryBundles.PatientWithDevice(Erased, "ox-e", now.AddDays(-30)), Cancel);
            await importer.ImportAsync(RegistryBundles.PatientWithDevice(Kept, "ox-k", now.AddDays(-30)), Cancel);

            // A device assigned by Device.patient: it stays registered, without its patient.
            await importer.ImportAsync($$"""
                { "resourceType": "Bundle", "type": "transaction", "entry": [
                  { "fullUrl": "Device/bp-e",
                    "resource": { "resourceType": "Device", "id": "bp-e", "identifier": [{ "value": "SN-bp-e" }], "patient": { "reference": "Patient/{{Erased}}" } },
                    "request": { "method": "PUT", "url": "Device/bp-e" } } ] }
                """, Cancel);
        }

        var store = ObservationStoreFactory.Create(options.Value);
        await store.InitializeAsync(Cancel);
        await store.WriteAsync([.. erased, .. kept], Cancel);
        (store as IDisposable)?.Dispose();

        var deadLetters = new DeadLetterStore(options);
        await deadLetters.InitializeAsync(Cancel);
        var payload = Encoding.UTF8.GetBytes("""{"measuregrps":[{"date":1,"measures":[]}]}""");
        await deadLetters.AddAsync(
        [
            new Rejection("telesuivi/v1/devices/withings/ox-e", payload, now, "unparseable", "no measure"),
            new Rejection("telesuivi/v1/devices/gatt/SN-bp-e/2a35", [0x1e, 0x80], now, "unparseable", "the value is 2 bytes"),
            new Rejection("telesuivi/v1/devices/withings/unknown-1", payload, now, "store-rejected", $"field type conflict on the point of Patient/{Erased}"),
            new Rejection("telesuivi/v1/devices/withings/ox-k", payload, now, "unparseable", "no measure"),
            new Rejection("telesuivi/v1/environment/75011", Encoding.UTF8.GetBytes("{}"), now, "unparseable", "no time"),
        ], Cancel);

        // Risk assessments where a data folder of the previous layout has them (alerts.db): the erasure moves them to
        // risk.db first, and nothing of the patient may stay in either file.
        var previousLayout = new RiskAssessmentStore(WorkflowDatabase.Create(new WorkflowOptions(), data, "alerts.db"));
        await previousLayout.InitializeAsync(Cancel);
        await previousLayout.SaveAllAsync(
        [
            RiskAssessmentOf("risk-e1", Erased, now.AddDays(-1)),
            RiskAssessmentOf("risk-e2", Erased, now),
            RiskAssessmentOf("risk-k", Kept, now),
        ], Cancel);

        using (var spool = new ObservationSpool(options, NullLogger<ObservationSpool>.Instance))
        {
            spool.Open();
            await spool.AppendAsync(
            [
                new SpooledMessage("telesuivi/v1/devices/withings/ox-e", payload, now, [erasedSpooled]),
                new SpooledMessage("telesuivi/v1/devices/withings/ox-k", payload, now, [keptSpooled]),
            ], Cancel);
            await spool.AppendAsync([new SpooledMessage("telesuivi/v1/devices/withings/ox-e", payload, now, [With(erasedSpooled, o => o.Id += "-2")])], Cancel);
        }

        SqliteConnection.ClearAllPools();
    }

    private static StoredRiskAssessment RiskAssessmentOf(string id, string patientId, DateTimeOffset at) => new(
        id, patientId, at.ToUnixTimeMilliseconds(), 0.2,
        $$"""{"resourceType":"RiskAssessment","id":"{{id}}","status":"final","subject":{"reference":"Patient/{{patientId}}"},"occurrenceDateTime":"{{at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)}}"}""");

    private static Observation With(Observation observation, Action<Observation> change)
    {
        var copy = (Observation)observation.DeepCopy();
        change(copy);
        return copy;
    }
}
