using TeleSuivi.Server.Simulation;

namespace TeleSuivi.Server.Bench;

/// <summary>One MQTT message of the bench: the device account it is published as, its topic and payload.</summary>
public sealed record BenchMessage(string Account, string Topic, byte[] Payload);

/// <summary>
/// The simulated cohort the bench registers, and the messages it publishes: every device of the publishing patients
/// in its manufacturer's format (every profile of <c>ingest/</c> and the GATT characteristics, as <c>simulate</c>
/// spreads them), each message a new reading with its own time, so that each one is a new Observation.
/// </summary>
public sealed class BenchWorkload
{
    private readonly SimulatedPayloads payloads;
    private readonly Random random;
    private readonly List<SimulatedDevice> publishingDevices;
    private readonly Dictionary<string, SimulatedPatient> owners = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> readingsSoFar = new(StringComparer.Ordinal);
    private readonly DateTimeOffset anchor;
    private readonly int alertSamples;
    private int nextAlertPatient;

    public BenchWorkload(SimulatedFormats formats, BenchSettings settings, DateTimeOffset now)
    {
        payloads = new SimulatedPayloads(formats);
        random = new Random(settings.Seed);
        // The physiology's year starts a day back: the readings go back from a minute ago, at most minutes apart.
        Cohort = SimulatedCohort.Generate(settings.Patients, settings.Seed, formats, now - TimeSpan.FromDays(1));
        Publishing = PublishersOfEveryFormat(Cohort, settings.PublishingPatients, formats);
        var publishing = Publishing.ToHashSet();
        AlertPatients = Cohort.Where(p => !publishing.Contains(p)).ToList();
        alertSamples = Math.Min(settings.AlertPatientsNeeded, AlertPatients.Count);
        publishingDevices = Publishing.SelectMany(p => p.Devices).ToList();
        foreach (var patient in Cohort)
        {
            foreach (var device in patient.Devices)
            {
                owners[device.Id] = patient;
            }
        }

        // Readings go back in time from a minute ago, one second apart per device: never in the future, never the same
        // (device, code, time) twice, and well within Ingest:MaxAge for any run length.
        anchor = now.AddMinutes(-1);
    }

    /// <summary>
    /// The first <paramref name="count"/> patients, plus for each format none of them uses the first later patient who
    /// has a device in it: in a large cohort a rare kind's format may only be carried by patients far down the list,
    /// and the bench must publish every format.
    /// </summary>
    private static List<SimulatedPatient> PublishersOfEveryFormat(IReadOnlyList<SimulatedPatient> cohort, int count, SimulatedFormats formats)
    {
        var publishers = cohort.Take(count).ToList();
        var covered = publishers.SelectMany(p => p.Devices).Select(d => d.Format).ToHashSet(StringComparer.Ordinal);
        foreach (var format in formats.All.Where(f => !covered.Contains(f)))
        {
            if (cohort.Skip(count).FirstOrDefault(p => !publishers.Contains(p) && p.Devices.Any(d => d.Format == format)) is { } carrier)
            {
                publishers.Add(carrier);
                covered.UnionWith(carrier.Devices.Select(d => d.Format));
            }
        }

        return publishers;
    }

    public IReadOnlyList<SimulatedPatient> Cohort { get; }

    public IReadOnlyList<SimulatedPatient> Publishing { get; }

    public IReadOnlyList<SimulatedPatient> AlertPatients { get; }

    public IEnumerable<string> PublishingAccounts => publishingDevices.Select(d => d.Id);

    public IReadOnlyCollection<string> Formats => publishingDevices.Select(d => d.Format).Distinct(StringComparer.Ordinal).ToList();

    /// <summary><paramref name="count"/> new messages, the publishing devices in turn (a device's format may give none for a time: it is skipped).</summary>
    public IReadOnlyList<BenchMessage> NextMessages(int count, IProgress<int>? progress = null)
    {
        var messages = new List<BenchMessage>(count);
        var turn = 0;
        while (messages.Count < count)
        {
            var device = publishingDevices[turn++ % publishingDevices.Count];
            var k = readingsSoFar.GetValueOrDefault(device.Id);
            readingsSoFar[device.Id] = k + 1;
            var measurement = Physiology.Measure(owners[device.Id], device.Kind, anchor.AddSeconds(-k), random);
            foreach (var (topic, payload) in payloads.Encode(device, measurement, random))
            {
                if (messages.Count < count)
                {
                    messages.Add(new BenchMessage(device.Id, topic, payload));
                }
            }

            if (turn % 1000 == 0)
            {
                progress?.Report(messages.Count);
            }
        }

        progress?.Report(count);
        return messages;
    }

    /// <summary>
    /// A blood-pressure reading above every condition's critical systolic limit (220 mmHg, 200 in heart failure),
    /// taken now, from the next alert patient not used before: the alert engine raises a critical alert at once.
    /// </summary>
    public (string PatientId, BenchMessage Message)? NextCriticalReading(DateTimeOffset now)
    {
        // Only the alert samples' devices are connected: a fixed load that overruns its time on a busy machine ends its
        // critical readings when they are used up, instead of publishing from a device that has no connection.
        while (nextAlertPatient < alertSamples)
        {
            var patient = AlertPatients[nextAlertPatient++];
            var monitor = patient.Devices.First(d => d.Kind == DeviceKind.BloodPressureMonitor);
            var usual = Physiology.Measure(patient, monitor.Kind, now, random);
            var values = new Dictionary<string, double>(usual.Values, StringComparer.Ordinal)
            {
                ["systolic-pressure"] = 245,
                ["diastolic-pressure"] = 128,
            };
            var encoded = payloads.Encode(monitor, usual with { Values = values }, random);
            if (encoded.Count > 0)
            {
                return (patient.Id, new BenchMessage(monitor.Id, encoded[0].Topic, encoded[0].Payload));
            }
        }

        return null;
    }

    /// <summary>
    /// One ordinary blood-pressure reading of every patient not publishing the load, two minutes old (older than any
    /// critical reading to come, which the alert engine would otherwise ignore as out of order): after them, the
    /// platform holds online state for every registered patient.
    /// </summary>
    public IReadOnlyList<BenchMessage> OneReadingOfEveryOtherPatient(DateTimeOffset now)
    {
        var messages = new List<BenchMessage>(AlertPatients.Count);
        foreach (var patient in AlertPatients)
        {
            var monitor = patient.Devices.First(d => d.Kind == DeviceKind.BloodPressureMonitor);
            var encoded = payloads.Encode(monitor, Physiology.Measure(patient, monitor.Kind, now.AddMinutes(-2), random), random);
            if (encoded.Count > 0)
            {
                messages.Add(new BenchMessage(monitor.Id, encoded[0].Topic, encoded[0].Payload));
            }
        }

        return messages;
    }

    /// <summary>
    /// The devices that publish in some phase of the bench (the load's, and every other patient's blood-pressure monitor):
    /// only they need a broker account. Issuing one per registered device (about 7 per patient, a password hash each)
    /// took minutes with 10,000 patients and would take most of an hour with 100,000.
    /// </summary>
    public IReadOnlyList<string> DevicesThatPublish =>
        PublishingAccounts.Concat(AlertPatients.Select(p => p.Devices.First(d => d.Kind == DeviceKind.BloodPressureMonitor).Id)).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The devices of the alert samples (the patients whose critical readings the fixed loads send), whose connections are opened before the loads start.</summary>
    public IEnumerable<string> AlertAccounts => AlertPatients.Take(alertSamples).Select(p => p.Devices.First(d => d.Kind == DeviceKind.BloodPressureMonitor).Id);
}
