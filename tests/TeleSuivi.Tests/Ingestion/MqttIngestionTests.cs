using System.Globalization;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Ingestion;

/// <summary>
/// Readings published with the real mosquitto_pub to the real mosquitto, ingested by the real telesuivi process,
/// read back from its store.
/// </summary>
public sealed class MqttIngestionTests(ExternalServices services)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WithingsReading_FromMosquittoPub_IsStoredAsCodedObservation()
    {
        var (patient, device) = Ids();
        await using var host = await StartAsync();
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var time = DateTimeOffset.UtcNow.AddMinutes(-10);

        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", Withings(time, """{"value":7250,"type":1,"unit":-2}"""));

        var stored = await WaitForObservationsAsync(host, patient, 1);
        var weight = Assert.Single(stored);
        Assert.Equal("29463-7", weight.Code.Coding[0].Code);
        var quantity = Assert.IsType<Quantity>(weight.Value);
        Assert.Equal(72.50m, quantity.Value);
        Assert.Equal("kg", quantity.Code);
        Assert.Equal($"Device/{device}", weight.Device?.Reference);
        Assert.Equal(time.ToUnixTimeSeconds(), Assert.IsType<FhirDateTime>(weight.Effective).ToDateTimeOffset(TimeSpan.Zero).ToUnixTimeSeconds());
    }

    [Fact]
    public async Task GattBloodPressure_BinaryPayload_IsStoredAsPanel()
    {
        var (patient, device) = Ids();
        await using var host = await StartAsync();
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var payload = GattEncoder.Encode(new BloodPressureMeasurement(
            PressureUnit.Kilopascal, Ieee11073Value.Number(160, -1), Ieee11073Value.Number(107, -1), Ieee11073Value.Number(125, -1))
        {
            TimeStamp = GattDateTime.From(DateTime.UtcNow.AddMinutes(-5)),
        });

        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/gatt/{device}/2a35", payload);

        var panel = Assert.Single(await WaitForObservationsAsync(host, patient, 1));
        Assert.Equal("85354-9", panel.Code.Coding[0].Code);
        var systolic = panel.Component.Single(c => c.Code.Coding[0].Code == "8480-6");
        Assert.Equal("mm[Hg]", Assert.IsType<Quantity>(systolic.Value).Code);
        Assert.Equal(120m, Math.Round(Assert.IsType<Quantity>(systolic.Value).Value!.Value)); // 16.0 kPa = 120.0 mmHg
    }

    [Fact]
    public async Task ExactDuplicateMessage_StoresOneObservation()
    {
        var (patient, device) = Ids();
        await using var host = await StartAsync();
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var payload = Withings(DateTimeOffset.UtcNow.AddMinutes(-3), """{"value":98,"type":54,"unit":0}""");
        var marker = Withings(DateTimeOffset.UtcNow.AddMinutes(-2), """{"value":71,"type":11,"unit":0}""");

        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", payload);
        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", payload);
        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", marker);

        // The marker is published last on the same topic: once it is stored, both copies were processed.
        var stored = await WaitForObservationsAsync(host, patient, 2);
        Assert.Single(stored, o => o.Code.Coding[0].Code == "59408-5");
        Assert.Equal(2, stored.Count);
    }

    [Fact]
    public async Task MalformedPayload_IsDeadLetteredAndNextValidOneStored()
    {
        var (patient, device) = Ids();
        await using var host = await StartAsync();
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
        var topic = $"telesuivi/v1/devices/withings/{device}";

        await MosquittoClients.PublishAsync(services.MqttUrl, topic, "{\"measuregrps\":[{\"date\":");
        await MosquittoClients.PublishAsync(services.MqttUrl, topic, Withings(DateTimeOffset.UtcNow.AddMinutes(-1), """{"value":365,"type":71,"unit":-1}"""));

        var stored = Assert.Single(await WaitForObservationsAsync(host, patient, 1));
        Assert.Equal("8310-5", stored.Code.Coding[0].Code);
        var letter = Assert.Single(await StoredData.DeadLettersAsync(host.BaseUrl), l => l.GetProperty("topic").GetString() == topic);
        Assert.Equal("unparseable", letter.GetProperty("reasonCode").GetString());
        Assert.Equal("{\"measuregrps\":[{\"date\":", letter.GetProperty("payloadText").GetString());
    }

    [Fact]
    public async Task ReadingOfUnassignedDevice_IsReplayedAfterItsAssignmentIsImported()
    {
        var (patient, device) = Ids();
        await using var host = await StartAsync();
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, assignedFrom: null));
        var topic = $"telesuivi/v1/devices/withings/{device}";
        var readingTime = DateTimeOffset.UtcNow.AddHours(-2);

        await MosquittoClients.PublishAsync(services.MqttUrl, topic, Withings(readingTime, """{"value":8120,"type":1,"unit":-2}"""));
        var letter = await Poll.UntilAsync(
            async () => (await StoredData.DeadLettersAsync(host.BaseUrl)).FirstOrDefault(l => l.GetProperty("topic").GetString() == topic),
            l => l.ValueKind != System.Text.Json.JsonValueKind.Undefined,
            Deadline,
            "the reading to be dead-lettered");
        Assert.Equal("unassigned-device", letter.GetProperty("reasonCode").GetString());

        // Assigned from three hours ago: the reading, two hours old, falls in the period.
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, readingTime.AddHours(-1)));

        var stored = Assert.Single(await WaitForObservationsAsync(host, patient, 1));
        Assert.Equal(81.20m, QuantityOf(stored).Value);
        // The letter is marked replayed once its readings are durable: just after they become readable.
        await Poll.UntilAsync(
            async () => (await StoredData.DeadLettersAsync(host.BaseUrl, includeReplayed: true)).Single(l => l.GetProperty("topic").GetString() == topic),
            l => l.GetProperty("replayedAt").ValueKind != System.Text.Json.JsonValueKind.Null,
            Deadline,
            "the letter to be marked replayed");
    }

    [Fact]
    public async Task ReadingOutsideAssignmentPeriod_IsAttributedToThePatientOfItsTime()
    {
        var (first, device) = Ids();
        var second = first + "-next";
        await using var host = await StartAsync();
        var handover = DateTimeOffset.UtcNow.AddDays(-1);
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(first, device, handover.AddDays(-30), handover));
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice(second, device, handover).Replace($"\"{device}-use\"", $"\"{device}-use2\"", StringComparison.Ordinal).Replace($"DeviceUseStatement/{device}-use\"", $"DeviceUseStatement/{device}-use2\"", StringComparison.Ordinal));
        var topic = $"telesuivi/v1/devices/withings/{device}";

        await MosquittoClients.PublishAsync(services.MqttUrl, topic, Withings(handover.AddHours(-3), """{"value":7000,"type":1,"unit":-2}"""));
        await MosquittoClients.PublishAsync(services.MqttUrl, topic, Withings(handover.AddHours(3), """{"value":9000,"type":1,"unit":-2}"""));

        Assert.Equal(70.00m, QuantityOf(Assert.Single(await WaitForObservationsAsync(host, first, 1))).Value);
        Assert.Equal(90.00m, QuantityOf(Assert.Single(await WaitForObservationsAsync(host, second, 1))).Value);
    }

    [Fact]
    public async Task EnvironmentMessage_IsStoredPerZone()
    {
        await using var host = await StartAsync();
        var zone = $"z{Guid.NewGuid():N}"[..12];
        var time = DateTimeOffset.UtcNow.AddMinutes(-30).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/environment/{zone}", $$"""[{"time":"{{time}}","pm25":12.5,"no2":31.0,"temperatureC":3.5,"pollenIndex":2}]""");

        var stored = await WaitForObservationsAsync(host, null, 4, o => o.Subject?.Reference == $"Location/{zone}");
        Assert.Contains(stored, o => o.Code.Coding[0].Code == "ambient-pm25" && QuantityOf(o).Value == 12.5m && QuantityOf(o).Code == "ug/m3");
        Assert.Contains(stored, o => o.Code.Coding[0].Code == "ambient-temperature" && QuantityOf(o).Value == 3.5m);
    }

    [Fact]
    public async Task MessagesPublishedWhileHostIsStopped_AreDeliveredFromItsPersistentSession()
    {
        var (patient, device) = Ids();
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var worker = new Dictionary<string, string> { ["TELESUIVI_BROKER__CLIENTID"] = $"w-{device}", ["TELESUIVI_BROKER__SHAREDGROUP"] = $"g-{device}" };
        await using (var first = await StartAsync(data, worker))
        {
            await RegistryBundles.ImportAsync(first.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
            Assert.Equal(0, await first.StopAsync(TimeSpan.FromSeconds(30)));
        }

        // The broker queues QoS 1 messages for the stopped worker's session.
        await MosquittoClients.PublishAsync(services.MqttUrl, $"telesuivi/v1/devices/withings/{device}", Withings(DateTimeOffset.UtcNow.AddMinutes(-1), """{"value":6400,"type":1,"unit":-2}"""));

        await using var second = await StartAsync(data, worker);
        Assert.Equal(64.00m, QuantityOf(Assert.Single(await WaitForObservationsAsync(second, patient, 1))).Value);
    }

    [Fact]
    public async Task MessageNotYetDurable_WhenProcessIsKilled_IsRedeliveredAndStoredOnce()
    {
        var (patient, device) = Ids();
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var worker = new Dictionary<string, string> { ["TELESUIVI_BROKER__CLIENTID"] = $"w-{device}", ["TELESUIVI_BROKER__SHAREDGROUP"] = $"g-{device}" };
        var topic = $"telesuivi/v1/devices/withings/{device}";
        await using (var first = await StartAsync(data, worker))
        {
            await RegistryBundles.ImportAsync(first.BaseUrl, RegistryBundles.PatientWithDevice(patient, device, DateTimeOffset.UtcNow.AddDays(-30)));
            await MosquittoClients.PublishAsync(services.MqttUrl, topic, Withings(DateTimeOffset.UtcNow.AddMinutes(-4), """{"value":6100,"type":1,"unit":-2}"""));
            await WaitForObservationsAsync(first, patient, 1);

            // Another writer holds the write lock of the store's log file (README "Storage"): the next message is received but cannot be made durable,
            // so it must stay unacknowledged at the broker.
            await using var blocker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(data, "telesuivi.db-log")};Pooling=False");
            await blocker.OpenAsync(TestContext.Current.CancellationToken);
            await using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                await begin.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
            }

            await MosquittoClients.PublishAsync(services.MqttUrl, topic, Withings(DateTimeOffset.UtcNow.AddMinutes(-2), """{"value":6200,"type":1,"unit":-2}"""));
            await Poll.UntilAsync(() => InFlightAsync(first), inFlight => inFlight >= 1, Deadline, "the second message to be in flight");
            await first.KillAsync();
        }

        await using var second = await StartAsync(data, worker);

        var stored = await WaitForObservationsAsync(second, patient, 2);
        Assert.Equal(2, stored.Count);
        Assert.Equal([61.00m, 62.00m], stored.Select(o => QuantityOf(o).Value!.Value).Order());
        Assert.Equal(2, stored.Select(o => o.Id).Distinct().Count());
    }

    private static async Task<long> InFlightAsync(TeleSuiviProcess host)
    {
        using var http = host.CreateClient();
        var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/status", UriKind.Relative)));
        return status.RootElement.GetProperty("ingest").GetProperty("inFlight").GetInt64();
    }

    private async Task<TeleSuiviProcess> StartAsync(string? data = null, Dictionary<string, string>? environment = null)
    {
        var host = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')], data, environment);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return host;
    }

    private static async Task<IReadOnlyList<Observation>> WaitForObservationsAsync(TeleSuiviProcess host, string? patient, int count, Func<Observation, bool>? filter = null)
    {
        var subject = patient is null ? null : $"Patient/{patient}";
        var stored = await Poll.UntilAsync(
            async () => (await StoredData.ObservationsAsync(host.DataDirectory, subject)).Where(filter ?? (_ => true)).ToList(),
            list => list.Count >= count,
            Deadline,
            $"{count} observation(s) of {subject ?? "the filter"}");
        return stored;
    }

    private static Quantity QuantityOf(Observation observation) => Assert.IsType<Quantity>(observation.Value);

    private static (string Patient, string Device) Ids()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        return ($"p-{id}", $"d-{id}");
    }

    private static string Withings(DateTimeOffset time, string measures) =>
        $$"""{"measuregrps":[{"date":{{time.ToUnixTimeSeconds()}},"measures":[{{measures}}]}]}""";
}
