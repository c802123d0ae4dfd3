using TeleSuivi.Server.DeadLetters;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Device problems seen in what a device sends: a wrong clock (its readings dead-lettered as <c>clock</c>), repeated
/// invalid readings (<c>implausible</c> or <c>unparseable</c> dead letters), and a low battery reported in the
/// readings' device status. A clock alert ends with the device's next accepted reading; an invalid-readings alert
/// after <see cref="AlertOptions.ValidReadingsToClear"/> accepted readings in a row; a battery alert with a reading
/// that no longer reports it.
/// </summary>
public sealed class DeviceFaultMonitor(AlertOptions options)
{
    private readonly Dictionary<string, DeviceState> devices = new(StringComparer.Ordinal);

    /// <param name="reasonFr">The reason in French, for the French board; the English one stands in for letters that have none.</param>
    /// <param name="everyWorkersInvalid">
    /// With several workers: the device's invalid readings of the window as every worker rejected them (this one
    /// included), which replace this worker's own share; null on a single node.
    /// </param>
    public IEnumerable<AlertSignal> OnRejected(
        string patientId, string deviceId, string reasonCode, string reason, string? reasonFr, DateTimeOffset receivedAt,
        IReadOnlyList<(DateTimeOffset Time, string Reason, string? ReasonFr)>? everyWorkersInvalid = null)
    {
        var state = StateOf(deviceId);
        state.BreakValidRun();
        if (reasonCode == RejectionCodes.Clock)
        {
            yield return new AlertSignal.Raise(new AlertDraft(
                new AlertKey(patientId, AlertKinds.DeviceClock, deviceId),
                AlertSeverity.Warning,
                new($"Device {deviceId} has a wrong clock: its readings are rejected ({reason})", $"L'horloge de l'appareil {deviceId} est fausse : ses mesures sont rejetées ({reasonFr ?? reason})"),
                [new AlertEvidence(receivedAt, EvidenceLabels.RejectedMessage, Detail: reason, DetailFr: reasonFr)]));
            yield break;
        }

        if (reasonCode is not (RejectionCodes.Implausible or RejectionCodes.Unparseable))
        {
            yield break;
        }

        if (everyWorkersInvalid is null)
        {
            state.Invalid.Add((receivedAt, reason, reasonFr));
        }
        else
        {
            state.Invalid.Clear();
            state.Invalid.AddRange(everyWorkersInvalid);
        }

        state.Invalid.RemoveAll(i => receivedAt - i.Time > options.InvalidReadingsWindow);
        if (state.Invalid.Count >= options.InvalidReadingsThreshold)
        {
            var hours = options.InvalidReadingsWindow.TotalHours;
            yield return new AlertSignal.Raise(new AlertDraft(
                new AlertKey(patientId, AlertKinds.DeviceInvalid, deviceId),
                AlertSeverity.Warning,
                new($"Device {deviceId} sent {state.Invalid.Count} invalid readings within {hours:0} h", $"L'appareil {deviceId} a envoyé {state.Invalid.Count} mesures invalides en {hours:0} h"),
                state.Invalid.TakeLast(5).Select(i => new AlertEvidence(i.Time, EvidenceLabels.RejectedMessage, Detail: i.Reason, DetailFr: i.ReasonFr)).ToList()));
        }
    }

    /// <param name="batteryLow">The reading's device status reports a low battery.</param>
    /// <param name="arrivedAt">When the reading arrived: the start of a run of valid readings, on the clock of the rejections.</param>
    public IEnumerable<AlertSignal> OnAccepted(string patientId, string deviceId, DateTimeOffset time, bool batteryLow, DateTimeOffset arrivedAt)
    {
        var state = StateOf(deviceId);
        yield return new AlertSignal.Ended(new AlertKey(patientId, AlertKinds.DeviceClock, deviceId),
            new("The device's readings are accepted again", "Les mesures de l'appareil sont de nouveau acceptées"));
        state.ValidSince ??= arrivedAt;
        state.ValidInARow++;
        if (state.ValidInARow >= options.ValidReadingsToClear)
        {
            state.Invalid.Clear();
            yield return new AlertSignal.Ended(new AlertKey(patientId, AlertKinds.DeviceInvalid, deviceId),
                new($"{state.ValidInARow} valid readings in a row", $"{state.ValidInARow} mesures valides de suite"));
        }

        var battery = new AlertKey(patientId, AlertKinds.DeviceBattery, deviceId);
        yield return batteryLow
            ? new AlertSignal.Raise(new AlertDraft(battery, AlertSeverity.Info,
                new($"Device {deviceId} reports a low battery", $"L'appareil {deviceId} signale une batterie faible"),
                [new AlertEvidence(time, EvidenceLabels.DeviceStatus, Detail: EvidenceLabels.BatteryLow)]))
            : new AlertSignal.Ended(battery, new("The device no longer reports a low battery", "L'appareil ne signale plus de batterie faible"));
    }

    /// <summary>When this worker's current run of valid readings of the device began (null: none, or it was just broken).</summary>
    public DateTimeOffset? ValidRunSince(string deviceId) => devices.TryGetValue(deviceId, out var state) ? state.ValidSince : null;

    /// <summary>
    /// With several workers: another worker rejected a reading of the device during this worker's run of valid ones,
    /// so they were not in a row. The run starts again from the next valid reading.
    /// </summary>
    public void BreakValidRun(string deviceId) => StateOf(deviceId).BreakValidRun();

    private DeviceState StateOf(string deviceId)
    {
        if (!devices.TryGetValue(deviceId, out var state))
        {
            devices[deviceId] = state = new DeviceState();
        }

        return state;
    }

    private sealed class DeviceState
    {
        public List<(DateTimeOffset Time, string Reason, string? ReasonFr)> Invalid { get; } = [];

        public int ValidInARow { get; set; }

        public DateTimeOffset? ValidSince { get; set; }

        public void BreakValidRun()
        {
            ValidInARow = 0;
            ValidSince = null;
        }
    }
}
