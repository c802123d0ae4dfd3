using System.Globalization;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Missing data and silent devices, checked on a timer against each patient's monitoring plan. The plan comes from
/// the devices assigned to the patient: each device kind has an expected interval between readings
/// (<see cref="AlertOptions.ExpectedIntervalByDeviceKind"/>, else <see cref="AlertOptions.MissingDataAfter"/>); the
/// patient must send something within the shortest of them; a device is silent after
/// <see cref="AlertOptions.DeviceSilentIntervals"/> of its own intervals (at least
/// <see cref="AlertOptions.DeviceSilentAfter"/>). Time is counted from the latest reading, or from when monitoring
/// started (the engine's start, or the assignment if later) for a patient or device that never sent one.
/// </summary>
public sealed class DataGapMonitor(AlertOptions options)
{
    private readonly Dictionary<string, DateTimeOffset> lastByPatient = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> lastByDevice = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> watchedSince = new(StringComparer.Ordinal);

    /// <summary>Records a stored reading; ends the patient's missing-data and the device's silence alerts.</summary>
    public IEnumerable<AlertSignal> OnReading(string patientId, string? deviceId, DateTimeOffset time)
    {
        if (!lastByPatient.TryGetValue(patientId, out var last) || time > last)
        {
            lastByPatient[patientId] = time;
        }

        yield return new AlertSignal.Ended(new AlertKey(patientId, AlertKinds.MissingData, string.Empty),
            new($"A reading arrived ({time:yyyy-MM-dd HH:mm} UTC)", $"Une mesure est arrivée ({time:yyyy-MM-dd HH:mm} UTC)"));
        if (deviceId is not null)
        {
            if (!lastByDevice.TryGetValue(deviceId, out var lastDevice) || time > lastDevice)
            {
                lastByDevice[deviceId] = time;
            }

            yield return new AlertSignal.Ended(new AlertKey(patientId, AlertKinds.DeviceSilent, deviceId),
                new("The device sends again", "L'appareil émet de nouveau"));
        }
    }

    /// <summary>The gaps as of <paramref name="now"/> for the devices assigned to each patient.</summary>
    public IEnumerable<AlertSignal> Sweep(IReadOnlyDictionary<string, List<AssignedDevice>> assigned, DateTimeOffset now)
    {
        foreach (var (patientId, devices) in assigned)
        {
            if (devices.Count == 0)
            {
                continue;
            }

            var plan = devices.Min(d => Expected(d.Kind));
            var since = Since(lastByPatient, "patient/" + patientId, patientId, now);
            if (now - since >= plan)
            {
                var kinds = string.Join(", ", devices.Select(d => d.Kind ?? d.Id).Distinct(StringComparer.Ordinal));
                var hours = Hours(now - since);
                var planHours = Hours(plan);
                var evidence = new AlertEvidence(since, lastByPatient.ContainsKey(patientId) ? "latest reading" : "monitoring started");
                yield return new AlertSignal.Raise(new AlertDraft(
                    new AlertKey(patientId, AlertKinds.MissingData, string.Empty),
                    AlertSeverity.Warning,
                    new($"No reading for {hours} h (plan: at least one every {planHours} h; devices: {kinds})",
                        $"Aucune mesure depuis {hours} h (plan : au moins une toutes les {planHours} h ; appareils : {kinds})"),
                    [evidence]));
            }

            foreach (var device in devices)
            {
                var silentAfter = TimeSpan.FromTicks(Math.Max(options.DeviceSilentAfter.Ticks, (long)(Expected(device.Kind).Ticks * options.DeviceSilentIntervals)));
                var deviceSince = Since(lastByDevice, "device/" + device.Id, device.Id, now);
                if (now - deviceSince >= silentAfter)
                {
                    var hours = Hours(now - deviceSince);
                    yield return new AlertSignal.Raise(new AlertDraft(
                        new AlertKey(patientId, AlertKinds.DeviceSilent, device.Id),
                        AlertSeverity.Warning,
                        new($"Device {device.Id} ({device.Kind ?? "unknown kind"}) silent for {hours} h", $"Appareil {device.Id} ({device.Kind ?? "type inconnu"}) muet depuis {hours} h"),
                        [new AlertEvidence(deviceSince, lastByDevice.ContainsKey(device.Id) ? "latest reading" : "monitoring started")]));
                }
            }
        }
    }

    private DateTimeOffset Since(Dictionary<string, DateTimeOffset> last, string watchKey, string id, DateTimeOffset now)
    {
        if (last.TryGetValue(id, out var time))
        {
            return time;
        }

        if (!watchedSince.TryGetValue(watchKey, out var since))
        {
            watchedSince[watchKey] = since = now;
        }

        return since;
    }

    private TimeSpan Expected(string? kind) =>
        kind is not null && options.ExpectedIntervalByDeviceKind.TryGetValue(kind, out var interval) && interval > TimeSpan.Zero ? interval : options.MissingDataAfter;

    private static string Hours(TimeSpan span) => span.TotalHours.ToString("0", CultureInfo.InvariantCulture);
}
