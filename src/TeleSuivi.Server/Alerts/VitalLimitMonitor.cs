using System.Globalization;

namespace TeleSuivi.Server.Alerts;

/// <summary>One numeric value of a vital sign read from a stored Observation.</summary>
public readonly record struct VitalReading(string PatientId, VitalSign Vital, double Value, DateTimeOffset Time, string ObservationId);

/// <summary>
/// Hard limits with debounce, per patient and vital: a critical value raises at once (a real hypoxia must not wait
/// for confirmation); a warning needs <see cref="VitalSign.WarningReadings"/> consecutive readings beyond the
/// limit spanning <see cref="VitalSign.WarningDuration"/>; the first reading back within the limits ends the
/// condition. Readings older than the latest one already seen (redeliveries, late uploads) are ignored, so a
/// redelivered message never counts twice. This state lives in memory; after a restart the engine rebuilds it for each
/// patient's vital from the stored readings (<see cref="IsNew"/>, <see cref="Replay"/>) before the first new reading,
/// so a restart neither loses a streak in progress, nor counts a redelivered reading again, nor forgets the weights of
/// the last days.
/// </summary>
public sealed class VitalLimitMonitor(AlertOptions options)
{
    private const int EvidenceKept = 5;
    private readonly Dictionary<(string Patient, string Vital), Streak> streaks = [];
    private readonly Dictionary<string, List<(DateTimeOffset Time, double Kg, string ObservationId)>> weights = new(StringComparer.Ordinal);

    /// <summary>How far back <see cref="Replay"/> needs readings: the weight-gain window (the longest state kept).</summary>
    public static readonly TimeSpan HistoryWindow = TimeSpan.FromDays(4);

    /// <summary>Whether nothing is known yet of this patient's vital: its stored history should be replayed first.</summary>
    public bool IsNew(string patientId, VitalSign vital)
    {
        ArgumentNullException.ThrowIfNull(vital);
        return vital.Id == VitalSigns.WeightGainId ? !weights.ContainsKey(patientId) : !streaks.ContainsKey((patientId, vital.Id));
    }

    /// <summary>
    /// Takes up the stored readings of one patient's vital, oldest first, as if they had just arrived, without raising
    /// anything: they were evaluated when they were stored. The vital stops being <see cref="IsNew"/> even with none.
    /// </summary>
    public void Replay(string patientId, VitalSign vital, IEnumerable<VitalReading> stored, VitalLimits limits)
    {
        ArgumentNullException.ThrowIfNull(vital);
        ArgumentNullException.ThrowIfNull(stored);
        foreach (var reading in stored)
        {
            _ = Evaluate(reading, limits, reading.Time);
        }

        if (vital.Id == VitalSigns.WeightGainId)
        {
            weights.TryAdd(patientId, []);
        }
        else
        {
            streaks.TryAdd((patientId, vital.Id), new Streak());
        }
    }

    /// <summary>
    /// Drops what this monitor holds of one patient's vital (for the weight gain, the weights and the gain's streak): it
    /// becomes <see cref="IsNew"/> again, and what follows starts from nothing or from a <see cref="Replay"/>.
    /// </summary>
    public void Forget(string patientId, VitalSign vital)
    {
        ArgumentNullException.ThrowIfNull(vital);
        if (vital.Id == VitalSigns.WeightGainId)
        {
            weights.Remove(patientId);
            streaks.Remove((patientId, GainTracker.Id));
        }
        else
        {
            streaks.Remove((patientId, vital.Id));
        }
    }

    /// <summary>Evaluates one reading against the limits in force for the patient.</summary>
    public AlertSignal? Evaluate(VitalReading reading, VitalLimits limits, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (reading.Vital.Id == VitalSigns.WeightGainId)
        {
            return EvaluateWeight(reading, limits, now);
        }

        var slot = (reading.PatientId, reading.Vital.Id);
        if (!streaks.TryGetValue(slot, out var streak))
        {
            streaks[slot] = streak = new Streak();
        }

        if (reading.Time <= streak.LastTime)
        {
            return null;
        }

        streak.LastTime = reading.Time;
        var key = new AlertKey(reading.PatientId, AlertKinds.VitalLimit, reading.Vital.Id);
        var (severity, limit, below) = limits.Classify(reading.Value);
        if (severity is not { } current)
        {
            streak.Reset();
            var value = Format(reading.Value, reading.Vital);
            return new AlertSignal.Ended(key, new(
                $"{reading.Vital.Name.En} back within limits: {value} at {reading.Time:yyyy-MM-dd HH:mm} UTC",
                $"{reading.Vital.Name.Fr} revenue dans les limites : {value} à {reading.Time:yyyy-MM-dd HH:mm} UTC"));
        }

        if (streak.Count == 0)
        {
            streak.First = reading.Time;
        }

        streak.Count++;
        streak.Evidence.Add(new AlertEvidence(reading.Time, reading.Vital.Name.En, reading.Value, reading.Vital.Unit, reading.ObservationId));
        if (streak.Evidence.Count > EvidenceKept)
        {
            streak.Evidence.RemoveAt(0);
        }

        var confirmed = current == AlertSeverity.Critical
            || (streak.Count >= reading.Vital.WarningReadings && reading.Time - streak.First >= reading.Vital.WarningDuration);
        if (!confirmed || now - reading.Time > options.MaxReadingAge)
        {
            return null;
        }

        return new AlertSignal.Raise(new AlertDraft(key, current, Describe(reading, current, limit!.Value, below, streak), [.. streak.Evidence]));
    }

    private AlertSignal? EvaluateWeight(VitalReading reading, VitalLimits limits, DateTimeOffset now)
    {
        if (!weights.TryGetValue(reading.PatientId, out var history))
        {
            weights[reading.PatientId] = history = [];
        }

        if (history.Any(w => w.Time == reading.Time))
        {
            return null;
        }

        history.Add((reading.Time, reading.Value, reading.ObservationId));
        history.Sort((a, b) => a.Time.CompareTo(b.Time));
        var latest = history[^1];
        history.RemoveAll(w => latest.Time - w.Time > TimeSpan.FromDays(4));
        if (latest.Time != reading.Time || limits == VitalLimits.None)
        {
            return null;
        }

        // The weight closest to 72 h before the latest, within 60 to 84 h: a scale used once a day, give or take.
        var target = latest.Time - TimeSpan.FromHours(72);
        var candidates = history.Where(w => latest.Time - w.Time >= TimeSpan.FromHours(60) && latest.Time - w.Time <= TimeSpan.FromHours(84)).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var before = candidates.MinBy(w => Math.Abs((w.Time - target).Ticks));
        var gain = Math.Round(latest.Kg - before.Kg, 2);
        var gainReading = reading with { Value = gain };
        var signal = Evaluate(gainReading with { Vital = GainTracker }, limits, now);
        return signal switch
        {
            AlertSignal.Raise raise => new AlertSignal.Raise(raise.Draft with
            {
                Key = raise.Draft.Key with { Subject = VitalSigns.WeightGainId },
                Evidence =
                [
                    new AlertEvidence(before.Time, EvidenceLabels.BodyWeight, before.Kg, "kg", before.ObservationId),
                    new AlertEvidence(latest.Time, EvidenceLabels.BodyWeight, latest.Kg, "kg", latest.ObservationId),
                ],
            }),
            AlertSignal.Ended end => end with { Key = end.Key with { Subject = VitalSigns.WeightGainId } },
            _ => null,
        };
    }

    /// <summary>The weight gain runs through the same streak logic under its own slot.</summary>
    private static readonly VitalSign GainTracker = VitalSigns.WeightGain with { Id = VitalSigns.WeightGainId + "#gain" };

    private static LocalizedText Describe(VitalReading reading, AlertSeverity severity, double limit, bool below, Streak streak)
    {
        var vital = reading.Vital;
        var value = Format(reading.Value, vital);
        var bound = Format(limit, vital);
        var level = severity == AlertSeverity.Critical ? ("critical", "critique") : ("warning", "d'alerte");
        var count = streak.Count == 1
            ? ("1 reading", "1 mesure")
            : ($"{streak.Count} readings in a row since {streak.First:yyyy-MM-dd HH:mm} UTC", $"{streak.Count} mesures de suite depuis {streak.First:yyyy-MM-dd HH:mm} UTC");
        return new(
            $"{vital.Name.En} {value} {(below ? "below" : "above")} the {level.Item1} limit {bound} ({count.Item1})",
            $"{vital.Name.Fr} {value} {(below ? "sous" : "au-dessus de")} la limite {level.Item2} {bound} ({count.Item2})");
    }

    private static string Format(double value, VitalSign vital) =>
        value.ToString(vital.Id is "temperature" or "glucose" || vital.Id.StartsWith(VitalSigns.WeightGainId, StringComparison.Ordinal) ? "0.0#" : "0.#", CultureInfo.InvariantCulture) + " " + vital.Unit;

    private sealed class Streak
    {
        public DateTimeOffset LastTime { get; set; } = DateTimeOffset.MinValue;

        public DateTimeOffset First { get; set; }

        public int Count { get; set; }

        public List<AlertEvidence> Evidence { get; } = [];

        public void Reset()
        {
            Count = 0;
            Evidence.Clear();
        }
    }
}
