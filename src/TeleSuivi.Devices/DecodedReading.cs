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
/// <param name="Time">When the measurement was taken, if the payload says so; otherwise the receive time is used.</param>
/// <param name="Values">The value of the measure itself, or the components of a panel.</param>
public sealed record DecodedReading(string Measure, DateTimeOffset? Time, IReadOnlyList<DecodedValue> Values)
{
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
