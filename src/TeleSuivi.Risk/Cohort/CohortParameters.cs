namespace TeleSuivi.Risk.Cohort;

/// <summary>
/// Every number of the synthetic cohort, in one place so an evaluation can shift them
/// (<c>CohortParameters.Default with { Exacerbation = ... }</c>). Each value, its source, and the choice made when
/// the literature gives a range are documented in <c>models/README.md</c>, "Synthetic cohort"; values marked
/// "assumption" there have no single published source.
/// </summary>
public sealed record CohortParameters
{
    public static CohortParameters Default { get; } = new();

    /// <summary>Number of patients.</summary>
    public int Patients { get; init; } = 1000;

    /// <summary>Simulated days of readings, from <see cref="Start"/>.</summary>
    public int Days { get; init; } = 365;

    /// <summary>First simulated day (midnight UTC).</summary>
    public DateOnly Start { get; init; } = new(2025, 1, 1);

    /// <summary>Local time offset of the territory (circadian rhythm and device schedules follow local time).</summary>
    public TimeSpan UtcOffset { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Days simulated before <see cref="Start"/> (events whose prodrome or recovery overlaps day 0) and after the end (label look-ahead).</summary>
    public int BurnInDays { get; init; } = 45;

    public int LookAheadDays { get; init; } = 7;

    public PopulationParameters Population { get; init; } = new();
    public PhysiologyParameters Physiology { get; init; } = new();
    public ExacerbationParameters Exacerbation { get; init; } = new();
    public ProdromeParameters Prodrome { get; init; } = new();
    public EnvironmentParameters Environment { get; init; } = new();
    public EnvironmentEffectParameters EnvironmentEffect { get; init; } = new();
    public MeasurementParameters Measurement { get; init; } = new();

    public DateTimeOffset StartTime => new(Start.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
}

/// <summary>Who the patients are.</summary>
public sealed record PopulationParameters
{
    /// <summary>Weights of the primary condition (programme mix: COPD, heart failure, diabetes, frail elderly).</summary>
    public IReadOnlyList<double> PrimaryConditionWeights { get; init; } = [0.35, 0.35, 0.18, 0.12];

    /// <summary>Probability of each further condition given the primary one: [primary, other] in Condition order.</summary>
    public double CopdGivenHeartFailure { get; init; } = 0.25;
    public double HeartFailureGivenCopd { get; init; } = 0.20;
    public double DiabetesGivenHeartFailure { get; init; } = 0.35;
    public double DiabetesGivenCopd { get; init; } = 0.15;
    public double HeartFailureGivenDiabetes { get; init; } = 0.15;

    /// <summary>Severity (1–4: GOLD grade for COPD, NYHA class for heart failure, 1–4 otherwise) distribution per condition.</summary>
    public IReadOnlyList<double> CopdSeverityWeights { get; init; } = [0.05, 0.40, 0.40, 0.15];
    public IReadOnlyList<double> HeartFailureSeverityWeights { get; init; } = [0.10, 0.45, 0.35, 0.10];
    public IReadOnlyList<double> OtherSeverityWeights { get; init; } = [0.30, 0.40, 0.20, 0.10];

    public double AgeMean { get; init; } = 72;
    public double AgeSd { get; init; } = 9;
    public int AgeMin { get; init; } = 40;
    public int AgeMax { get; init; } = 98;

    /// <summary>Frail elderly patients are at least this old.</summary>
    public int FrailMinAge { get; init; } = 75;

    public double MaleFraction { get; init; } = 0.55;

    /// <summary>The zones (postal codes) and their climate; patients are spread uniformly.</summary>
    public IReadOnlyList<ZoneClimate> Zones { get; init; } =
    [
        new("75011", 12.5, 7.5, 12, 28), new("69003", 12.5, 9.0, 13, 28), new("13005", 15.5, 8.5, 12, 30),
        new("59000", 11.0, 7.0, 12, 24), new("33000", 13.5, 7.5, 10, 22), new("31000", 13.5, 8.0, 10, 24),
        new("44000", 12.5, 6.5, 9, 20), new("67000", 11.0, 9.5, 13, 26), new("34000", 15.5, 8.5, 10, 24),
        new("35000", 12.0, 6.5, 9, 18), new("06000", 16.0, 7.5, 12, 30), new("76000", 11.0, 6.5, 11, 22),
    ];
}

/// <summary>Annual climate and background pollution of a zone (annual means, µg/m³).</summary>
public sealed record ZoneClimate(string Zone, double MeanTemperatureC, double SeasonalAmplitudeC, double Pm25Median, double No2Median);

/// <summary>Usual values of the population and their variation (between patients, day to day, by time of day).</summary>
public sealed record PhysiologyParameters
{
    // Between-patient spread of the usual value (SD), around a population mean.
    public double HeartRateMean { get; init; } = 76;
    public double HeartRateBetweenSd { get; init; } = 9;
    public double RespiratoryRateMean { get; init; } = 16;
    public double RespiratoryRateCopdExtra { get; init; } = 2.5;
    public double RespiratoryRateBetweenSd { get; init; } = 2;
    public double SpO2Mean { get; init; } = 96.5;
    public double SpO2CopdDropPerSeverity { get; init; } = 1.0;
    public double SpO2BetweenSd { get; init; } = 1.2;
    public double SystolicMean { get; init; } = 132;
    public double SystolicBetweenSd { get; init; } = 15;
    public double DiastolicMean { get; init; } = 76;
    public double DiastolicBetweenSd { get; init; } = 9;
    public double WeightMeanMale { get; init; } = 82;
    public double WeightMeanFemale { get; init; } = 69;
    public double WeightBetweenSd { get; init; } = 14;
    public double TemperatureMean { get; init; } = 36.6;
    public double TemperatureBetweenSd { get; init; } = 0.25;
    public double StepsMedian { get; init; } = 3500;
    public double StepsBetweenLogSd { get; init; } = 0.5;
    public double StepsDropPerSeverity { get; init; } = 0.15;
    public double GlucoseMeanDiabetes { get; init; } = 8.5;
    public double GlucoseMeanOther { get; init; } = 5.6;
    public double GlucoseBetweenSd { get; init; } = 1.2;

    // Day-to-day biological variation within a patient: AR(1) with this stationary SD and lag-1 correlation.
    public double HeartRateDaySd { get; init; } = 3.5;
    public double RespiratoryRateDaySd { get; init; } = 1.0;
    public double SpO2DaySd { get; init; } = 0.7;
    public double SystolicDaySd { get; init; } = 7;
    public double DiastolicDaySd { get; init; } = 4.5;
    public double WeightDaySd { get; init; } = 0.35;
    public double TemperatureDaySd { get; init; } = 0.15;
    public double StepsDayLogSd { get; init; } = 0.30;
    public double GlucoseDaySd { get; init; } = 1.0;
    public double DayToDayCorrelation { get; init; } = 0.6;

    // Circadian amplitude (half peak-to-trough) and local hour of the peak.
    public double HeartRateCircadianAmplitude { get; init; } = 5;
    public double HeartRatePeakHour { get; init; } = 16;
    public double SystolicCircadianAmplitude { get; init; } = 7;
    public double SystolicPeakHour { get; init; } = 10;
    public double TemperatureCircadianAmplitude { get; init; } = 0.3;
    public double TemperaturePeakHour { get; init; } = 18;
}

/// <summary>How often exacerbations happen, for whom, and how they unfold.</summary>
public sealed record ExacerbationParameters
{
    /// <summary>Mean events per patient-year, per condition (COPD, heart failure, diabetes, frail elderly).</summary>
    public IReadOnlyList<double> AnnualRate { get; init; } = [1.3, 0.7, 0.25, 0.5];

    /// <summary>Relative rate by severity 1–4, per condition (normalised so the cohort mean stays at <see cref="AnnualRate"/>).</summary>
    public IReadOnlyList<double> CopdSeverityRate { get; init; } = [0.6, 0.85, 1.34, 2.00];
    public IReadOnlyList<double> HeartFailureSeverityRate { get; init; } = [0.5, 0.8, 1.3, 2.0];
    public IReadOnlyList<double> OtherSeverityRate { get; init; } = [0.6, 0.9, 1.2, 1.6];

    /// <summary>Variance of the patient's gamma-distributed susceptibility (mean 1): the frequent-exacerbator phenotype.</summary>
    public double SusceptibilityVariance { get; init; } = 0.5;

    /// <summary>
    /// Share of the exacerbations of the year before enrolment that the programme records at enrolment (the history
    /// GOLD's assessment asks for: Hurst 2010, ECLIPSE: the best single predictor of exacerbations).
    /// </summary>
    public double PriorYearRecall { get; init; } = 1.0;

    /// <summary>
    /// Share of the patients whose enrolment records that history at all (assumption): the others have none recorded,
    /// so that a model meets the missing value in training as it will online.
    /// </summary>
    public double PriorYearRecordedFraction { get; init; } = 0.9;

    /// <summary>
    /// Temporal clustering (Hurst 2009): for <see cref="RecurrenceWindowDays"/> after a COPD exacerbation's onset the
    /// COPD hazard is multiplied by this ratio (1: no clustering).
    /// </summary>
    public double RecurrenceRateRatio { get; init; } = 1.75;
    public double RecurrenceWindowDays { get; init; } = 56;

    /// <summary>Amplitude of the winter (respiratory-virus) season on the hazard: ×(1 + A·cos(2π(doy − peak)/365)).</summary>
    public double VirusSeasonAmplitude { get; init; } = 0.15;
    public int VirusSeasonPeakDayOfYear { get; init; } = 15;

    /// <summary>Duration of an exacerbation after onset (log-normal: median days, SD of the log).</summary>
    public double DurationMedianDays { get; init; } = 7;
    public double DurationLogSd { get; init; } = 0.5;

    /// <summary>Probability that an exacerbation needs hospital care (no readings for the first half of its duration).</summary>
    public double HospitalisationProbability { get; init; } = 0.25;

    /// <summary>Self-resolving flares per true event (same hazard), their prodrome and total length in days.</summary>
    public double FlaresPerEvent { get; init; } = 1.0;
    public double FlareProdromeMinDays { get; init; } = 0.5;
    public double FlareProdromeMaxDays { get; init; } = 2;
    public double FlareDurationMinDays { get; init; } = 1;
    public double FlareDurationMaxDays { get; init; } = 3;
}

/// <summary>The vital-sign changes before and during an event.</summary>
public sealed record ProdromeParameters
{
    /// <summary>Fraction of events with a sudden onset (prodrome under one day).</summary>
    public double SuddenFraction { get; init; } = 0.5;

    /// <summary>Gradual onsets: prodrome length, log-normal (median days, SD of log), limited to [1, MaxDays].</summary>
    public double GradualMedianDays { get; init; } = 4;
    public double GradualLogSd { get; init; } = 0.5;
    public double GradualMaxDays { get; init; } = 14;

    /// <summary>Fraction of events with no telemonitoring signal at all.</summary>
    public double NoSignalFraction { get; init; } = 0.20;

    /// <summary>Event-to-event variation of the size of the changes: log-normal around 1 with this SD of log.</summary>
    public double SignalScaleLogSd { get; init; } = 0.45;

    /// <summary>Shift at onset for a signal scale of 1, per condition.</summary>
    public VitalShift Copd { get; init; } = new(HeartRate: 6.5, RespiratoryRate: 3, SpO2: -1.5, StepsFraction: -0.125, TemperatureC: 0.2, GlucoseMmolL: 0);
    public VitalShift HeartFailure { get; init; } = new(HeartRate: 5, RespiratoryRate: 2, SpO2: -1, StepsFraction: -0.125, TemperatureC: 0, GlucoseMmolL: 0);
    public VitalShift Diabetes { get; init; } = new(HeartRate: 4, RespiratoryRate: 1, SpO2: 0, StepsFraction: -0.10, TemperatureC: 0.2, GlucoseMmolL: 3);
    public VitalShift FrailElderly { get; init; } = new(HeartRate: 5, RespiratoryRate: 2, SpO2: -1, StepsFraction: -0.15, TemperatureC: 0.4, GlucoseMmolL: 0);

    /// <summary>Heart failure: weight gained by onset (normal: mean, SD; at least 0.3 kg) over a uniform 7–30-day build-up, convex (most in the last week).</summary>
    public double WeightGainMeanKg { get; init; } = 2.0;
    public double WeightGainSdKg { get; init; } = 0.8;
    public double WeightProdromeMinDays { get; init; } = 7;
    public double WeightProdromeMaxDays { get; init; } = 30;
    public double WeightBuildUpExponent { get; init; } = 2;

    /// <summary>Fraction of the duration at the peak shift before the linear return to baseline.</summary>
    public double PlateauFraction { get; init; } = 0.4;

    public VitalShift For(Condition condition) => condition switch
    {
        Condition.Copd => Copd,
        Condition.HeartFailure => HeartFailure,
        Condition.Diabetes => Diabetes,
        _ => FrailElderly,
    };
}

/// <summary>A change of vitals at onset (steps as a fraction of the usual count).</summary>
public sealed record VitalShift(double HeartRate, double RespiratoryRate, double SpO2, double StepsFraction, double TemperatureC, double GlucoseMmolL);

/// <summary>Weather and air quality per zone.</summary>
public sealed record EnvironmentParameters
{
    /// <summary>Day of year of the warmest day.</summary>
    public int WarmestDayOfYear { get; init; } = 200;

    /// <summary>Daily temperature anomaly: AR(1) stationary SD and lag-1 correlation.</summary>
    public double TemperatureAnomalySd { get; init; } = 2.8;
    public double TemperatureAnomalyCorrelation { get; init; } = 0.75;

    /// <summary>Heat waves (June–August) and cold spells (December–February): start probability per eligible day, length, intensity.</summary>
    public double HeatWaveStartPerDay { get; init; } = 0.012;
    public double ColdSpellStartPerDay { get; init; } = 0.012;
    public int SpellMinDays { get; init; } = 3;
    public int SpellMaxDays { get; init; } = 9;
    public double SpellMinIntensityC { get; init; } = 5;
    public double SpellMaxIntensityC { get; init; } = 9;

    /// <summary>PM2.5: log-scale winter excess, AR(1) SD of log and correlation; pollution episodes.</summary>
    public double Pm25WinterLogExcess { get; init; } = 0.25;
    public double Pm25LogSd { get; init; } = 0.45;
    public double Pm25Correlation { get; init; } = 0.7;
    public double EpisodeStartPerDay { get; init; } = 0.012;
    public int EpisodeMinDays { get; init; } = 2;
    public int EpisodeMaxDays { get; init; } = 6;
    public double EpisodeMinFactor { get; init; } = 2;
    public double EpisodeMaxFactor { get; init; } = 3.5;

    /// <summary>PM10 / PM2.5 ratio.</summary>
    public double Pm10Ratio { get; init; } = 1.6;

    /// <summary>NO2 weekend reduction.</summary>
    public double No2WeekendFactor { get; init; } = 0.8;

    /// <summary>O3 (µg/m³) = base + slope × max(0, T − 15 °C) + noise.</summary>
    public double O3Base { get; init; } = 50;
    public double O3PerDegreeAbove15 { get; init; } = 3.5;

    /// <summary>Pollen seasons (tree and grass peaks, day of year) and their width (SD, days).</summary>
    public int TreePollenPeakDayOfYear { get; init; } = 105;
    public int GrassPollenPeakDayOfYear { get; init; } = 155;
    public double PollenSeasonSdDays { get; init; } = 18;
}

/// <summary>How the environment changes the hazard of an event (log-linear, over a distributed lag of 0–7 days).</summary>
public sealed record EnvironmentEffectParameters
{
    /// <summary>Percent increase of the hazard per 10 µg/m³ (lag-weighted exposure).</summary>
    public double Pm25PercentPer10 { get; init; } = 2.5;

    /// <summary>Default 0: PM10 is collinear with PM2.5 and single-pollutant estimates are not additive.</summary>
    public double Pm10PercentPer10 { get; init; }
    public double No2PercentPer10 { get; init; } = 2.0;
    public double O3PercentPer10 { get; init; } = 1.5;

    /// <summary>Percent increase per °C of lag 0–7 mean temperature below <see cref="ColdThresholdC"/>.</summary>
    public double ColdPercentPerDegree { get; init; } = 5;
    public double ColdThresholdC { get; init; } = 15;

    /// <summary>Percent increase per °C of lag 0–2 mean temperature above <see cref="HeatThresholdC"/>.</summary>
    public double HeatPercentPerDegree { get; init; } = 3;
    public double HeatThresholdC { get; init; } = 24;

    /// <summary>Percent per pollen index point (0: pollen is generated but does not drive COPD or heart-failure events).</summary>
    public double PollenPercentPerPoint { get; init; }

    /// <summary>Lag weights of pollutants for lags 0..7 days (normalised).</summary>
    public IReadOnlyList<double> PollutantLagWeights { get; init; } = [0.25, 0.25, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05];

    /// <summary>Scale of all environmental log-effects per condition (COPD, heart failure, diabetes, frail elderly).</summary>
    public IReadOnlyList<double> ConditionSensitivity { get; init; } = [1.0, 0.8, 0.3, 0.5];
}

/// <summary>Devices, adherence, noise and errors.</summary>
public sealed record MeasurementParameters
{
    /// <summary>Per-patient adherence (probability of measuring on a given day), Beta with this mean and concentration.</summary>
    public double AdherenceMean { get; init; } = 0.85;
    public double AdherenceConcentration { get; init; } = 8;

    /// <summary>Wearables (activity tracker, sleep sensor): probability per day that a wearing gap starts, mean gap length.</summary>
    public double WearGapStartPerDay { get; init; } = 0.02;
    public double WearGapMeanDays { get; init; } = 4;

    /// <summary>All devices: probability per day of an absence (holiday, stay elsewhere) and its length.</summary>
    public double AbsenceStartPerDay { get; init; } = 0.003;
    public int AbsenceMinDays { get; init; } = 4;
    public int AbsenceMaxDays { get; init; } = 14;

    /// <summary>Multiplier of the daily miss probability while acutely ill at home.</summary>
    public double IllMissFactor { get; init; } = 2;

    /// <summary>Probability that a device-day is uploaded late as a batch, and the maximum delay in hours.</summary>
    public double LateBatchProbability { get; init; } = 0.08;
    public double LateBatchMaxHours { get; init; } = 72;

    /// <summary>Probability that a reading is a measurement error (motion artefact, clothes on the scale, cuff misplaced...).</summary>
    public double ArtifactProbability { get; init; } = 0.01;

    /// <summary>Device measurement noise (SD, canonical units; steps as a fraction).</summary>
    public double HeartRateNoise { get; init; } = 3;
    public double RespiratoryRateNoise { get; init; } = 1;
    public double SpO2Noise { get; init; } = 1;
    public double SystolicNoise { get; init; } = 5;
    public double DiastolicNoise { get; init; } = 4;
    public double WeightNoise { get; init; } = 0.2;
    public double TemperatureNoise { get; init; } = 0.15;
    public double StepsNoiseFraction { get; init; } = 0.08;
    public double GlucoseNoiseFraction { get; init; } = 0.07;

    /// <summary>Probability a patient with the condition has each optional device (the core devices always).</summary>
    public double OptionalDeviceProbability { get; init; } = 0.6;
}
