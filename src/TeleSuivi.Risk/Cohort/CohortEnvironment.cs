namespace TeleSuivi.Risk.Cohort;

/// <summary>
/// Daily weather and air quality of every zone over the simulated span (burn-in and look-ahead included), and the
/// hourly records derived from them on demand. Small (zones × days × 7 numbers), so it is computed once up front.
/// </summary>
public sealed class CohortEnvironment
{
    private const ulong Purpose = 0xE7;
    private const ulong HourlyPurpose = 0xE8;
    private const int Variables = 7;

    private readonly CohortParameters parameters;
    private readonly int seed;
    private readonly float[][] daily; // per zone: (day + burnIn) * Variables + variable
    private readonly Dictionary<string, int> zoneIndex = new(StringComparer.Ordinal);

    internal CohortEnvironment(CohortParameters parameters, int seed)
    {
        this.parameters = parameters;
        this.seed = seed;
        FirstDay = -parameters.BurnInDays;
        DayCount = parameters.BurnInDays + parameters.Days + parameters.LookAheadDays;
        var zones = parameters.Population.Zones;
        daily = new float[zones.Count][];
        for (var z = 0; z < zones.Count; z++)
        {
            zoneIndex[zones[z].Zone] = z;
            daily[z] = GenerateZone(z, zones[z]);
        }
    }

    /// <summary>The first simulated day relative to the start (negative: burn-in).</summary>
    public int FirstDay { get; }

    public int DayCount { get; }

    public IReadOnlyList<string> Zones => parameters.Population.Zones.Select(z => z.Zone).ToList();

    /// <summary>Daily mean of a variable in a zone, <paramref name="day"/> relative to the start (0 = first day of readings).</summary>
    public double Daily(string zone, int day, EnvironmentVariable variable) => Daily(zoneIndex[zone], day, variable);

    internal double Daily(int zone, int day, EnvironmentVariable variable)
    {
        var d = Math.Clamp(day - FirstDay, 0, DayCount - 1);
        return daily[zone][(d * Variables) + (int)variable];
    }

    internal int ZoneIndex(string zone) => zoneIndex[zone];

    /// <summary>The 24 hourly records of a zone on a day (deterministic: the same whenever asked).</summary>
    public IEnumerable<EnvironmentReading> Hourly(string zone, int day)
    {
        var z = zoneIndex[zone];
        var rng = new Rng(seed, HourlyPurpose, (ulong)z, (ulong)(day - FirstDay));
        var dayStart = parameters.StartTime.AddDays(day);
        var offset = parameters.UtcOffset.TotalHours;
        for (var h = 0; h < 24; h++)
        {
            var local = h + offset;
            var t = Daily(z, day, EnvironmentVariable.TemperatureC) + (4 * Math.Cos(2 * Math.PI * (local - 15) / 24)) + rng.Normal(0, 0.4);
            var hum = Math.Clamp(Daily(z, day, EnvironmentVariable.Humidity) - (10 * Math.Cos(2 * Math.PI * (local - 15) / 24)) + rng.Normal(0, 2), 5, 100);
            var rush = 1 + (0.35 * (Math.Exp(-Math.Pow((local - 8) / 1.5, 2)) + Math.Exp(-Math.Pow((local - 18.5) / 1.5, 2)))) - 0.15;
            var no2 = Daily(z, day, EnvironmentVariable.No2) * rush * Math.Exp(rng.Normal(0, 0.1));
            var o3 = Daily(z, day, EnvironmentVariable.O3) * (1 + (0.4 * Math.Cos(2 * Math.PI * (local - 15) / 24))) * Math.Exp(rng.Normal(0, 0.08));
            var pmShape = (1 + (0.15 * Math.Cos(2 * Math.PI * (local - 21) / 24))) * Math.Exp(rng.Normal(0, 0.1));
            var pm25 = Daily(z, day, EnvironmentVariable.Pm25) * pmShape;
            var pm10 = Daily(z, day, EnvironmentVariable.Pm10) * pmShape;
            yield return new EnvironmentReading(
                zone, dayStart.AddHours(h), Math.Round(pm25, 1), Math.Round(pm10, 1), Math.Round(no2, 1), Math.Round(Math.Max(1, o3), 1),
                Math.Round(t, 1), Math.Round(hum), (int)Daily(z, day, EnvironmentVariable.PollenIndex));
        }
    }

    private float[] GenerateZone(int zoneNumber, ZoneClimate climate)
    {
        var p = parameters.Environment;
        var rng = new Rng(seed, Purpose, (ulong)zoneNumber);
        var values = new float[DayCount * Variables];
        double tempAnomaly = 0, pmAnomaly = 0;
        int spellLeft = 0, spellLength = 0, episodeLeft = 0;
        double spellIntensity = 0, episodeFactor = 1;
        var tempInnovation = p.TemperatureAnomalySd * Math.Sqrt(1 - (p.TemperatureAnomalyCorrelation * p.TemperatureAnomalyCorrelation));
        var pmInnovation = p.Pm25LogSd * Math.Sqrt(1 - (p.Pm25Correlation * p.Pm25Correlation));
        for (var i = 0; i < DayCount; i++)
        {
            var date = parameters.Start.AddDays(FirstDay + i);
            var doy = date.DayOfYear;
            var month = date.Month;
            tempAnomaly = (p.TemperatureAnomalyCorrelation * tempAnomaly) + rng.Normal(0, tempInnovation);
            pmAnomaly = (p.Pm25Correlation * pmAnomaly) + rng.Normal(0, pmInnovation);

            // Heat waves in June–August, cold spells in December–February: a triangular bump of a few days.
            var summer = month is >= 6 and <= 8;
            var winter = month is 12 or 1 or 2;
            var spellDraw = rng.NextDouble();
            var spellLengthDraw = rng.Int(p.SpellMinDays, p.SpellMaxDays);
            var spellIntensityDraw = rng.Uniform(p.SpellMinIntensityC, p.SpellMaxIntensityC);
            if (spellLeft == 0 && ((summer && spellDraw < p.HeatWaveStartPerDay) || (winter && spellDraw < p.ColdSpellStartPerDay)))
            {
                spellLength = spellLeft = spellLengthDraw;
                spellIntensity = summer ? spellIntensityDraw : -spellIntensityDraw;
            }

            var spell = 0.0;
            if (spellLeft > 0)
            {
                var k = spellLength - spellLeft + 0.5;
                spell = spellIntensity * (1 - Math.Abs((2 * k / spellLength) - 1) + 0.3) / 1.3;
                spellLeft--;
            }

            var seasonal = Math.Cos(2 * Math.PI * (doy - p.WarmestDayOfYear) / 365.25);
            var temperature = climate.MeanTemperatureC + (climate.SeasonalAmplitudeC * seasonal) + tempAnomaly + spell;
            var humidity = Math.Clamp(78 - (1.2 * (temperature - climate.MeanTemperatureC)) + rng.Normal(0, 7), 25, 100);

            // Particulate episodes (mostly winter and early spring: heating, stagnant air, spreading of fertiliser).
            var episodeDraw = rng.NextDouble();
            var episodeLengthDraw = rng.Int(p.EpisodeMinDays, p.EpisodeMaxDays);
            var episodeFactorDraw = rng.Uniform(p.EpisodeMinFactor, p.EpisodeMaxFactor);
            if (episodeLeft == 0 && month is (<= 4 or >= 11) && episodeDraw < p.EpisodeStartPerDay * 1.5)
            {
                episodeLeft = episodeLengthDraw;
                episodeFactor = episodeFactorDraw;
            }
            else if (episodeLeft == 0 && episodeDraw < p.EpisodeStartPerDay * 0.5)
            {
                episodeLeft = episodeLengthDraw;
                episodeFactor = episodeFactorDraw;
            }

            var episode = 1.0;
            if (episodeLeft > 0)
            {
                episode = episodeFactor;
                episodeLeft--;
            }

            var winterness = -seasonal; // +1 in mid-winter
            var pm25 = climate.Pm25Median * Math.Exp((p.Pm25WinterLogExcess * winterness) + pmAnomaly) * episode;
            var pm10 = pm25 * p.Pm10Ratio * Math.Exp(rng.Normal(0, 0.1));
            var weekend = date.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday ? p.No2WeekendFactor : 1.0;
            var no2 = climate.No2Median * Math.Exp((0.2 * winterness) + (0.5 * pmAnomaly) + rng.Normal(0, 0.2)) * weekend * Math.Sqrt(episode);
            var o3 = Math.Max(2, p.O3Base + (p.O3PerDegreeAbove15 * Math.Max(0, temperature - 15)) - (0.3 * (no2 - climate.No2Median)) + rng.Normal(0, 10));

            var pollenSeason = (4.5 * Math.Exp(-0.5 * Math.Pow((doy - p.TreePollenPeakDayOfYear) / p.PollenSeasonSdDays, 2)))
                + (4.5 * Math.Exp(-0.5 * Math.Pow((doy - p.GrassPollenPeakDayOfYear) / p.PollenSeasonSdDays, 2)));
            var pollen = Math.Clamp(Math.Round(pollenSeason * (humidity > 85 ? 0.5 : 1) * Math.Exp(rng.Normal(0, 0.3))), 0, 5);

            var row = i * Variables;
            values[row + (int)EnvironmentVariable.Pm25] = (float)Math.Round(pm25, 1);
            values[row + (int)EnvironmentVariable.Pm10] = (float)Math.Round(pm10, 1);
            values[row + (int)EnvironmentVariable.No2] = (float)Math.Round(no2, 1);
            values[row + (int)EnvironmentVariable.O3] = (float)Math.Round(o3, 1);
            values[row + (int)EnvironmentVariable.TemperatureC] = (float)Math.Round(temperature, 1);
            values[row + (int)EnvironmentVariable.Humidity] = (float)Math.Round(humidity);
            values[row + (int)EnvironmentVariable.PollenIndex] = (float)pollen;
        }

        return values;
    }
}
