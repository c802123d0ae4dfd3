using System.Collections.Frozen;
using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Risk.Features;

/// <summary>What the model knows of a patient besides readings.</summary>
/// <param name="PriorYearExacerbations">Exacerbations in the 12 months before enrolment, as recorded at enrolment; null when not recorded.</param>
public sealed record PatientFacts(int Age, Sex Sex, IReadOnlyList<Condition> Conditions, int Severity, int? PriorYearExacerbations = null)
{
    public static PatientFacts From(PatientProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return new(profile.Age, profile.Sex, profile.Conditions, profile.Severity, profile.PriorYearExacerbations);
    }
}

/// <summary>
/// The streaming feature state of one patient: the only code that turns readings into features, used online (one
/// <see cref="Add"/> per reading as it arrives, <see cref="Compute"/> whenever a score is wanted) and offline
/// (<see cref="FeatureExtractor"/> replays a history through it).
/// </summary>
/// <remarks>
/// Bounded memory: per measure, 72 hourly bins and 32 daily bins of (sum, count), in fixed-point tenths so that
/// sums are exact integers. Integer sums make the state a function of the *set* of readings received, whatever
/// their order (late batches, replays): online and offline agree bit for bit. A bin is reused when its hour or day
/// comes round again; a reading older than what its bin now holds is too old for that window and is ignored there.
/// </remarks>
public sealed class PatientFeatureState
{
    public const int HourBins = 72;
    public const int DayBins = 32;
    public const int BaselineFirstLag = 30;
    public const int BaselineLastLag = 3;
    public const int BaselineMinimumDays = 10;

    /// <summary>An onset within this many days counts as recent: 8 weeks after an episode of about a week (Hurst 2009).</summary>
    public const int RecentExacerbationDays = 63;

    /// <summary>The most recent onsets kept: far more than a year holds at any published rate.</summary>
    public const int HistoryCapacity = 32;

    private const double Scale = 10;
    private static readonly int MeasureCount = Measures.Patient.Count;
    private static readonly FrozenDictionary<string, int> MeasureIndex =
        Measures.Patient.Select((m, i) => (m, i)).ToFrozenDictionary(x => x.m, x => x.i, StringComparer.Ordinal);

    /// <summary>Smallest robust SD used for the deviation, per measure (the resolution of the devices).</summary>
    private static readonly double[] DeviationFloor = [2, 0.5, 0.5, 3, 2, 0.2, 0.1, 100, 0.3];

    private readonly int[] hourSum = new int[MeasureCount * HourBins];
    private readonly ushort[] hourCount = new ushort[MeasureCount * HourBins];
    private readonly int[] hourStamp = new int[HourBins];
    private readonly int[] daySum = new int[MeasureCount * DayBins];
    private readonly ushort[] dayCount = new ushort[MeasureCount * DayBins];
    private readonly int[] dayStamp = new int[DayBins];
    private readonly float[] last = new float[MeasureCount];
    private readonly long[] lastTicks = new long[MeasureCount];
    private readonly float[] facts;
    private readonly float priorYearExacerbations;
    private readonly long utcOffsetTicks;
    // Onset ticks in ascending order, allocated with the first (most patients have none): scoring allocates nothing.
    private long[]? exacerbationOnsets;
    private int exacerbationCount;
    private long lastAnyTicks;

    public PatientFeatureState(PatientFacts facts, TimeSpan utcOffset)
    {
        ArgumentNullException.ThrowIfNull(facts);
        utcOffsetTicks = utcOffset.Ticks;
        Array.Fill(hourStamp, int.MinValue);
        Array.Fill(dayStamp, int.MinValue);
        this.facts =
        [
            facts.Age, facts.Sex == Sex.Male ? 1 : 0,
            facts.Conditions.Contains(Condition.Copd) ? 1 : 0, facts.Conditions.Contains(Condition.HeartFailure) ? 1 : 0,
            facts.Conditions.Contains(Condition.Diabetes) ? 1 : 0, facts.Conditions.Contains(Condition.FrailElderly) ? 1 : 0,
            facts.Severity,
        ];
        priorYearExacerbations = facts.PriorYearExacerbations ?? float.NaN;
    }

    /// <summary>Takes one reading (any order). False when the measure is not a feature measure.</summary>
    public bool Add(string measure, DateTimeOffset time, double value)
    {
        if (!MeasureIndex.TryGetValue(measure, out var m) || !double.IsFinite(value))
        {
            return false;
        }

        var ticks = time.UtcTicks;
        var scaled = (int)Math.Round(value * Scale, MidpointRounding.AwayFromZero);
        if (ticks > lastTicks[m] || (ticks == lastTicks[m] && (float)value > last[m]))
        {
            lastTicks[m] = ticks;
            last[m] = (float)value;
        }

        lastAnyTicks = Math.Max(lastAnyTicks, ticks);
        Bin(hourSum, hourCount, hourStamp, HourBins, m, HourIndex(ticks), scaled);
        Bin(daySum, dayCount, dayStamp, DayBins, m, DayIndex(ticks), scaled);
        return true;
    }

    /// <summary>
    /// Records an exacerbation onset the programme knows of (any order; the same onset twice counts once). Only
    /// onsets before the scoring time count (<see cref="Compute"/>), so adding one early changes no earlier score.
    /// </summary>
    public void AddExacerbation(DateTimeOffset onset)
    {
        var ticks = onset.UtcTicks;
        var onsets = exacerbationOnsets ??= new long[HistoryCapacity];
        var at = Array.BinarySearch(onsets, 0, exacerbationCount, ticks);
        if (at >= 0)
        {
            return;
        }

        at = ~at;
        if (exacerbationCount == HistoryCapacity)
        {
            if (at == 0)
            {
                return;
            }

            // Full: the oldest onset makes room.
            Array.Copy(onsets, 1, onsets, 0, at - 1);
            onsets[at - 1] = ticks;
            return;
        }

        Array.Copy(onsets, at, onsets, at + 1, exacerbationCount - at);
        onsets[at] = ticks;
        exacerbationCount++;
    }

    private static void Bin(int[] sums, ushort[] counts, int[] stamps, int bins, int m, int index, int scaled)
    {
        var slot = ((index % bins) + bins) % bins;
        if (stamps[slot] < index)
        {
            stamps[slot] = index;
            for (var k = 0; k < MeasureCount; k++)
            {
                sums[(k * bins) + slot] = 0;
                counts[(k * bins) + slot] = 0;
            }
        }
        else if (stamps[slot] > index)
        {
            return;
        }

        sums[(m * bins) + slot] += scaled;
        if (counts[(m * bins) + slot] < ushort.MaxValue)
        {
            counts[(m * bins) + slot]++;
        }
    }

    private static int HourIndex(long ticks) => (int)(ticks / TimeSpan.TicksPerHour);

    private int DayIndex(long ticks) => (int)((ticks + utcOffsetTicks) / TimeSpan.TicksPerDay);

    /// <summary>
    /// Writes the features as of <paramref name="at"/> into <paramref name="features"/> (length <see cref="FeatureSchema.Count"/>,
    /// or <see cref="FeatureSchema.VectorLength"/> for the durations the explanations quote as well).
    /// Pure: it never changes the state, so scoring often or rarely gives the same numbers.
    /// </summary>
    public void Compute(DateTimeOffset at, ZoneEnvironmentState? environment, Span<float> features)
    {
        if (features.Length < FeatureSchema.Count)
        {
            throw new ArgumentException($"the feature vector has {FeatureSchema.Count} values", nameof(features));
        }

        facts.CopyTo(features);
        var explained = features.Length >= FeatureSchema.VectorLength;
        var ticks = at.UtcTicks;
        var h = HourIndex(ticks);
        var d = DayIndex(ticks);
        Span<double> window = stackalloc double[DayBins];
        for (var m = 0; m < MeasureCount; m++)
        {
            var o = FeatureSchema.MeasureOffset(m);
            var known = lastTicks[m] > 0 && lastTicks[m] <= ticks;
            features[o] = known ? last[m] : float.NaN;
            features[o + 1] = known ? (float)((ticks - lastTicks[m]) / (double)TimeSpan.TicksPerHour) : float.NaN;
            var mean24 = HourMean(m, h - 23, h);
            features[o + 2] = (float)mean24;

            var n = DailyMeans(m, d - BaselineFirstLag, d - BaselineLastLag, window);
            double median = double.NaN, mad = double.NaN;
            if (n >= BaselineMinimumDays)
            {
                median = Median(window[..n]);
                for (var i = 0; i < n; i++)
                {
                    window[i] = Math.Abs(window[i] - median);
                }

                mad = Median(window[..n]);
            }

            features[o + 3] = (float)median;
            features[o + 4] = (float)mad;
            var scale = Math.Max(1.4826 * mad, DeviationFloor[m]);
            features[o + 5] = (float)((mean24 - median) / scale);
            if (explained)
            {
                features[FeatureSchema.DeviationHoursOffset(m)] = (float)DeviationHours(m, ticks, h, mean24, median, scale);
            }

            features[o + 6] = (float)Slope(m, h, 24);
            features[o + 7] = (float)Slope(m, h, 72);

            var recent = DailyMeans(m, d - 6, d, window);
            features[o + 8] = (float)(recent >= 3 ? StandardDeviation(window[..recent]) : double.NaN);
            features[o + 9] = recent / 7f;
            var threeDaysBefore = DailyMeans(m, d - 3, d - 3, window) == 1 ? window[0] : double.NaN;
            features[o + 10] = (float)(known ? last[m] - threeDaysBefore : double.NaN);
            features[o + 11] = (float)((HourMean(m, h - 71, h) - median) / scale);
            var days = DailyMeans(m, d - 3, d, window);
            var furthest = double.NaN;
            for (var i = 0; i < days; i++)
            {
                var z = (window[i] - median) / scale;
                if (!(Math.Abs(z) <= Math.Abs(furthest)))
                {
                    furthest = z;
                }
            }

            features[o + 12] = (float)furthest;
        }

        Vitals(features);
        History(ticks, features);
        MissingData(h, d, features);

        var e = FeatureSchema.EnvironmentOffset(0);
        if (environment is null)
        {
            features.Slice(e, FeatureSchema.SeasonOffset - e).Fill(float.NaN);
            if (explained)
            {
                features.Slice(FeatureSchema.DaysBeyondLevelOffset(0), Measures.Environment.Count).Fill(float.NaN);
            }
        }
        else
        {
            environment.Compute(at, features);
        }

        var local = new DateTime(ticks + utcOffsetTicks, DateTimeKind.Unspecified);
        var angle = 2 * Math.PI * (local.DayOfYear - 1 + (local.TimeOfDay.TotalHours / 24)) / 365.25;
        features[FeatureSchema.SeasonOffset] = (float)Math.Sin(angle);
        features[FeatureSchema.SeasonOffset + 1] = (float)Math.Cos(angle);
        features[FeatureSchema.SeasonOffset + 2] = lastAnyTicks > 0 && lastAnyTicks <= ticks ? (float)((ticks - lastAnyTicks) / (double)TimeSpan.TicksPerHour) : float.NaN;
    }

    /// <summary>
    /// The vitals block: oriented deviations summed (each clipped to ±<see cref="VitalsClip"/> so one artefact does
    /// not make a prodrome) and the count of measures at least one robust SD off in the illness direction.
    /// </summary>
    private static void Vitals(Span<float> features)
    {
        double sum24 = 0, sum72 = 0;
        var deviating = 0;
        var any = false;
        for (var m = 0; m < MeasureCount; m++)
        {
            var direction = FeatureSchema.IllnessDirection[m];
            if (direction == 0)
            {
                continue;
            }

            var o = FeatureSchema.MeasureOffset(m);
            var z24 = direction * features[o + 5];
            var z72 = direction * features[o + 11];
            if (float.IsFinite(z24))
            {
                any = true;
                sum24 += Math.Clamp(z24, -VitalsClip, VitalsClip);
                deviating += z24 >= 1 ? 1 : 0;
            }

            if (float.IsFinite(z72))
            {
                any = true;
                sum72 += Math.Clamp(z72, -VitalsClip, VitalsClip);
            }
        }

        var v = FeatureSchema.VitalsOffset;
        features[v] = any ? (float)sum24 : float.NaN;
        features[v + 1] = any ? (float)sum72 : float.NaN;
        features[v + 2] = any ? deviating : float.NaN;
    }

    private const float VitalsClip = 4;

    private void History(long ticks, Span<float> features)
    {
        var year = ticks - (365 * TimeSpan.TicksPerDay);
        var count = 0;
        long latest = 0;
        for (var i = 0; i < exacerbationCount && exacerbationOnsets![i] < ticks; i++)
        {
            count += exacerbationOnsets[i] > year ? 1 : 0;
            latest = exacerbationOnsets[i];
        }

        var o = FeatureSchema.HistoryOffset;
        var days = latest == 0 ? double.NaN : (ticks - latest) / (double)TimeSpan.TicksPerDay;
        features[o] = count;
        features[o + 1] = (float)days;
        features[o + 2] = days <= RecentExacerbationDays ? 1 : 0;
        features[o + 3] = priorYearExacerbations;
    }

    private void MissingData(int h, int d, Span<float> features)
    {
        long last24 = 0;
        var silent = 0;
        Span<double> window = stackalloc double[DayBins];
        for (var m = 0; m < MeasureCount; m++)
        {
            long measure24 = 0;
            for (var slot = 0; slot < HourBins; slot++)
            {
                if (hourStamp[slot] > h - 24 && hourStamp[slot] <= h)
                {
                    measure24 += hourCount[(m * HourBins) + slot];
                }
            }

            last24 += measure24;
            silent += measure24 == 0 && DailyMeans(m, d - 6, d, window) > 0 ? 1 : 0;
        }

        var usual = 0;
        for (var day = d - BaselineFirstLag; day <= d - BaselineLastLag; day++)
        {
            var slot = ((day % DayBins) + DayBins) % DayBins;
            if (dayStamp[slot] != day)
            {
                continue;
            }

            var total = 0;
            for (var m = 0; m < MeasureCount; m++)
            {
                total += dayCount[(m * DayBins) + slot];
            }

            if (total > 0)
            {
                window[usual++] = total;
            }
        }

        var o = FeatureSchema.MissingDataOffset;
        features[o] = usual >= BaselineMinimumDays ? (float)(last24 / Median(window[..usual])) : float.NaN;
        features[o + 1] = silent;
    }

    private double HourMean(int m, int from, int to)
    {
        long sum = 0;
        long count = 0;
        for (var slot = 0; slot < HourBins; slot++)
        {
            var stamp = hourStamp[slot];
            if (stamp >= from && stamp <= to)
            {
                sum += hourSum[(m * HourBins) + slot];
                count += hourCount[(m * HourBins) + slot];
            }
        }

        return count == 0 ? double.NaN : sum / Scale / count;
    }

    /// <summary>
    /// How long the deviation of the last 24 h (at least one robust SD from the usual) has lasted: back from
    /// <paramref name="h"/>, the hours with readings whose mean stays at least half an SD on the same side, then, when the
    /// whole 72 h window does, the daily means before it. NaN when there is no deviation (or no usual value).
    /// </summary>
    private double DeviationHours(int m, long ticks, int h, double mean24, double median, double scale)
    {
        if (double.IsNaN(mean24) || double.IsNaN(median) || Math.Abs(mean24 - median) < scale)
        {
            return double.NaN;
        }

        var direction = Math.Sign(mean24 - median);
        bool Deviates(double mean) => (mean - median) * direction >= 0.5 * scale;
        long? start = null;
        for (var hour = h; hour > h - HourBins; hour--)
        {
            var slot = ((hour % HourBins) + HourBins) % HourBins;
            var count = hourCount[(m * HourBins) + slot];
            if (hourStamp[slot] != hour || count == 0)
            {
                continue;
            }

            if (!Deviates(hourSum[(m * HourBins) + slot] / Scale / count))
            {
                return start is { } s ? (ticks - s) / (double)TimeSpan.TicksPerHour : double.NaN;
            }

            start = hour * TimeSpan.TicksPerHour;
        }

        // Deviating over the whole hourly window: the days before it say since when.
        Span<double> mean = stackalloc double[1];
        for (var day = DayIndex((h - HourBins + 1) * TimeSpan.TicksPerHour) - 1; day > DayIndex(ticks) - DayBins; day--)
        {
            if (DailyMeans(m, day, day, mean) == 0)
            {
                continue;
            }

            if (!Deviates(mean[0]))
            {
                break;
            }

            start = (day * TimeSpan.TicksPerDay) - utcOffsetTicks;
        }

        return start is { } first ? (ticks - first) / (double)TimeSpan.TicksPerHour : double.NaN;
    }

    private double Slope(int m, int h, int hours)
    {
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (var stamp = h - hours + 1; stamp <= h; stamp++)
        {
            var slot = ((stamp % HourBins) + HourBins) % HourBins;
            var count = hourCount[(m * HourBins) + slot];
            if (hourStamp[slot] != stamp || count == 0)
            {
                continue;
            }

            var x = stamp - h;
            var y = hourSum[(m * HourBins) + slot] / Scale / count;
            n++;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }

        var denominator = (n * sxx) - (sx * sx);
        return n < 2 || denominator <= 0 ? double.NaN : ((n * sxy) - (sx * sy)) / denominator * 24;
    }

    /// <summary>Daily means of days [from, to] (local days) into <paramref name="into"/>, oldest first; returns how many.</summary>
    private int DailyMeans(int m, int from, int to, Span<double> into)
    {
        var n = 0;
        for (var day = from; day <= to; day++)
        {
            var slot = ((day % DayBins) + DayBins) % DayBins;
            var count = dayCount[(m * DayBins) + slot];
            if (dayStamp[slot] == day && count > 0)
            {
                into[n++] = daySum[(m * DayBins) + slot] / Scale / count;
            }
        }

        return n;
    }

    private static double Median(Span<double> values)
    {
        values.Sort();
        var n = values.Length;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }

    private static double StandardDeviation(ReadOnlySpan<double> values)
    {
        var mean = 0.0;
        foreach (var v in values)
        {
            mean += v;
        }

        mean /= values.Length;
        var ss = 0.0;
        foreach (var v in values)
        {
            ss += (v - mean) * (v - mean);
        }

        return Math.Sqrt(ss / (values.Length - 1));
    }
}
