using System.Globalization;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Alerts;

/// <summary>
/// Missing data and silent devices, checked on a timer against each patient's monitoring plan. The plan comes from
/// the devices assigned to the patient: each device kind has an expected interval between readings
/// (<see cref="AlertOptions.ExpectedIntervalByDeviceKind"/>, else <see cref="AlertOptions.MissingDataAfter"/>); the
/// patient must send something within the shortest of them; a device is silent after
/// <see cref="AlertOptions.DeviceSilentIntervals"/> of its own intervals (at least
/// <see cref="AlertOptions.DeviceSilentAfter"/>). Time is counted from the latest reading, or from when monitoring
/// started (the engine's start, or the assignment if later) for a patient or device that never sent one.
/// <para>
/// A gap is judged on the data's own clock: a reading that was already overdue when it arrived (its time further
/// behind its arrival than the plan allows) comes from a backlog (a gateway uploading what it stored offline, a first
/// start with history, the simulator catching up), and more of it may follow and fill the gap. So while a patient's (or
/// a device's) newest reading is such a late one that arrived within <see cref="AlertOptions.BacklogQuietPeriod"/>,
/// no gap is raised; once the backlog has stood still that long, the gap is judged against the wall clock as usual. A
/// real gap is raised at most that period late, never hidden; a device that sends on time is judged as before.
/// </para>
/// <para>
/// With several ingest workers (<see cref="SweepAsync"/> given the shared store), each sees only the readings the
/// broker dealt to it. A patient is then watched only by the worker that owns the patient's scoring partition, and a
/// gap this worker's own readings suggest is raised only once the store (every worker's readings) confirms it: the
/// patient's latest stored readings are read first. So each patient is watched by exactly one live worker, and when a
/// partition moves (a worker died or joined) its new owner starts watching from the store's truth.
/// </para>
/// </summary>
public sealed class DataGapMonitor(AlertOptions options)
{
    private readonly Dictionary<string, DateTimeOffset> lastByPatient = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> lastByDevice = new(StringComparer.Ordinal);

    // Since when each patient and device without a reading is watched. Two maps keyed by id, not one keyed by a built
    // "patient/…" or "device/…" string: a sweep of 100,000 patients then builds no string per patient and device.
    private readonly Dictionary<string, DateTimeOffset> patientWatchedSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> deviceWatchedSince = new(StringComparer.Ordinal);

    // When each patient's and device's newest reading arrived, on the wall clock; none when it was read back from the
    // store. Keyed by id like lastByPatient and lastByDevice, so recording a reading builds no key.
    private readonly Dictionary<string, DateTimeOffset> arrivedByPatient = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> arrivedByDevice = new(StringComparer.Ordinal);

    /// <summary>Records a stored reading; ends the patient's missing-data and the device's silence alerts.</summary>
    /// <param name="arrivedAt">
    /// When the reading reached this engine, for a reading that just arrived; null for one read back from the store
    /// (at start, or to confirm a gap), whose arrival is unknown and which must not count as a backlog still arriving.
    /// </param>
    public IEnumerable<AlertSignal> OnReading(string patientId, string? deviceId, DateTimeOffset time, DateTimeOffset? arrivedAt = null)
    {
        Advance(lastByPatient, arrivedByPatient, patientId, time, arrivedAt);

        yield return new AlertSignal.Ended(new AlertKey(patientId, AlertKinds.MissingData, string.Empty),
            new($"A reading arrived ({time:yyyy-MM-dd HH:mm} UTC)", $"Une mesure est arrivée ({time:yyyy-MM-dd HH:mm} UTC)"));
        if (deviceId is not null)
        {
            Advance(lastByDevice, arrivedByDevice, deviceId, time, arrivedAt);

            yield return new AlertSignal.Ended(new AlertKey(patientId, AlertKinds.DeviceSilent, deviceId),
                new("The device sends again", "L'appareil émet de nouveau"));
        }
    }

    /// <summary>How far back the store is read to confirm a gap: beyond it, the gap counts from when monitoring started.</summary>
    public static readonly TimeSpan ConfirmLookBack = TimeSpan.FromDays(90);

    /// <summary>
    /// The gaps as of <paramref name="now"/> of the patients <paramref name="watches"/> selects (this worker's
    /// partitions); with <paramref name="sharedStore"/> (several workers), each gap is confirmed against the store
    /// before it is raised. A store that cannot be read throws: nothing is raised on a guess, the next sweep retries.
    /// </summary>
    public async Task<IReadOnlyList<AlertSignal>> SweepAsync(
        IReadOnlyDictionary<string, List<AssignedDevice>> assigned,
        DateTimeOffset now,
        Func<string, bool> watches,
        IObservationStore? sharedStore,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assigned);
        ArgumentNullException.ThrowIfNull(watches);
        var watched = assigned.Where(pair => watches(pair.Key)).ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        if (sharedStore is not null)
        {
            var suspects = Sweep(watched, now).OfType<AlertSignal.Raise>().Select(raise => raise.Draft.Key.PatientId).Distinct(StringComparer.Ordinal).ToList();
            foreach (var patientId in suspects)
            {
                foreach (var latest in await sharedStore.ReadLatestAsync("Patient/" + patientId, now - ConfirmLookBack, cancellationToken))
                {
                    _ = OnReading(patientId, latest.Device?.Split('/')[^1], latest.Time).ToList();
                }
            }
        }

        return Sweep(watched, now).ToList();
    }

    /// <summary>The gaps as of <paramref name="now"/> for the devices assigned to each patient, from the readings this monitor saw.</summary>
    public IEnumerable<AlertSignal> Sweep(IReadOnlyDictionary<string, List<AssignedDevice>> assigned, DateTimeOffset now)
    {
        foreach (var (patientId, devices) in assigned)
        {
            if (devices.Count == 0)
            {
                continue;
            }

            var plan = Plan(devices);
            var since = Since(lastByPatient, patientWatchedSince, patientId, now);
            if (now - since >= plan && !CatchingUp(arrivedByPatient, patientId, since, plan, now))
            {
                var kinds = string.Join(", ", devices.Select(d => d.Kind ?? d.Id).Distinct(StringComparer.Ordinal));
                var hours = Hours(now - since);
                var planHours = Hours(plan);
                var evidence = new AlertEvidence(since, lastByPatient.ContainsKey(patientId) ? EvidenceLabels.LatestReading : EvidenceLabels.MonitoringStarted);
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
                var deviceSince = Since(lastByDevice, deviceWatchedSince, device.Id, now);
                if (now - deviceSince >= silentAfter && !CatchingUp(arrivedByDevice, device.Id, deviceSince, silentAfter, now))
                {
                    var hours = Hours(now - deviceSince);
                    yield return new AlertSignal.Raise(new AlertDraft(
                        new AlertKey(patientId, AlertKinds.DeviceSilent, device.Id),
                        AlertSeverity.Warning,
                        new($"Device {device.Id} ({device.Kind ?? "unknown kind"}) silent for {hours} h", $"Appareil {device.Id} ({device.Kind ?? "type inconnu"}) muet depuis {hours} h"),
                        [new AlertEvidence(deviceSince, lastByDevice.ContainsKey(device.Id) ? EvidenceLabels.LatestReading : EvidenceLabels.MonitoringStarted)]));
                }
            }
        }
    }

    private static void Advance(Dictionary<string, DateTimeOffset> last, Dictionary<string, DateTimeOffset> arrivals, string id, DateTimeOffset time, DateTimeOffset? arrivedAt)
    {
        if (last.TryGetValue(id, out var newest) && time <= newest)
        {
            return;
        }

        last[id] = time;
        if (arrivedAt is { } arrived)
        {
            arrivals[id] = arrived;
        }
        else
        {
            arrivals.Remove(id);
        }
    }

    /// <summary>The newest reading, at <paramref name="newest"/>, was already a gap when it arrived, and arrived recently.</summary>
    private bool CatchingUp(Dictionary<string, DateTimeOffset> arrivals, string id, DateTimeOffset newest, TimeSpan gap, DateTimeOffset now) =>
        arrivals.TryGetValue(id, out var arrived) && arrived - newest >= gap && now - arrived < options.BacklogQuietPeriod;

    private static DateTimeOffset Since(Dictionary<string, DateTimeOffset> last, Dictionary<string, DateTimeOffset> watchedSince, string id, DateTimeOffset now)
    {
        if (last.TryGetValue(id, out var time))
        {
            return time;
        }

        if (!watchedSince.TryGetValue(id, out var since))
        {
            watchedSince[id] = since = now;
        }

        return since;
    }

    /// <summary>The shortest expected interval of the patient's devices (a loop: no delegate per patient per sweep).</summary>
    private TimeSpan Plan(List<AssignedDevice> devices)
    {
        var plan = TimeSpan.MaxValue;
        foreach (var device in devices)
        {
            var expected = Expected(device.Kind);
            plan = expected < plan ? expected : plan;
        }

        return plan;
    }

    private TimeSpan Expected(string? kind) =>
        kind is not null && options.ExpectedIntervalByDeviceKind.TryGetValue(kind, out var interval) && interval > TimeSpan.Zero ? interval : options.MissingDataAfter;

    private static string Hours(TimeSpan span) => span.TotalHours.ToString("0", CultureInfo.InvariantCulture);
}
