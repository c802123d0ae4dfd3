namespace TeleSuivi.Risk.Cohort;

/// <summary>
/// One patient of a <see cref="SyntheticCohort"/>: the profile, the ground-truth events (exacerbations and flares,
/// including those whose prodrome or recovery overlaps the span, and those up to the look-ahead after it), and the
/// readings, generated day by day when enumerated.
/// </summary>
public sealed class CohortPatient
{
    private const ulong ReadingPurpose = 0xC3;

    private readonly SyntheticCohort cohort;

    internal CohortPatient(SyntheticCohort cohort, PatientProfile profile, IReadOnlyList<CohortEvent> events)
    {
        this.cohort = cohort;
        Profile = profile;
        Events = events;
    }

    public PatientProfile Profile { get; }

    /// <summary>Exacerbations and flares, by onset.</summary>
    public IReadOnlyList<CohortEvent> Events { get; }

    /// <summary>
    /// The readings of days 0 to Days − 1, ordered by measurement time (<see cref="CohortReading.ReceivedAt"/> is later
    /// for late batches). Each enumeration starts over and yields the same readings.
    /// </summary>
    public IEnumerable<CohortReading> Readings()
    {
        var generator = new ReadingGenerator(cohort.Parameters, Profile, Events, new Rng(cohort.Seed, ReadingPurpose, (ulong)Profile.Index));
        var buffer = new List<CohortReading>(32);
        for (var day = 0; day < cohort.Parameters.Days; day++)
        {
            buffer.Clear();
            generator.Day(day, buffer);
            foreach (var reading in buffer)
            {
                yield return reading;
            }
        }
    }

    /// <summary>The vital-sign shift the events cause at a time (ground truth, before noise): for tests and explanations.</summary>
    public VitalShift ShiftAt(DateTimeOffset time, out double weightKg) =>
        ReadingGenerator.Shift(cohort.Parameters.Prodrome, Events, time, out weightKg);

    /// <summary>Whether the patient is in hospital (no readings) at a time.</summary>
    public bool InHospital(DateTimeOffset time) => ReadingGenerator.InHospital(Events, time);

    /// <summary>
    /// The value of one of the cohort's <see cref="Measures.Patient"/> that a reading taken at any time would show:
    /// baseline, circadian rhythm, the events' shift (prodromes, exacerbations, flares), a day-to-day variation shared
    /// by the readings of a local day, and device noise; unrounded, no artifacts. For the live device simulator, which
    /// reads on its own schedule. Deterministic (same time, same value) and independent of <see cref="Readings"/>,
    /// whose output it leaves unchanged; the day-to-day variation is drawn afresh each day rather than correlated.
    /// </summary>
    public double ValueAt(string measure, DateTimeOffset time) =>
        ReadingGenerator.ValueAt(cohort.Parameters, Profile, Events, cohort.Seed, measure, time);
}

/// <summary>The day-by-day state machine of one patient's readings.</summary>
internal sealed class ReadingGenerator(CohortParameters parameters, PatientProfile profile, IReadOnlyList<CohortEvent> events, Rng rng)
{
    private const int AnomalyCount = 9;
    private readonly double[] anomaly = new double[AnomalyCount];
    private readonly int[] wearGapLeft = new int[Enum.GetValues<CohortDevice>().Length];
    private int absenceLeft;
    private bool initialised;

    private enum A
    {
        HeartRate,
        RespiratoryRate,
        SpO2,
        Systolic,
        Diastolic,
        Weight,
        Temperature,
        StepsLog,
        Glucose,
    }

    public void Day(int day, List<CohortReading> output)
    {
        var phys = parameters.Physiology;
        var m = parameters.Measurement;
        Span<double> sd =
        [
            phys.HeartRateDaySd, phys.RespiratoryRateDaySd, phys.SpO2DaySd, phys.SystolicDaySd, phys.DiastolicDaySd,
            phys.WeightDaySd, phys.TemperatureDaySd, phys.StepsDayLogSd, phys.GlucoseDaySd,
        ];
        var rho = phys.DayToDayCorrelation;
        for (var i = 0; i < AnomalyCount; i++)
        {
            anomaly[i] = initialised ? (rho * anomaly[i]) + rng.Normal(0, sd[i] * Math.Sqrt(1 - (rho * rho))) : rng.Normal(0, sd[i]);
        }

        initialised = true;
        var absenceDraw = rng.NextDouble();
        var absenceLength = rng.Int(m.AbsenceMinDays, m.AbsenceMaxDays);
        if (absenceLeft == 0 && absenceDraw < m.AbsenceStartPerDay)
        {
            absenceLeft = absenceLength;
        }

        var absent = absenceLeft > 0;
        if (absenceLeft > 0)
        {
            absenceLeft--;
        }

        var dayStart = parameters.StartTime.AddDays(day);
        var localMidnight = dayStart - parameters.UtcOffset;
        foreach (var device in profile.Devices)
        {
            // Every draw happens whatever the outcome, so one day's decisions never shift the next day's numbers.
            var gapDraw = rng.NextDouble();
            var gapLength = 1 + (int)(-Math.Log(1 - rng.NextDouble()) * (m.WearGapMeanDays - 1));
            var missDraw = rng.NextDouble();
            var lateDraw = rng.NextDouble();
            var lateHours = rng.Uniform(2, m.LateBatchMaxHours);
            var wearable = device is CohortDevice.ActivityTracker or CohortDevice.SleepSensor;
            if (wearable && wearGapLeft[(int)device] == 0 && gapDraw < m.WearGapStartPerDay)
            {
                wearGapLeft[(int)device] = gapLength;
            }

            var inGap = wearGapLeft[(int)device] > 0;
            if (inGap)
            {
                wearGapLeft[(int)device]--;
            }

            var noon = localMidnight.AddHours(12);
            var ill = Shift(parameters.Prodrome, events, noon, out _) is var s && (s.HeartRate != 0 || s.StepsFraction != 0);
            var miss = 1 - profile.Adherence;
            if (ill)
            {
                miss = Math.Min(0.95, miss * m.IllMissFactor);
            }

            var late = lateDraw < m.LateBatchProbability;
            foreach (var hour in Schedule(device))
            {
                var jitter = rng.Normal(0, 0.4);
                var optionalDraw = rng.NextDouble();
                if (absent || inGap || missDraw < miss || (hour.Probability < 1 && optionalDraw >= hour.Probability))
                {
                    continue;
                }

                var time = localMidnight.AddHours(Math.Clamp(hour.Hour + (hour.Jitter ? jitter : 0), 0, 23.99));
                time = new DateTimeOffset(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
                if (InHospital(events, time))
                {
                    continue;
                }

                var received = late ? time.AddHours(lateHours) : time.AddSeconds(rng.Uniform(5, 600));
                Measure(device, time, received, localMidnight, output);
            }
        }

        output.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : string.CompareOrdinal(a.Measure, b.Measure));
    }

    private readonly record struct Slot(double Hour, double Probability, bool Jitter = true);

    private static Slot[] Schedule(CohortDevice device) => device switch
    {
        CohortDevice.PulseOximeter => [new(9, 1), new(18, 0.6)],
        CohortDevice.BloodPressureMonitor => [new(8, 1), new(20, 0.7)],
        CohortDevice.Scale => [new(7.5, 1)],
        CohortDevice.Thermometer => [new(8.5, 1)],
        CohortDevice.ActivityTracker => [new(23.5, 1, Jitter: false)],
        CohortDevice.SleepSensor => [new(6.5, 1)],
        CohortDevice.Glucometer => [new(7, 1), new(12.5, 0.7), new(19.5, 0.7)],
        _ => [],
    };

    private void Measure(CohortDevice device, DateTimeOffset time, DateTimeOffset received, DateTimeOffset localMidnight, List<CohortReading> output)
    {
        var b = profile.Baseline;
        var phys = parameters.Physiology;
        var noise = parameters.Measurement;
        var hour = (time - localMidnight).TotalHours;
        var shift = Shift(parameters.Prodrome, events, time, out var weightShift);
        double Circadian(double amplitude, double peak) => CircadianAt(amplitude, peak, hour);
        var heartRate = b.HeartRate + anomaly[(int)A.HeartRate] + shift.HeartRate;
        void Add(string measure, double value, double artifactValue)
        {
            var artifact = rng.Chance(noise.ArtifactProbability);
            output.Add(new CohortReading(time, received, device, measure, artifact ? artifactValue : value, artifact));
        }

        switch (device)
        {
            case CohortDevice.PulseOximeter:
                Add(Measures.OxygenSaturation, Math.Min(100, Math.Round(b.SpO2 + anomaly[(int)A.SpO2] + shift.SpO2 + rng.Normal(0, noise.SpO2Noise))), Math.Round(rng.Uniform(78, 88)));
                Add(Measures.HeartRate, Math.Round(heartRate + Circadian(phys.HeartRateCircadianAmplitude, phys.HeartRatePeakHour) + rng.Normal(0, noise.HeartRateNoise)), Math.Round(rng.Uniform(35, 160)));
                break;
            case CohortDevice.BloodPressureMonitor:
                var sys = b.Systolic + anomaly[(int)A.Systolic] + Circadian(phys.SystolicCircadianAmplitude, phys.SystolicPeakHour) + rng.Normal(0, noise.SystolicNoise);
                var dia = b.Diastolic + anomaly[(int)A.Diastolic] + (0.6 * Circadian(phys.SystolicCircadianAmplitude, phys.SystolicPeakHour)) + rng.Normal(0, noise.DiastolicNoise);
                Add(Measures.Systolic, Math.Round(sys), Math.Round(sys + rng.Uniform(20, 40)));
                Add(Measures.Diastolic, Math.Round(Math.Min(dia, sys - 15)), Math.Round(dia + rng.Uniform(10, 25)));
                Add(Measures.HeartRate, Math.Round(heartRate + Circadian(phys.HeartRateCircadianAmplitude, phys.HeartRatePeakHour) + rng.Normal(0, noise.HeartRateNoise)), Math.Round(heartRate * 1.5));
                break;
            case CohortDevice.Scale:
                var weight = b.WeightKg + anomaly[(int)A.Weight] + weightShift + rng.Normal(0, noise.WeightNoise);
                Add(Measures.BodyWeight, Math.Round(weight, 1), Math.Round(rng.Chance(0.5) ? weight + rng.Uniform(1, 3) : rng.Uniform(50, 100), 1));
                break;
            case CohortDevice.Thermometer:
                var temperature = b.TemperatureC + anomaly[(int)A.Temperature] + Circadian(phys.TemperatureCircadianAmplitude, phys.TemperaturePeakHour) + shift.TemperatureC + rng.Normal(0, noise.TemperatureNoise);
                Add(Measures.BodyTemperature, Math.Round(temperature, 1), Math.Round(temperature - rng.Uniform(1, 2.5), 1));
                break;
            case CohortDevice.ActivityTracker:
                var steps = b.StepsPerDay * Math.Exp(anomaly[(int)A.StepsLog]) * Math.Max(0.05, 1 + shift.StepsFraction) * Math.Exp(rng.Normal(0, noise.StepsNoiseFraction));
                Add(Measures.Steps, Math.Round(steps), Math.Round(steps * rng.Uniform(0, 0.1)));
                break;
            case CohortDevice.SleepSensor:
                Add(Measures.RespiratoryRate, Math.Round(b.RespiratoryRate + anomaly[(int)A.RespiratoryRate] + shift.RespiratoryRate + rng.Normal(0, noise.RespiratoryRateNoise), 1), Math.Round(rng.Uniform(6, 35), 1));
                Add(Measures.HeartRate, Math.Round(heartRate - 8 + rng.Normal(0, noise.HeartRateNoise / 2)), Math.Round(rng.Uniform(35, 140)));
                break;
            case CohortDevice.Glucometer:
                var glucose = (b.GlucoseMmolL + anomaly[(int)A.Glucose] + shift.GlucoseMmolL + (hour > 10 ? 1.5 : 0)) * Math.Exp(rng.Normal(0, noise.GlucoseNoiseFraction));
                Add(Measures.Glucose, Math.Round(Math.Clamp(glucose, 2.2, 33), 1), Math.Round(Math.Clamp(glucose * rng.Uniform(1.3, 1.8), 2.2, 33), 1));
                break;
            default:
                break;
        }
    }

    private const ulong LiveDayPurpose = 0xC4;
    private const ulong LiveNoisePurpose = 0xC5;

    private static double CircadianAt(double amplitude, double peak, double hour) => amplitude * Math.Cos(2 * Math.PI * (hour - peak) / 24);

    /// <summary>See <see cref="CohortPatient.ValueAt"/>: the composition of <see cref="Measure"/> without its reading state.</summary>
    internal static double ValueAt(CohortParameters parameters, PatientProfile profile, IReadOnlyList<CohortEvent> events, int seed, string measure, DateTimeOffset time)
    {
        var b = profile.Baseline;
        var phys = parameters.Physiology;
        var noise = parameters.Measurement;
        var local = time.ToOffset(parameters.UtcOffset);
        var hour = local.TimeOfDay.TotalHours;
        var dayNumber = (ulong)(local.Date - new DateTime(2000, 1, 1)).Days;
        var dayRng = new Rng(seed, LiveDayPurpose, (ulong)profile.Index, dayNumber);
        var noiseRng = new Rng(seed, LiveNoisePurpose, (ulong)profile.Index, (ulong)time.UtcTicks);
        double DayAnomaly(A which, double sd)
        {
            // One draw per anomaly in a fixed order, so each measure's variation is the same whichever is asked.
            var value = 0.0;
            for (var i = 0; i <= (int)which; i++)
            {
                value = dayRng.Normal();
            }

            return value * sd;
        }

        var shift = Shift(parameters.Prodrome, events, time, out var weightShift);
        var systolicCircadian = CircadianAt(phys.SystolicCircadianAmplitude, phys.SystolicPeakHour, hour);
        var systolic = b.Systolic + DayAnomaly(A.Systolic, phys.SystolicDaySd) + systolicCircadian + noiseRng.Normal(0, noise.SystolicNoise);
        return measure switch
        {
            Measures.HeartRate => b.HeartRate + DayAnomaly(A.HeartRate, phys.HeartRateDaySd) + shift.HeartRate
                + CircadianAt(phys.HeartRateCircadianAmplitude, phys.HeartRatePeakHour, hour) + noiseRng.Normal(0, noise.HeartRateNoise),
            Measures.RespiratoryRate => b.RespiratoryRate + DayAnomaly(A.RespiratoryRate, phys.RespiratoryRateDaySd) + shift.RespiratoryRate + noiseRng.Normal(0, noise.RespiratoryRateNoise),
            Measures.OxygenSaturation => Math.Min(100, b.SpO2 + DayAnomaly(A.SpO2, phys.SpO2DaySd) + shift.SpO2 + noiseRng.Normal(0, noise.SpO2Noise)),
            Measures.Systolic => systolic,
            Measures.Diastolic => Math.Min(systolic - 15, b.Diastolic + DayAnomaly(A.Diastolic, phys.DiastolicDaySd) + (0.6 * systolicCircadian) + noiseRng.Normal(0, noise.DiastolicNoise)),
            Measures.BodyWeight => b.WeightKg + DayAnomaly(A.Weight, phys.WeightDaySd) + weightShift + noiseRng.Normal(0, noise.WeightNoise),
            Measures.BodyTemperature => b.TemperatureC + DayAnomaly(A.Temperature, phys.TemperatureDaySd)
                + CircadianAt(phys.TemperatureCircadianAmplitude, phys.TemperaturePeakHour, hour) + shift.TemperatureC + noiseRng.Normal(0, noise.TemperatureNoise),
            Measures.Steps => b.StepsPerDay * Math.Exp(DayAnomaly(A.StepsLog, phys.StepsDayLogSd)) * Math.Max(0.05, 1 + shift.StepsFraction) * Math.Exp(noiseRng.Normal(0, noise.StepsNoiseFraction)),
            Measures.Glucose => Math.Clamp((b.GlucoseMmolL + DayAnomaly(A.Glucose, phys.GlucoseDaySd) + shift.GlucoseMmolL + (hour > 10 ? 1.5 : 0)) * Math.Exp(noiseRng.Normal(0, noise.GlucoseNoiseFraction)), 2.2, 33),
            _ => throw new ArgumentOutOfRangeException(nameof(measure), measure, "not a patient measure of the cohort"),
        };
    }

    /// <summary>The vital-sign shift of all events at a time (vitals scaled by each event's signal size) and the fluid weight.</summary>
    internal static VitalShift Shift(ProdromeParameters p, IReadOnlyList<CohortEvent> events, DateTimeOffset time, out double weightKg)
    {
        double hr = 0, rr = 0, spo2 = 0, steps = 0, temp = 0, glucose = 0;
        weightKg = 0;
        foreach (var e in events)
        {
            if (time < e.ProdromeStart)
            {
                continue;
            }

            var tau = (time - e.Onset).TotalDays;
            if (tau >= e.DurationDays)
            {
                continue;
            }

            var f = tau < 0
                ? (-tau > e.ProdromeDays ? 0 : e.ProdromeDays <= 0 ? 1 : (tau + e.ProdromeDays) / e.ProdromeDays)
                : tau < p.PlateauFraction * e.DurationDays ? 1 : 1 - ((tau - (p.PlateauFraction * e.DurationDays)) / ((1 - p.PlateauFraction) * e.DurationDays));
            f *= e.SignalScale;
            var v = p.For(e.Condition);
            hr += f * v.HeartRate;
            rr += f * v.RespiratoryRate;
            spo2 += f * v.SpO2;
            steps += f * v.StepsFraction;
            temp += f * v.TemperatureC;
            glucose += f * v.GlucoseMmolL;
            if (e.WeightGainKg > 0)
            {
                weightKg += e.WeightGainKg * (tau < 0
                    ? (-tau > e.WeightProdromeDays ? 0 : Math.Pow((tau + e.WeightProdromeDays) / e.WeightProdromeDays, p.WeightBuildUpExponent))
                    : 1 - (tau / e.DurationDays));
            }
        }

        return new VitalShift(hr, rr, spo2, Math.Max(-0.9, steps), temp, glucose);
    }

    internal static bool InHospital(IReadOnlyList<CohortEvent> events, DateTimeOffset time)
    {
        foreach (var e in events)
        {
            if (e.Hospitalised && time >= e.Onset && time < e.Onset + TimeSpan.FromDays(e.DurationDays / 2))
            {
                return true;
            }
        }

        return false;
    }
}
