using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Risk.Features;

/// <summary>
/// The streaming environment state of one zone (shared by all its patients): 9 daily bins of every variable, in
/// fixed-point tenths like <see cref="PatientFeatureState"/> so that any arrival order gives the same features.
/// </summary>
public sealed class ZoneEnvironmentState
{
    public const int DayBins = 9;

    /// <summary>
    /// The level beyond which days are counted for the explanations ("PM2.5 above 25 µg/m³ for 3 days"), per variable
    /// in <see cref="EnvironmentVariable"/> order, and whether "beyond" is above (true) or below: WHO 2021 24-hour
    /// interim target 4 for PM2.5 (25 µg/m³) and PM10 (50), its 24-hour guideline for NO2 (25) and 8-hour guideline
    /// for ozone (100, used on daily means); a daily mean below 5 °C for cold; a pollen index of 3 of 5 or more.
    /// Humidity has none (NaN).
    /// </summary>
    public static readonly IReadOnlyList<(double Level, bool Above)> Levels =
        [(25, true), (50, true), (25, true), (100, true), (5, false), (double.NaN, true), (3, true)];
    private const double Scale = 10;
    private static readonly int VariableCount = Measures.Environment.Count;

    private readonly int[] sum = new int[VariableCount * DayBins];
    private readonly ushort[] count = new ushort[VariableCount * DayBins];
    private readonly int[] stamp = new int[DayBins];
    private readonly long utcOffsetTicks;

    public ZoneEnvironmentState(TimeSpan utcOffset)
    {
        utcOffsetTicks = utcOffset.Ticks;
        Array.Fill(stamp, int.MinValue);
    }

    public void Add(EnvironmentReading reading)
    {
        Add(EnvironmentVariable.Pm25, reading.Time, reading.Pm25);
        Add(EnvironmentVariable.Pm10, reading.Time, reading.Pm10);
        Add(EnvironmentVariable.No2, reading.Time, reading.No2);
        Add(EnvironmentVariable.O3, reading.Time, reading.O3);
        Add(EnvironmentVariable.TemperatureC, reading.Time, reading.TemperatureC);
        Add(EnvironmentVariable.Humidity, reading.Time, reading.Humidity);
        Add(EnvironmentVariable.PollenIndex, reading.Time, reading.PollenIndex);
    }

    /// <summary>One value of one variable (a missing field is simply not added).</summary>
    public void Add(EnvironmentVariable variable, DateTimeOffset time, double value)
    {
        if (!double.IsFinite(value))
        {
            return;
        }

        var day = DayIndex(time.UtcTicks);
        var slot = ((day % DayBins) + DayBins) % DayBins;
        if (stamp[slot] < day)
        {
            stamp[slot] = day;
            for (var k = 0; k < VariableCount; k++)
            {
                sum[(k * DayBins) + slot] = 0;
                count[(k * DayBins) + slot] = 0;
            }
        }
        else if (stamp[slot] > day)
        {
            return;
        }

        var v = (int)variable;
        sum[(v * DayBins) + slot] += (int)Math.Round(value * Scale, MidpointRounding.AwayFromZero);
        if (count[(v * DayBins) + slot] < ushort.MaxValue)
        {
            count[(v * DayBins) + slot]++;
        }
    }

    private int DayIndex(long ticks) => (int)((ticks + utcOffsetTicks) / TimeSpan.TicksPerDay);

    /// <summary>Writes the environment block of the feature vector as of <paramref name="at"/> (lag 0 = the current local day so far).</summary>
    public void Compute(DateTimeOffset at, Span<float> features)
    {
        var d = DayIndex(at.UtcTicks);
        for (var v = 0; v < VariableCount; v++)
        {
            var o = FeatureSchema.EnvironmentOffset(v);
            features[o] = (float)Mean(v, d, d, out _);
            features[o + 1] = (float)Mean(v, d - 2, d, out _);
            features[o + 2] = (float)Mean(v, d - 7, d, out var max);
            features[o + 3] = (float)max;
            if (features.Length >= FeatureSchema.VectorLength)
            {
                features[FeatureSchema.DaysBeyondLevelOffset(v)] = (float)DaysBeyondLevel(v, d);
            }
        }
    }

    /// <summary>Days in a row, ending today (or yesterday when today has no data yet), whose daily mean is beyond the variable's level; NaN when none.</summary>
    private double DaysBeyondLevel(int v, int today)
    {
        var (level, above) = Levels[v];
        var days = 0;
        for (var day = today; day > today - DayBins; day--)
        {
            var mean = Mean(v, day, day, out _);
            if (double.IsNaN(mean) && day == today)
            {
                continue;
            }

            if (double.IsNaN(mean) || double.IsNaN(level) || (above ? mean < level : mean >= level))
            {
                break;
            }

            days++;
        }

        return days == 0 ? double.NaN : days;
    }

    /// <summary>Mean of the daily means of days [from, to] that have data, and the largest daily mean.</summary>
    private double Mean(int v, int from, int to, out double max)
    {
        double total = 0;
        var days = 0;
        max = double.NaN;
        for (var day = from; day <= to; day++)
        {
            var slot = ((day % DayBins) + DayBins) % DayBins;
            var n = count[(v * DayBins) + slot];
            if (stamp[slot] != day || n == 0)
            {
                continue;
            }

            var mean = sum[(v * DayBins) + slot] / Scale / n;
            total += mean;
            days++;
            max = double.IsNaN(max) ? mean : Math.Max(max, mean);
        }

        return days == 0 ? double.NaN : total / days;
    }
}
