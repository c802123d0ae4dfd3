namespace TeleSuivi.Risk.Cohort;

/// <summary>The chronic conditions followed at home.</summary>
public enum Condition
{
    Copd,
    HeartFailure,
    Diabetes,
    FrailElderly,
}

public enum Sex
{
    Female,
    Male,
}

/// <summary>The home devices of the cohort (the same names as the device simulator's kinds).</summary>
public enum CohortDevice
{
    PulseOximeter,
    BloodPressureMonitor,
    Scale,
    Thermometer,
    ActivityTracker,
    SleepSensor,
    Glucometer,
}

public enum EventKind
{
    /// <summary>A true exacerbation / decompensation: the positive class of the label.</summary>
    Exacerbation,

    /// <summary>A self-resolving flare of symptoms and vitals that needs no treatment: never a positive label.</summary>
    Flare,
}

/// <summary>The measure keys of <c>TeleSuivi.Devices.Normalization.MeasureCatalog</c> the cohort produces, in its canonical units.</summary>
public static class Measures
{
    /// <summary>/min.</summary>
    public const string HeartRate = "heart-rate";

    /// <summary>/min.</summary>
    public const string RespiratoryRate = "respiratory-rate";

    /// <summary>%.</summary>
    public const string OxygenSaturation = "oxygen-saturation";

    /// <summary>mm[Hg].</summary>
    public const string Systolic = "systolic-pressure";

    /// <summary>mm[Hg].</summary>
    public const string Diastolic = "diastolic-pressure";

    /// <summary>kg.</summary>
    public const string BodyWeight = "body-weight";

    /// <summary>Cel.</summary>
    public const string BodyTemperature = "body-temperature";

    /// <summary>/d (steps of one day).</summary>
    public const string Steps = "steps";

    /// <summary>mmol/L (capillary blood).</summary>
    public const string Glucose = "glucose";

    /// <summary>Outdoor environment measures (ug/m3, Cel, %, index 0–5).</summary>
    public const string AmbientPm25 = "ambient-pm25";
    public const string AmbientPm10 = "ambient-pm10";
    public const string AmbientNo2 = "ambient-no2";
    public const string AmbientO3 = "ambient-o3";
    public const string AmbientTemperature = "ambient-temperature";
    public const string AmbientHumidity = "ambient-humidity";
    public const string PollenIndex = "pollen-index";

    /// <summary>The patient measures of the cohort, in a fixed order (feature layout).</summary>
    public static readonly IReadOnlyList<string> Patient =
        [HeartRate, RespiratoryRate, OxygenSaturation, Systolic, Diastolic, BodyWeight, BodyTemperature, Steps, Glucose];

    /// <summary>The environment measures, in the order of <see cref="EnvironmentVariable"/>.</summary>
    public static readonly IReadOnlyList<string> Environment =
        [AmbientPm25, AmbientPm10, AmbientNo2, AmbientO3, AmbientTemperature, AmbientHumidity, PollenIndex];

    /// <summary>What each device measures.</summary>
    public static IReadOnlyList<string> Of(CohortDevice device) => device switch
    {
        CohortDevice.PulseOximeter => [OxygenSaturation, HeartRate],
        CohortDevice.BloodPressureMonitor => [Systolic, Diastolic, HeartRate],
        CohortDevice.Scale => [BodyWeight],
        CohortDevice.Thermometer => [BodyTemperature],
        CohortDevice.ActivityTracker => [Steps],
        CohortDevice.SleepSensor => [RespiratoryRate, HeartRate],
        CohortDevice.Glucometer => [Glucose],
        _ => throw new ArgumentOutOfRangeException(nameof(device), device, "unknown device"),
    };
}

/// <summary>The environment variables of a zone, index into daily and hourly arrays.</summary>
public enum EnvironmentVariable
{
    Pm25,
    Pm10,
    No2,
    O3,
    TemperatureC,
    Humidity,
    PollenIndex,
}

/// <summary>A patient's usual values (the centre of the personal distribution, before circadian rhythm).</summary>
public sealed record PatientBaseline(
    double HeartRate,
    double RespiratoryRate,
    double SpO2,
    double Systolic,
    double Diastolic,
    double WeightKg,
    double TemperatureC,
    double StepsPerDay,
    double GlucoseMmolL);

/// <summary>One simulated patient (profile only; readings are generated on demand by <see cref="CohortPatient.Readings"/>).</summary>
/// <param name="Severity">Of the primary condition, 1–4 (GOLD grade for COPD, NYHA class for heart failure); other conditions count as 2.</param>
/// <param name="Adherence">Probability of using each device on a given day.</param>
/// <param name="Susceptibility">Multiplier of the patient's event hazard (gamma, mean 1): frequent exacerbators are above 1.</param>
/// <param name="PriorYearExacerbations">Exacerbations in the 12 months before enrolment, as recorded at enrolment; null when the enrolment did not record them.</param>
public sealed record PatientProfile(
    string Id,
    int Index,
    int Age,
    Sex Sex,
    string Zone,
    IReadOnlyList<Condition> Conditions,
    Condition Primary,
    int Severity,
    PatientBaseline Baseline,
    IReadOnlyList<CohortDevice> Devices,
    double Adherence,
    double Susceptibility,
    int? PriorYearExacerbations);

/// <summary>
/// Ground truth: one exacerbation or flare. The prodrome (vital-sign changes) starts <see cref="ProdromeDays"/> before
/// <see cref="Onset"/>; the event lasts <see cref="DurationDays"/> after onset, during which vitals return to baseline.
/// </summary>
/// <param name="SignalScale">Size of the vital-sign changes relative to the literature's typical shift (0: an event with no telemonitoring signal).</param>
/// <param name="WeightProdromeDays">Heart failure: days over which fluid weight builds before onset (0 otherwise).</param>
/// <param name="WeightGainKg">Heart failure: weight gained by onset.</param>
/// <param name="Hospitalised">Severe event: the patient is in hospital for the first part of the event and takes no readings.</param>
public sealed record CohortEvent(
    string PatientId,
    EventKind Kind,
    Condition Condition,
    DateTimeOffset Onset,
    double ProdromeDays,
    double DurationDays,
    double SignalScale,
    double WeightProdromeDays,
    double WeightGainKg,
    bool Hospitalised)
{
    public DateTimeOffset End => Onset + TimeSpan.FromDays(DurationDays);

    public DateTimeOffset ProdromeStart => Onset - TimeSpan.FromDays(Math.Max(ProdromeDays, WeightProdromeDays));
}

/// <summary>
/// One reading as the device reports it: <see cref="Time"/> is when it was measured, <see cref="ReceivedAt"/> when the
/// platform gets it (later for batched uploads). <see cref="Artifact"/> marks an injected measurement error (ground truth).
/// </summary>
public readonly record struct CohortReading(DateTimeOffset Time, DateTimeOffset ReceivedAt, CohortDevice Device, string Measure, double Value, bool Artifact);

/// <summary>One hourly environment record of a zone (the environment topic's JSON fields).</summary>
public readonly record struct EnvironmentReading(string Zone, DateTimeOffset Time, double Pm25, double Pm10, double No2, double O3, double TemperatureC, double Humidity, int PollenIndex);
