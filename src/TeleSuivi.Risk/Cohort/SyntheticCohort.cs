namespace TeleSuivi.Risk.Cohort;

/// <summary>
/// A reproducible synthetic cohort of home-monitored chronic patients: profiles, ground-truth exacerbations and
/// flares, device readings, and each zone's environment. Streaming: <see cref="Patients"/> builds one patient at a
/// time and <see cref="CohortPatient.Readings"/> one day at a time, so 100,000 patients × 365 days never sit in
/// memory. Deterministic: the same parameters and seed give the same cohort, whatever is enumerated first.
/// </summary>
public sealed class SyntheticCohort
{
    private const ulong ProfilePurpose = 0xA1;
    private const ulong EventPurpose = 0xB2;
    private const ulong FlarePurpose = 0xB3;
    private const ulong ShapePurpose = 0xB4;
    private const ulong FlareShapePurpose = 0xB5;
    private const ulong PriorYearPurpose = 0xA2;

    private static readonly Condition[] AllConditions = Enum.GetValues<Condition>();

    // [condition][zone][day - FirstDay]: environment × season hazard multiplier, normalised to mean 1 over the readings span.
    private readonly double[][][] hazardMultiplier;
    private readonly double[] severityNormaliser;

    private SyntheticCohort(CohortParameters parameters, int seed)
    {
        Parameters = parameters;
        Seed = seed;
        Environment = new CohortEnvironment(parameters, seed);
        hazardMultiplier = new double[AllConditions.Length][][];
        severityNormaliser = new double[AllConditions.Length];
        foreach (var condition in AllConditions)
        {
            hazardMultiplier[(int)condition] = HazardMultipliers(condition);
            var weights = SeverityWeights(condition);
            var rates = SeverityRates(condition);
            severityNormaliser[(int)condition] = weights.Select((w, i) => w * rates[i]).Sum() / weights.Sum();
        }
    }

    public CohortParameters Parameters { get; }

    public int Seed { get; }

    public CohortEnvironment Environment { get; }

    public static SyntheticCohort Generate(CohortParameters parameters, int seed)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(parameters.Patients);
        ArgumentOutOfRangeException.ThrowIfLessThan(parameters.Days, 1);
        if (parameters.Population.Zones.Count == 0)
        {
            throw new ArgumentException("the cohort needs at least one zone", nameof(parameters));
        }

        return new SyntheticCohort(parameters, seed);
    }

    /// <summary>The patients, built one at a time as they are enumerated.</summary>
    public IEnumerable<CohortPatient> Patients
    {
        get
        {
            for (var i = 0; i < Parameters.Patients; i++)
            {
                yield return Patient(i);
            }
        }
    }

    /// <summary>Patient number <paramref name="index"/> (0-based), independent of the others.</summary>
    public CohortPatient Patient(int index)
    {
        var profile = BuildProfile(index);
        var events = BuildEvents(profile);
        return new CohortPatient(this, profile with { PriorYearExacerbations = PriorYearExacerbations(profile, events) }, events);
    }

    /// <summary>
    /// Ground truth: the patient's expected exacerbations per day on <paramref name="day"/> (condition, severity,
    /// susceptibility, season and the zone's environment up to that day, and the raised COPD hazard after a COPD
    /// exacerbation that began before the day ends), the hazard the events are drawn from.
    /// </summary>
    public double DailyHazard(CohortPatient patient, int day)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var profile = patient.Profile;
        var x = Parameters.Exacerbation;
        var zone = Environment.ZoneIndex(profile.Zone);
        var index = Math.Clamp(day - Environment.FirstDay, 0, Environment.DayCount - 1);
        var dayEnd = Parameters.StartTime.AddDays(day + 1);
        var recurrence = patient.Events.Any(e => e.Kind == EventKind.Exacerbation && e.Condition == Condition.Copd
            && e.Onset < dayEnd && e.Onset.AddDays(x.RecurrenceWindowDays) > dayEnd);
        return profile.Conditions.Sum(c => DailyRate(profile, c) * hazardMultiplier[(int)c][zone][index] * (c == Condition.Copd && recurrence ? x.RecurrenceRateRatio : 1));
    }

    /// <summary>
    /// The exacerbations of the year before enrolment (day 0) that the programme records: those simulated in the
    /// burn-in, and for the rest of that year a Poisson count at the patient's expected annual rate, each recorded
    /// with probability <see cref="ExacerbationParameters.PriorYearRecall"/>; none recorded for the patients outside
    /// <see cref="ExacerbationParameters.PriorYearRecordedFraction"/>. Drawn from a stream of its own, so that
    /// the rest of the cohort is the same as before this fact existed.
    /// </summary>
    private int? PriorYearExacerbations(PatientProfile profile, IReadOnlyList<CohortEvent> events)
    {
        var recall = Parameters.Exacerbation.PriorYearRecall;
        var rng = new Rng(Seed, PriorYearPurpose, (ulong)profile.Index);
        if (!rng.Chance(Parameters.Exacerbation.PriorYearRecordedFraction))
        {
            return null;
        }

        var yearBefore = Parameters.StartTime.AddDays(-365);
        var simulated = events.Count(e => e.Kind == EventKind.Exacerbation && e.Onset < Parameters.StartTime && e.Onset >= yearBefore && rng.Chance(recall));
        var unsimulatedDays = Math.Max(0, 365 - Parameters.BurnInDays);
        return simulated + rng.Poisson(ExpectedAnnualExacerbations(profile) * unsimulatedDays / 365.25 * recall);
    }

    /// <summary>
    /// The patient's expected exacerbations in an average year: the rates of their conditions, severity and
    /// susceptibility, with the excess of clustering that <see cref="DailyRate"/> takes out of the base rate.
    /// </summary>
    public double ExpectedAnnualExacerbations(PatientProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var x = Parameters.Exacerbation;
        return profile.Conditions.Sum(c => DailyRate(profile, c) * 365.25
            * (c == Condition.Copd ? 1 + ((x.RecurrenceRateRatio - 1) * x.AnnualRate[(int)c] * x.RecurrenceWindowDays / 365.25) : 1));
    }

    private double DailyRate(PatientProfile profile, Condition condition)
    {
        var x = Parameters.Exacerbation;
        var severity = condition == profile.Primary ? profile.Severity : 2;
        var rate = x.AnnualRate[(int)condition] * SeverityRates(condition)[severity - 1] / severityNormaliser[(int)condition] / 365.25 * profile.Susceptibility;

        // Clustering redistributes COPD events in time rather than adding them: the base rate is lowered by the
        // expected excess of an average patient (the share of a year spent in a recurrence window), approximately.
        return condition == Condition.Copd
            ? rate / (1 + ((x.RecurrenceRateRatio - 1) * x.AnnualRate[(int)condition] * x.RecurrenceWindowDays / 365.25))
            : rate;
    }

    /// <summary>The hazard multiplier (environment and season) of a condition in a zone on a day; mean 1 over the readings span.</summary>
    public double HazardMultiplier(Condition condition, string zone, int day) =>
        hazardMultiplier[(int)condition][Environment.ZoneIndex(zone)][Math.Clamp(day - Environment.FirstDay, 0, Environment.DayCount - 1)];

    private IReadOnlyList<double> SeverityWeights(Condition c) => c switch
    {
        Condition.Copd => Parameters.Population.CopdSeverityWeights,
        Condition.HeartFailure => Parameters.Population.HeartFailureSeverityWeights,
        _ => Parameters.Population.OtherSeverityWeights,
    };

    private IReadOnlyList<double> SeverityRates(Condition c) => c switch
    {
        Condition.Copd => Parameters.Exacerbation.CopdSeverityRate,
        Condition.HeartFailure => Parameters.Exacerbation.HeartFailureSeverityRate,
        _ => Parameters.Exacerbation.OtherSeverityRate,
    };

    private double[][] HazardMultipliers(Condition condition)
    {
        var effect = Parameters.EnvironmentEffect;
        var sensitivity = effect.ConditionSensitivity[(int)condition];
        var lagWeights = effect.PollutantLagWeights;
        var lagTotal = lagWeights.Sum();
        var env = Environment;
        var result = new double[Parameters.Population.Zones.Count][];
        double sum = 0;
        var count = 0;
        for (var z = 0; z < result.Length; z++)
        {
            var row = result[z] = new double[env.DayCount];
            for (var i = 0; i < env.DayCount; i++)
            {
                var day = env.FirstDay + i;
                double pm25 = 0, pm10 = 0, no2 = 0, o3 = 0, cold = 0, heat = 0;
                for (var lag = 0; lag < lagWeights.Count; lag++)
                {
                    var w = lagWeights[lag] / lagTotal;
                    pm25 += w * env.Daily(z, day - lag, EnvironmentVariable.Pm25);
                    pm10 += w * env.Daily(z, day - lag, EnvironmentVariable.Pm10);
                    no2 += w * env.Daily(z, day - lag, EnvironmentVariable.No2);
                    o3 += w * env.Daily(z, day - lag, EnvironmentVariable.O3);
                }

                for (var lag = 0; lag <= 7; lag++)
                {
                    cold += env.Daily(z, day - lag, EnvironmentVariable.TemperatureC) / 8;
                }

                for (var lag = 0; lag <= 2; lag++)
                {
                    heat += env.Daily(z, day - lag, EnvironmentVariable.TemperatureC) / 3;
                }

                var log = (Math.Log(1 + (effect.Pm25PercentPer10 / 100)) * pm25 / 10)
                    + (Math.Log(1 + (effect.Pm10PercentPer10 / 100)) * pm10 / 10)
                    + (Math.Log(1 + (effect.No2PercentPer10 / 100)) * no2 / 10)
                    + (Math.Log(1 + (effect.O3PercentPer10 / 100)) * o3 / 10)
                    + (Math.Log(1 + (effect.ColdPercentPerDegree / 100)) * Math.Max(0, effect.ColdThresholdC - cold))
                    + (Math.Log(1 + (effect.HeatPercentPerDegree / 100)) * Math.Max(0, heat - effect.HeatThresholdC))
                    + (Math.Log(1 + (effect.PollenPercentPerPoint / 100)) * env.Daily(z, day, EnvironmentVariable.PollenIndex));
                var doy = Parameters.Start.AddDays(day).DayOfYear;
                var season = 1 + (Parameters.Exacerbation.VirusSeasonAmplitude * Math.Cos(2 * Math.PI * (doy - Parameters.Exacerbation.VirusSeasonPeakDayOfYear) / 365.25));
                row[i] = Math.Exp(sensitivity * log) * season;
                if (day >= 0 && day < Parameters.Days)
                {
                    sum += row[i];
                    count++;
                }
            }
        }

        var mean = sum / count;
        foreach (var row in result)
        {
            for (var i = 0; i < row.Length; i++)
            {
                row[i] /= mean;
            }
        }

        return result;
    }

    private PatientProfile BuildProfile(int index)
    {
        var pop = Parameters.Population;
        var phys = Parameters.Physiology;
        var rng = new Rng(Seed, ProfilePurpose, (ulong)index);
        var primary = (Condition)rng.Pick(pop.PrimaryConditionWeights);
        var conditions = new List<Condition> { primary };
        void Maybe(Condition c, double p)
        {
            if (rng.Chance(p) && !conditions.Contains(c))
            {
                conditions.Add(c);
            }
        }

        var d1 = pop.HeartFailureGivenCopd;
        var d2 = pop.DiabetesGivenCopd;
        var d3 = pop.CopdGivenHeartFailure;
        var d4 = pop.DiabetesGivenHeartFailure;
        var d5 = pop.HeartFailureGivenDiabetes;
        switch (primary)
        {
            case Condition.Copd:
                Maybe(Condition.HeartFailure, d1);
                Maybe(Condition.Diabetes, d2);
                break;
            case Condition.HeartFailure:
                Maybe(Condition.Copd, d3);
                Maybe(Condition.Diabetes, d4);
                break;
            case Condition.Diabetes:
                Maybe(Condition.HeartFailure, d5);
                break;
            default:
                Maybe(Condition.HeartFailure, d1);
                Maybe(Condition.Diabetes, d2);
                break;
        }

        conditions.Sort();
        var severity = 1 + rng.Pick(SeverityWeights(primary));
        var minAge = primary == Condition.FrailElderly ? pop.FrailMinAge : pop.AgeMin;
        var age = (int)Math.Clamp(Math.Round(rng.Normal(pop.AgeMean + (primary == Condition.FrailElderly ? 10 : 0), pop.AgeSd)), minAge, pop.AgeMax);
        var sex = rng.Chance(pop.MaleFraction) ? Sex.Male : Sex.Female;
        var zone = pop.Zones[rng.Int(pop.Zones.Count)].Zone;

        var copd = conditions.Contains(Condition.Copd);
        var copdSeverity = copd ? (primary == Condition.Copd ? severity : 2) : 0;
        var hf = conditions.Contains(Condition.HeartFailure);
        var diabetes = conditions.Contains(Condition.Diabetes);
        var baseline = new PatientBaseline(
            HeartRate: Math.Round(rng.Normal(phys.HeartRateMean + (copd ? 2 * copdSeverity : 0), phys.HeartRateBetweenSd), 1),
            RespiratoryRate: Math.Round(Math.Max(11, rng.Normal(phys.RespiratoryRateMean + (copd ? phys.RespiratoryRateCopdExtra * copdSeverity / 2.5 : 0), phys.RespiratoryRateBetweenSd)), 1),
            SpO2: Math.Round(Math.Clamp(rng.Normal(phys.SpO2Mean - (copd ? phys.SpO2CopdDropPerSeverity * copdSeverity : 0) - (hf ? 0.5 : 0), phys.SpO2BetweenSd), 87, 99), 1),
            Systolic: Math.Round(rng.Normal(phys.SystolicMean - (hf && severity >= 3 ? 12 : 0), phys.SystolicBetweenSd)),
            Diastolic: Math.Round(rng.Normal(phys.DiastolicMean, phys.DiastolicBetweenSd)),
            WeightKg: Math.Round(Math.Max(38, rng.Normal(sex == Sex.Male ? phys.WeightMeanMale : phys.WeightMeanFemale, phys.WeightBetweenSd)), 1),
            TemperatureC: Math.Round(rng.Normal(phys.TemperatureMean, phys.TemperatureBetweenSd), 2),
            StepsPerDay: Math.Round(rng.LogNormal(phys.StepsMedian * Math.Pow(1 - phys.StepsDropPerSeverity, severity - 1) * (primary == Condition.FrailElderly ? 0.6 : 1), phys.StepsBetweenLogSd)),
            GlucoseMmolL: Math.Round(Math.Max(4, rng.Normal(diabetes ? phys.GlucoseMeanDiabetes : phys.GlucoseMeanOther, diabetes ? phys.GlucoseBetweenSd : 0.4)), 1));

        var optional = Parameters.Measurement.OptionalDeviceProbability;
        var devices = new SortedSet<CohortDevice>();
        foreach (var c in conditions)
        {
            switch (c)
            {
                case Condition.Copd:
                    devices.Add(CohortDevice.PulseOximeter);
                    devices.Add(CohortDevice.ActivityTracker);
                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.SleepSensor);
                    }

                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.Thermometer);
                    }

                    break;
                case Condition.HeartFailure:
                    devices.Add(CohortDevice.Scale);
                    devices.Add(CohortDevice.BloodPressureMonitor);
                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.PulseOximeter);
                    }

                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.ActivityTracker);
                    }

                    break;
                case Condition.Diabetes:
                    devices.Add(CohortDevice.Glucometer);
                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.BloodPressureMonitor);
                    }

                    break;
                default:
                    devices.Add(CohortDevice.ActivityTracker);
                    devices.Add(CohortDevice.BloodPressureMonitor);
                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.Thermometer);
                    }

                    if (rng.Chance(optional))
                    {
                        devices.Add(CohortDevice.PulseOximeter);
                    }

                    break;
            }
        }

        var m = Parameters.Measurement;
        var adherence = Math.Round(rng.Beta(m.AdherenceMean, m.AdherenceConcentration), 3);
        var variance = Parameters.Exacerbation.SusceptibilityVariance;
        var susceptibility = variance <= 0 ? 1 : Math.Round(rng.Gamma(1 / variance, variance), 3);
        return new PatientProfile(
            FormattableString.Invariant($"P{index + 1:D6}"), index, age, sex, zone, conditions, primary, severity, baseline, devices.ToList(), adherence, susceptibility, null);
    }

    private List<CohortEvent> BuildEvents(PatientProfile profile)
    {
        var x = Parameters.Exacerbation;
        var eventRng = new Rng(Seed, EventPurpose, (ulong)profile.Index);
        var flareRng = new Rng(Seed, FlarePurpose, (ulong)profile.Index);
        var start = Parameters.StartTime;
        var lastDay = Parameters.Days + Parameters.LookAheadDays;
        var zone = Environment.ZoneIndex(profile.Zone);
        var events = new List<CohortEvent>();
        var flares = new List<CohortEvent>();
        var busyUntil = DateTimeOffset.MinValue;
        var flareBusyUntil = DateTimeOffset.MinValue;
        Span<double> hazards = stackalloc double[AllConditions.Length];
        Span<double> flareHazards = stackalloc double[AllConditions.Length];
        Span<bool> has = stackalloc bool[AllConditions.Length];
        Span<double> rates = stackalloc double[AllConditions.Length];
        foreach (var c in profile.Conditions)
        {
            has[(int)c] = true;
            rates[(int)c] = DailyRate(profile, c);
        }

        var recurrenceUntil = DateTimeOffset.MinValue;
        for (var day = Environment.FirstDay; day < lastDay; day++)
        {
            var dayStart = start.AddDays(day);
            var total = 0.0;
            var flareTotal = 0.0;
            foreach (var c in AllConditions)
            {
                hazards[(int)c] = 0;
                flareHazards[(int)c] = 0;
                if (has[(int)c])
                {
                    var hazard = rates[(int)c] * hazardMultiplier[(int)c][zone][day - Environment.FirstDay];
                    flareHazards[(int)c] = hazard;
                    flareTotal += hazard;

                    // Temporal clustering (Hurst 2009): a high-risk period for a recurrent COPD exacerbation in the 8
                    // weeks after one. Flares keep the plain hazard: they are not exacerbations.
                    hazards[(int)c] = c == Condition.Copd && dayStart < recurrenceUntil ? hazard * x.RecurrenceRateRatio : hazard;
                    total += hazards[(int)c];
                }
            }

            // The same number of draws every day, and each event's shape from its own stream (patient, day): one
            // event's outcome never shifts the numbers of the next, so a shifted parameter changes only what it must.
            var draw = eventRng.NextDouble();
            var pick = eventRng.NextDouble() * total;
            var onset = dayStart.AddDays(eventRng.NextDouble());
            if (draw < 1 - Math.Exp(-total) && onset >= busyUntil)
            {
                var condition = PickCondition(hazards, pick);
                var shape = DrawShape(new Rng(Seed, ShapePurpose, (ulong)profile.Index, (ulong)(day - Environment.FirstDay)), EventKind.Exacerbation);
                var e = Build(profile, EventKind.Exacerbation, condition, onset, shape);
                events.Add(e);
                busyUntil = e.End;
                if (condition == Condition.Copd)
                {
                    recurrenceUntil = onset.AddDays(x.RecurrenceWindowDays);
                }
            }

            var flareDraw = flareRng.NextDouble();
            var flarePick = flareRng.NextDouble() * flareTotal;
            var flareOnset = dayStart.AddDays(flareRng.NextDouble());
            if (flareDraw < 1 - Math.Exp(-flareTotal * x.FlaresPerEvent) && flareOnset >= flareBusyUntil && flareOnset >= busyUntil)
            {
                var condition = PickCondition(flareHazards, flarePick);
                var flareShape = DrawShape(new Rng(Seed, FlareShapePurpose, (ulong)profile.Index, (ulong)(day - Environment.FirstDay)), EventKind.Flare);
                var f = Build(profile, EventKind.Flare, condition, flareOnset, flareShape);
                flares.Add(f);
                flareBusyUntil = f.End;
            }
        }

        events.AddRange(flares);
        events.Sort((a, b) => a.Onset.CompareTo(b.Onset));
        return events;
    }

    private static Condition PickCondition(ReadOnlySpan<double> hazards, double pick)
    {
        for (var i = 0; i < hazards.Length; i++)
        {
            pick -= hazards[i];
            if (pick < 0 && hazards[i] > 0)
            {
                return (Condition)i;
            }
        }

        for (var i = hazards.Length - 1; i >= 0; i--)
        {
            if (hazards[i] > 0)
            {
                return (Condition)i;
            }
        }

        return Condition.Copd;
    }

    private readonly record struct Shape(double Prodrome, double Duration, double Scale, double WeightDays, double WeightKg, bool Hospitalised);

    private Shape DrawShape(Rng rng, EventKind kind)
    {
        var x = Parameters.Exacerbation;
        var p = Parameters.Prodrome;
        var sudden = rng.Chance(p.SuddenFraction);
        var suddenLength = rng.NextDouble();
        var gradualLength = Math.Clamp(rng.LogNormal(p.GradualMedianDays, p.GradualLogSd), 1, p.GradualMaxDays);
        var noSignal = rng.Chance(p.NoSignalFraction);
        var scale = Math.Clamp(rng.LogNormal(1, p.SignalScaleLogSd), 0.25, 3);
        var duration = Math.Clamp(rng.LogNormal(x.DurationMedianDays, x.DurationLogSd), 2, 60);
        var weightDays = rng.Uniform(p.WeightProdromeMinDays, p.WeightProdromeMaxDays);
        var weightKg = Math.Max(0.3, rng.Normal(p.WeightGainMeanKg, p.WeightGainSdKg));
        var hospitalised = rng.Chance(x.HospitalisationProbability);
        var flareProdrome = rng.Uniform(x.FlareProdromeMinDays, x.FlareProdromeMaxDays);
        var flareDuration = rng.Uniform(x.FlareDurationMinDays, x.FlareDurationMaxDays);
        return kind == EventKind.Flare
            ? new Shape(flareProdrome, flareDuration, scale, 0, 0, false)
            : new Shape(sudden ? suddenLength : gradualLength, duration, noSignal ? 0 : scale, weightDays, noSignal ? 0 : weightKg, hospitalised);
    }

    private static CohortEvent Build(PatientProfile profile, EventKind kind, Condition condition, DateTimeOffset onset, Shape s)
    {
        var hf = condition == Condition.HeartFailure && kind == EventKind.Exacerbation;
        return new CohortEvent(
            profile.Id, kind, condition, onset, Math.Round(s.Prodrome, 3), Math.Round(s.Duration, 3), Math.Round(s.Scale, 3),
            hf ? Math.Round(s.WeightDays, 3) : 0, hf ? Math.Round(s.WeightKg, 2) : 0, s.Hospitalised);
    }
}
