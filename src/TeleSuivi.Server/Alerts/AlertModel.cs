namespace TeleSuivi.Server.Alerts;

/// <summary>How urgent an alert is. The order matters: a higher value always ranks first on the board.</summary>
public enum AlertSeverity
{
    Info = 1,
    Warning = 2,
    Critical = 3,
}

/// <summary>What raised an alert, as short stable codes (stored, sent to boards, filtered on).</summary>
public static class AlertKinds
{
    /// <summary>A vital sign beyond the patient's limits (subject: the vital, e.g. <c>spo2</c>).</summary>
    public const string VitalLimit = "vital-limit";

    /// <summary>The exacerbation-risk model's probability crossed the alert threshold.</summary>
    public const string Risk = "risk";

    /// <summary>No reading from the patient for longer than the monitoring plan allows.</summary>
    public const string MissingData = "missing-data";

    /// <summary>A device sends readings dated too far in the future or past (subject: the device id).</summary>
    public const string DeviceClock = "device-clock";

    /// <summary>A device keeps sending readings that are rejected as impossible or undecodable.</summary>
    public const string DeviceInvalid = "device-invalid";

    /// <summary>A device assigned to the patient has sent nothing for longer than expected.</summary>
    public const string DeviceSilent = "device-silent";

    /// <summary>A device reports a low battery.</summary>
    public const string DeviceBattery = "device-battery";
}

/// <summary>Where an alert is in the nurses' workflow (claims, snoozes and the condition's end are separate fields).</summary>
public static class AlertStatuses
{
    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Escalated = "escalated";

    /// <summary>Closed by a nurse with an outcome.</summary>
    public const string Resolved = "resolved";

    /// <summary>Closed by the engine: the condition ended before anyone acted on it.</summary>
    public const string Cleared = "cleared";

    public static bool IsClosed(string status) => status is Resolved or Cleared;
}

/// <summary>How an alert ended for the patient: the labels the risk model is retrained on.</summary>
public static class AlertOutcomes
{
    public const string FalseAlarm = "false-alarm";
    public const string ManagedAtHome = "managed-at-home";
    public const string HomeVisit = "home-visit";
    public const string Hospitalised = "hospitalised";
    public const string ConfirmedExacerbation = "confirmed-exacerbation";

    public static readonly IReadOnlyList<string> All = [FalseAlarm, ManagedAtHome, HomeVisit, Hospitalised, ConfirmedExacerbation];
}

/// <summary>What was done on an alert (the timeline's action types).</summary>
public static class AlertActions
{
    public const string Opened = "opened";
    public const string Updated = "updated";
    public const string Recurred = "recurred";
    public const string ConditionEnded = "condition-ended";
    public const string Cleared = "cleared";
    public const string Claimed = "claimed";
    public const string Released = "released";
    public const string Acknowledged = "acknowledged";
    public const string Note = "note";
    public const string Call = "call";
    public const string Snoozed = "snoozed";
    public const string Escalated = "escalated";
    public const string Resolved = "resolved";
}

/// <summary>A sentence in both languages of the board.</summary>
public sealed record LocalizedText(string En, string Fr);

/// <summary>
/// The labels of <see cref="AlertEvidence"/> (besides the vital signs' English names), in English as stored; the board
/// shows them in French from its own dictionary (<c>wwwroot/common.js</c>, <c>EVIDENCE_FR</c>), which covers alerts
/// stored before too. A new label needs its French there (a test checks).
/// </summary>
public static class EvidenceLabels
{
    public const string Risk = "risk";
    public const string RiskFactor = "risk factor";
    public const string LatestReading = "latest reading";
    public const string MonitoringStarted = "monitoring started";
    public const string RejectedMessage = "rejected message";
    public const string DeviceStatus = "device status";
    public const string BodyWeight = "Body weight";

    /// <summary>The unit of the <see cref="Risk"/> evidence.</summary>
    public const string Probability = "probability";

    /// <summary>The detail of a <see cref="DeviceStatus"/> evidence when the device reports a low battery.</summary>
    public const string BatteryLow = "battery-low";

    /// <summary>Every label, unit and fixed detail an alert's evidence may carry.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Risk, RiskFactor, LatestReading, MonitoringStarted, RejectedMessage, DeviceStatus, BodyWeight, Probability, BatteryLow, .. VitalSigns.All.Select(v => v.Name.En)];
}

/// <summary>
/// One fact behind an alert: a reading (with its Observation id), a rejected message, a risk factor or a gap.
/// </summary>
public sealed record AlertEvidence(
    DateTimeOffset Time,
    string Label,
    double? Value = null,
    string? Unit = null,
    string? ObservationId = null,
    string? Detail = null,
    string? DetailFr = null);

/// <summary>What makes an alert one alert: the same patient, kind and subject while it stays open.</summary>
/// <param name="Subject">The vital (<c>spo2</c>), the device id, or empty for patient-wide kinds.</param>
public readonly record struct AlertKey(string PatientId, string Kind, string Subject);

/// <summary>What the engine wants raised (or kept raised and updated).</summary>
/// <param name="Reminder">
/// The condition has lasted a whole cool-down since its last alert (the risk policy's reminder): a new alert even if a
/// nurse resolved the last one while the condition lasted, which otherwise is not raised again until it ends or worsens.
/// </param>
public sealed record AlertDraft(
    AlertKey Key,
    AlertSeverity Severity,
    LocalizedText Reason,
    IReadOnlyList<AlertEvidence> Evidence,
    double? Risk = null,
    bool Reminder = false);

/// <summary>An alert as stored.</summary>
public sealed record Alert
{
    public required long Id { get; init; }

    public required string PatientId { get; init; }

    public required string Kind { get; init; }

    public required string Subject { get; init; }

    public required AlertSeverity Severity { get; init; }

    public required string Status { get; init; }

    public required LocalizedText Reason { get; init; }

    public required IReadOnlyList<AlertEvidence> Evidence { get; init; }

    public double? Risk { get; init; }

    public required DateTimeOffset OpenedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When the condition that raised it ended (the engine saw it end); null while it lasts.</summary>
    public DateTimeOffset? ConditionEndedAt { get; init; }

    public string? ClaimedBy { get; init; }

    public DateTimeOffset? ClaimedAt { get; init; }

    public string? AcknowledgedBy { get; init; }

    public DateTimeOffset? AcknowledgedAt { get; init; }

    public DateTimeOffset? SnoozedUntil { get; init; }

    public string? SnoozeReason { get; init; }

    public DateTimeOffset? EscalatedAt { get; init; }

    public string? EscalatedTo { get; init; }

    public string? ResolvedBy { get; init; }

    public DateTimeOffset? ClosedAt { get; init; }

    public string? Outcome { get; init; }

    /// <summary>When the alert became critical (raised as critical, or a later raise made it so); the escalation timer counts from here.</summary>
    public DateTimeOffset? CriticalSince { get; init; }

    /// <summary>The board sequence number of the alert's latest change (increases across all alerts).</summary>
    public required long Version { get; init; }

    public AlertKey Key => new(PatientId, Kind, Subject);

    public bool IsClosed => AlertStatuses.IsClosed(Status);

    public bool IsSnoozed(DateTimeOffset now) => SnoozedUntil is { } until && until > now;
}

/// <summary>One action on an alert: who did what, when, with what detail.</summary>
public sealed record AlertActionRecord(long Id, long AlertId, string PatientId, string Action, string Actor, DateTimeOffset At, string? Detail);
