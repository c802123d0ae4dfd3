namespace TeleSuivi.Server.Risk;

/// <summary>Online risk scoring (section <c>Risk</c>); see README "Risk model" → "Online scoring".</summary>
public sealed class RiskOptions
{
    public const string Section = "Risk";

    /// <summary>The model every server ships with, copied beside the executable.</summary>
    public const string ShippedModel = "models/exacerbation-72h-v4.zip";

    /// <summary>
    /// True: scoring must run, and a missing or incompatible model stops the start with a clear error. False: no
    /// scoring. Unset (the default): scoring runs when the model loads; otherwise it is off, with a warning in the log
    /// and in <c>/health/ready</c>'s details.
    /// </summary>
    public bool? Enabled { get; set; }

    /// <summary>The ML.NET model file (<c>telesuivi train --out</c>); a relative path is taken from the executable's folder first, then from the current folder.</summary>
    public string ModelPath { get; set; } = ShippedModel;

    /// <summary>A patient is re-scored at most this often after new readings (the first reading after a quiet spell is scored at once).</summary>
    public TimeSpan MinRescoreInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A zone's patients are re-scored at most this often after environment updates.</summary>
    public TimeSpan ZoneRescoreInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The local time of the territory (IANA id): days of the features and the daily score run midnight to midnight
    /// of its standard time, as in training (the cohort's days are a fixed UTC offset, so summer time is not followed).
    /// </summary>
    public string TimeZone { get; set; } = "Europe/Paris";

    /// <summary>Severity (1–4) of the primary condition when the Patient does not record one (extension <see cref="Alerts.PatientInfo.SeverityExtensionUrl"/>).</summary>
    public int DefaultSeverity { get; set; } = 2;

    /// <summary>The age the model is given for a Patient without <c>birthDate</c> (the cohort's median age).</summary>
    public int DefaultAge { get; set; } = 72;

    /// <summary>Stored Observations waiting to be taken into the patients' features; when full, ingestion waits (nothing is dropped).</summary>
    public int ChannelCapacity { get; set; } = 10_000;

    /// <summary>Explanations (plain sentences) kept with each score.</summary>
    public int Reasons { get; set; } = 3;
}
