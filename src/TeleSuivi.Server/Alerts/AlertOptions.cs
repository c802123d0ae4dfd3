using TeleSuivi.Risk.Evaluation;

namespace TeleSuivi.Server.Alerts;

/// <summary>The alert engine's settings (section <c>Alerts</c>).</summary>
public sealed class AlertOptions
{
    public const string Section = "Alerts";

    /// <summary>Stored readings and rejected messages waiting for the engine, and apart as many risk scores; when full, ingestion (or the scorer) waits: nothing is dropped.</summary>
    public int ChannelCapacity { get; set; } = 20_000;

    /// <summary>How often missing data, silent devices and the escalation timer are checked.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// With several workers: how often a worker reads which alerts are open (whoever raised them), so that a reading it
    /// receives ends an alert another worker raised. One query of the open alerts' keys.
    /// </summary>
    public TimeSpan LiveKeysRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Readings older than this (late uploads, history) update the state but raise no vital-limit alert.</summary>
    public TimeSpan MaxReadingAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The monitoring plan when a device kind has no entry in <see cref="ExpectedIntervalByDeviceKind"/>: a reading at least this often.</summary>
    public TimeSpan MissingDataAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The monitoring plan by device kind (the code of <c>Device.type</c>, e.g. <c>PulseOximeter</c>): how often the
    /// device is expected to send. A patient's plan is the shortest interval of the devices assigned to them.
    /// </summary>
    public Dictionary<string, TimeSpan> ExpectedIntervalByDeviceKind { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A device is silent after this many of its expected intervals without a reading (at least <see cref="DeviceSilentAfter"/>).</summary>
    public double DeviceSilentIntervals { get; set; } = 2;

    /// <summary>The shortest silence that counts as a silent device.</summary>
    public TimeSpan DeviceSilentAfter { get; set; } = TimeSpan.FromHours(48);

    /// <summary>
    /// A patient or device whose newest reading arrived within this period already overdue (further behind its arrival
    /// than the plan allows) is still delivering a backlog (history, a gateway's offline store): its missing data or
    /// silence is judged only once that backlog has stood still this long, so a backlog catching up raises no gap
    /// alert. A real gap behind a backlog is raised at most this much later; readings sent on time are not affected.
    /// </summary>
    public TimeSpan BacklogQuietPeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Rejected readings (implausible or undecodable) from one device within <see cref="InvalidReadingsWindow"/> that raise a device alert.</summary>
    public int InvalidReadingsThreshold { get; set; } = 3;

    public TimeSpan InvalidReadingsWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Accepted messages in a row after which a device's invalid-readings alert ends.</summary>
    public int ValidReadingsToClear { get; set; } = 3;

    /// <summary>An unacknowledged critical alert escalates to the patient's physician by itself after this long.</summary>
    public TimeSpan EscalateCriticalAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Whom an escalation goes to when the patient has no <c>generalPractitioner</c>.</summary>
    public string DefaultPhysician { get; set; } = "physician on duty";

    /// <summary>The longest snooze.</summary>
    public TimeSpan MaxSnooze { get; set; } = TimeSpan.FromDays(7);

    public RiskPolicyOptions Risk { get; set; } = new();
}

/// <summary>
/// When the exacerbation-risk probability raises, re-raises and clears an alert. By default the thresholds follow the
/// model in use: <see cref="AlertsPerPatientDay"/> picks one of the operating points its evaluation report measured
/// (<see cref="RiskThresholds"/>); a threshold set here wins over the one derived from the budget.
/// </summary>
public sealed class RiskPolicyOptions
{
    /// <summary>
    /// The risk alerts the nursing team can handle, per patient and day (0.05: about 17 a nurse-day for 3 nurses and
    /// 1,000 patients): raise-at is that of the model's evaluated operating point with the largest budget not above this.
    /// </summary>
    public double AlertsPerPatientDay { get; set; } = RiskThresholds.DefaultAlertsPerPatientDay;

    /// <summary>A probability at or above this raises a risk alert. Unset: from <see cref="AlertsPerPatientDay"/> and the model's operating points.</summary>
    public double? RaiseAt { get; set; }

    /// <summary>
    /// The alert ends only when the probability falls below this (hysteresis: no flapping around raise-at). Unset: two
    /// thirds of raise-at, as the evaluation counted alerts.
    /// </summary>
    public double? ClearBelow { get; set; }

    /// <summary>
    /// At or above this the alert is critical. Unset: the raise-at of a budget ten times smaller (with an explicit
    /// <see cref="RaiseAt"/>, twice it).
    /// </summary>
    public double? CriticalAt { get; set; }

    /// <summary>
    /// At most one risk alert per patient for this long, as the evaluation counted alerts: once it has passed, a patient
    /// whose risk is still at raise-at is alerted again (a reminder); within it, only a risk that reaches critical-at
    /// from below is.
    /// </summary>
    public TimeSpan CoolDown { get; set; } = EpisodePolicy.DefaultCoolDown;
}
