using System.Globalization;
using System.Net;
using System.Text.Json;
using Hl7.Fhir.Model;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>
/// A patient of the online-scoring tests: registered on a real server with their facts (birth date, sex, conditions,
/// severity), their own zone, and one device per manufacturer format their readings go out in; readings published
/// over MQTT in those manufacturers' own payloads (encoded from the <c>ingest/</c> profiles), and read back through
/// the FHIR API to be replayed offline.
/// </summary>
public sealed class ScoringPatient
{
    /// <summary>The standard-time offset of the server's default <c>Risk:TimeZone</c> (Europe/Paris), that of the cohort too.</summary>
    public static readonly TimeSpan UtcOffset = TimeSpan.FromHours(1);

    private static readonly Lazy<ProfileEncoderRegistry> Encoders = new(() => ProfileEncoderRegistry.Load(RepositoryPaths.Ingest));

    /// <summary>The codes the features read, written out here rather than taken from the server's table (LOINC, canonical unit).</summary>
    private static readonly Dictionary<string, string> MeasureByLoinc = new(StringComparer.Ordinal)
    {
        ["8867-4"] = Measures.HeartRate, ["9279-1"] = Measures.RespiratoryRate, ["59408-5"] = Measures.OxygenSaturation,
        ["8480-6"] = Measures.Systolic, ["8462-4"] = Measures.Diastolic, ["29463-7"] = Measures.BodyWeight,
        ["8310-5"] = Measures.BodyTemperature, ["41950-7"] = Measures.Steps, ["14743-9"] = Measures.Glucose,
    };

    private ScoringPatient(string id, string zone, string team, PatientFacts facts)
    {
        Id = id;
        Zone = zone;
        Team = team;
        Facts = facts;
    }

    public string Id { get; }

    public string Zone { get; }

    public string Team { get; }

    public PatientFacts Facts { get; }

    /// <summary>
    /// Registers a patient with these facts (birth date on 1 January, so that the age is <see cref="PatientFacts.Age"/>
    /// this year; severity in the extension the server reads) in care team <paramref name="team"/>, living in a zone
    /// of their own, with a device of each manufacturer of <see cref="Manufacturers"/>.
    /// </summary>
    public static Task<ScoringPatient> RegisterAsync(Uri host, string team, PatientFacts facts) => RegisterAsync([host], team, facts);

    /// <summary>The same registration on several nodes (each keeps its own registry, README "Scale-out").</summary>
    public static async Task<ScoringPatient> RegisterAsync(IReadOnlyList<Uri> hosts, string team, PatientFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var tag = Guid.NewGuid().ToString("N")[..10];
        var id = $"risk-{tag}";
        var zone = $"z{tag}";
        var birthYear = (DateTimeOffset.UtcNow + UtcOffset).Year - facts.Age;
        // Assigned since long before the history starts: readings are attributed to whoever had the device then.
        var since = (DateTimeOffset.UtcNow - TimeSpan.FromDays(60)).ToString("O", CultureInfo.InvariantCulture);
        var devices = string.Concat(Manufacturers.Select(m => $$"""
            ,{ "fullUrl": "Device/{{DeviceId(id, m)}}",
               "resource": { "resourceType": "Device", "id": "{{DeviceId(id, m)}}" },
               "request": { "method": "PUT", "url": "Device/{{DeviceId(id, m)}}" } }
            ,{ "fullUrl": "DeviceUseStatement/{{DeviceId(id, m)}}-use",
               "resource": { "resourceType": "DeviceUseStatement", "id": "{{DeviceId(id, m)}}-use", "status": "active",
                             "subject": { "reference": "Patient/{{id}}" }, "device": { "reference": "Device/{{DeviceId(id, m)}}" },
                             "timingPeriod": { "start": "{{since}}" } },
               "request": { "method": "PUT", "url": "DeviceUseStatement/{{DeviceId(id, m)}}-use" } }
            """));
        var conditions = facts.Conditions.Select(c => $$"""
            { "url": "{{ClinicalConditions.ExtensionUrl}}",
              "valueCodeableConcept": { "coding": [{ "system": "http://snomed.info/sct", "code": "{{ClinicalConditions.SnomedCodeOf(c)}}" }] } },
            """);
        var bundle = $$"""
            { "resourceType": "Bundle", "type": "transaction", "entry": [
              { "fullUrl": "Patient/{{id}}",
                "resource": { "resourceType": "Patient", "id": "{{id}}", "gender": "{{(facts.Sex == Sex.Male ? "male" : "female")}}", "birthDate": "{{birthYear}}-01-01",
                              "extension": [ {{string.Concat(conditions)}}
                                {{(facts.PriorYearExacerbations is { } prior ? $$"""{ "url": "{{PatientInfo.PriorYearExacerbationsExtensionUrl}}", "valueInteger": {{prior}} },""" : "")}}
                                { "url": "{{PatientInfo.SeverityExtensionUrl}}", "valueInteger": {{facts.Severity}} } ],
                              "name": [{ "family": "Risque", "given": ["Paul"] }],
                              "generalPractitioner": [{ "reference": "Organization/{{team}}" }],
                              "address": [{ "use": "home", "postalCode": "{{zone}}" }] },
                "request": { "method": "PUT", "url": "Patient/{{id}}" } }
              {{devices}} ] }
            """;
        await Task.WhenAll(hosts.Select(host => RegistryBundles.ImportAsync(host, bundle)));
        return new ScoringPatient(id, zone, team, facts);
    }

    /// <summary>The formats the readings go out in: Withings for what it carries, then one maker per other feature measure.</summary>
    public static IReadOnlyList<string> Manufacturers => ["withings", .. OtherMeasures.Values.Distinct()];

    private static readonly Dictionary<string, string> OtherMeasures = new(StringComparer.Ordinal)
    {
        [Measures.RespiratoryRate] = MakerOf(Measures.RespiratoryRate),
        [Measures.Steps] = MakerOf(Measures.Steps),
        [Measures.Glucose] = MakerOf(Measures.Glucose),
    };

    private static readonly TimeZoneInfo DeviceZone = TimeZoneInfo.FindSystemTimeZoneById(ProfileEncoder.DefaultZoneId);

    private static readonly HashSet<string> WithingsMeasures = [.. Encoders.Value.EncodableMeasures("withings")];

    private static string MakerOf(string measure) =>
        Encoders.Value.ManufacturersEncoding(measure).First(m => Encoders.Value.Get(m).RequiredMeasures.All(r => r == measure));

    private static string DeviceId(string patientId, string manufacturer) => $"{patientId}-{manufacturer}";

    /// <summary>
    /// Publishes readings over MQTT: those Withings carries as measure groups (one group per session, a session being
    /// the readings of one device at one time), <paramref name="withingsPerMessage"/> groups a message; the others one
    /// message each in their maker's format.
    /// </summary>
    public async Task PublishAsync(MqttTestPublisher publisher, IEnumerable<CohortReading> readings, int withingsPerMessage = 50)
    {
        var sessions = readings.GroupBy(r => (r.Device, r.Time))
            .Select(g => g.GroupBy(r => r.Measure).Select(m => m.First()).ToList())
            .ToList();
        var withings = new List<ReadingToEncode>();
        foreach (var session in sessions)
        {
            var carried = session.Where(r => WithingsMeasures.Contains(r.Measure)).ToList();
            if (carried.Count(r => r.Measure is Measures.Systolic or Measures.Diastolic) == 1)
            {
                // A pressure whose pair was a measurement artefact: no device sends half a blood pressure.
                carried.RemoveAll(r => r.Measure is Measures.Systolic or Measures.Diastolic);
            }

            if (carried.Count > 0)
            {
                withings.Add(new ReadingToEncode(carried[0].Time, carried.ToDictionary(r => r.Measure, r => r.Value)));
            }

            // A device keeping local time without an offset cannot record the hour repeated when clocks go back (its
            // encoder refuses it, and the simulator drops it): such a reading is not published, as a real one is lost.
            foreach (var other in session.Where(r => OtherMeasures.ContainsKey(r.Measure) && !DeviceZone.IsAmbiguousTime(r.Time)))
            {
                var maker = OtherMeasures[other.Measure];
                foreach (var payload in Encoders.Value.Get(maker).EncodeMessages([ReadingToEncode.Of(other.Measure, other.Value, other.Time)]))
                {
                    await publisher.PublishAsync($"telesuivi/v1/devices/{maker}/{DeviceId(Id, maker)}", payload);
                }
            }
        }

        await PublishWithingsAsync(publisher, withings, withingsPerMessage);
    }

    /// <summary>Withings measure groups, <paramref name="perMessage"/> a message.</summary>
    public async Task PublishWithingsAsync(MqttTestPublisher publisher, IReadOnlyList<ReadingToEncode> sessions, int perMessage)
    {
        var encoder = Encoders.Value.Get("withings");
        foreach (var chunk in sessions.Chunk(perMessage))
        {
            await publisher.PublishAsync($"telesuivi/v1/devices/withings/{DeviceId(Id, "withings")}", encoder.Encode(chunk));
        }
    }

    /// <summary>The zone's hourly environment, in one message of the environment contract.</summary>
    public Task PublishEnvironmentAsync(MqttTestPublisher publisher, IEnumerable<EnvironmentReading> hourly)
    {
        var objects = hourly.Select(e => new Dictionary<string, object>
        {
            ["time"] = e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["pm25"] = e.Pm25, ["pm10"] = e.Pm10, ["no2"] = e.No2, ["o3"] = e.O3,
            ["temperatureC"] = e.TemperatureC, ["humidity"] = e.Humidity, ["pollenIndex"] = e.PollenIndex,
        });
        return publisher.PublishAsync($"telesuivi/v1/environment/{Zone}", JsonSerializer.Serialize(objects));
    }

    /// <summary>Every stored Observation of the patient, through the FHIR API (strictly parsed, every page).</summary>
    public async Task<IReadOnlyList<Observation>> StoredAsync(FhirClient fhir)
    {
        var first = await fhir.GetAsync($"/fhir/Observation?subject=Patient/{Id}&_count=1000");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        return (await fhir.FollowAsync(first)).SelectMany(page => page.Matches<Observation>()).ToList();
    }

    /// <summary>The stored Observations as feature readings (the blood-pressure panel gives its two components), all received before <paramref name="before"/>.</summary>
    public static IReadOnlyList<CohortReading> AsReadings(IEnumerable<Observation> stored, DateTimeOffset before)
    {
        var readings = new List<CohortReading>();
        foreach (var observation in stored)
        {
            var time = TimeOf(observation.Effective);
            var values = observation.Component.Count > 0
                ? observation.Component.Select(c => (c.Code.Coding[0].Code, c.Value as Quantity))
                : [(observation.Code.Coding[0].Code, observation.Value as Quantity)];
            foreach (var (code, quantity) in values)
            {
                if (code is not null && MeasureByLoinc.TryGetValue(code, out var measure) && quantity?.Value is { } value)
                {
                    readings.Add(new CohortReading(time, before, CohortDevice.PulseOximeter, measure, (double)value, false));
                }
            }
        }

        return readings;
    }

    /// <summary>A FHIR dateTime as a time, failing the test when it is not one.</summary>
    public static DateTimeOffset TimeOf(DataType? value) =>
        value is FhirDateTime dateTime && dateTime.TryToDateTimeOffset(out var time) ? time : throw new Xunit.Sdk.XunitException($"not a dateTime: {value}");

    /// <summary>The features the offline path computes at <paramref name="at"/> from these readings and this environment.</summary>
    public float[] OfflineFeatures(IEnumerable<CohortReading> readings, IEnumerable<EnvironmentReading> environment, DateTimeOffset at, IEnumerable<DateTimeOffset>? exacerbationOnsets = null) =>
        FeatureExtractor.Replay(Id, Facts, readings, environment, [at], UtcOffset, exacerbationOnsets).Single().Features;
}
