namespace TeleSuivi.Devices;

/// <summary>
/// One value read from a payload, in the unit the device used (a UCUM code such as "mm[Hg]", "[lb_av]", "[degF]").
/// Conversion to the canonical unit of the measure happens once, during normalisation.
/// </summary>
/// <param name="Measure">A key of the measure catalogue, e.g. "systolic-pressure".</param>
public readonly record struct DecodedValue(string Measure, double Value, string Unit);

/// <summary>
/// One reading decoded from a device payload: a measure (e.g. "blood-pressure") taken at one time,
/// with one value, or several for a panel (systolic, diastolic, mean).
/// </summary>
/// <param name="Measure">A key of the measure catalogue.</param>
/// <param name="Time">When the measurement was taken, if the payload says so; otherwise the receive time (less <see cref="TimeBeforeReceipt"/>) is used.</param>
/// <param name="Values">The value of the measure itself, or the components of a panel.</param>
public sealed record DecodedReading(string Measure, DateTimeOffset? Time, IReadOnlyList<DecodedValue> Values)
{
    /// <summary>
    /// What the payload says about how the reading was taken, as <c>key → value</c>; see <see cref="QualifierKeys"/>.
    /// Carried into the Observation (body site, method, device status) and used by device-fault alerts.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Qualifiers { get; init; }

    /// <summary>
    /// When <see cref="Time"/> is null, how long before the receive time the reading was taken. A heart-rate strap
    /// sends the RR-intervals of the beats since its last notification, without a clock: each interval ends that long
    /// before the notification, so a batch of them becomes a series of distinct times rather than one collision.
    /// </summary>
    public TimeSpan TimeBeforeReceipt { get; init; }

    public static DecodedReading OfValue(string measure, DateTimeOffset? time, double value, string unit) =>
        new(measure, time, [new DecodedValue(measure, value, unit)]);
}

/// <summary>What a decoder made of one payload: readings, or the precise reason it could not.</summary>
public sealed record DecodeOutcome(IReadOnlyList<DecodedReading> Readings, string? Error)
{
    public bool Succeeded => Error is null;

    public static DecodeOutcome Success(IReadOnlyList<DecodedReading> readings) => new(readings, null);

    public static DecodeOutcome Failure(string reason) => new([], reason);
}

/// <summary>The qualifier keys decoders may set on a <see cref="DecodedReading"/>.</summary>
public static class QualifierKeys
{
    /// <summary>Where on the body: "ear", "finger", "toe", "armpit", "mouth", "rectum", "forehead", "wrist", "upper-arm", "tympanum", "body".</summary>
    public const string BodySite = "body-site";

    /// <summary>Capillary, venous, arterial, interstitial, plasma, control-solution... (glucose sample type).</summary>
    public const string Specimen = "specimen";

    /// <summary>Comma-separated device status flags, e.g. "body-movement,cuff-loose,irregular-pulse,sensor-contact-lost".</summary>
    public const string DeviceStatus = "device-status";

    /// <summary>The user number of a multi-user device (bathroom scale, blood-pressure monitor).</summary>
    public const string UserId = "user-id";

    /// <summary>Battery charge of the device in percent, when the payload reports it.</summary>
    public const string BatteryPercent = "battery-percent";

    /// <summary>A sequence number of the reading on the device.</summary>
    public const string SequenceNumber = "sequence-number";
}
