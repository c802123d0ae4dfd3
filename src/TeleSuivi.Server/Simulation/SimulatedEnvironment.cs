using System.Globalization;
using System.Text;

namespace TeleSuivi.Server.Simulation;

/// <summary>
/// Hourly air-quality and weather of each zone, as a regional monitoring network would publish them: seasonal and
/// daily temperature cycles of a temperate climate, urban pollution with morning and evening traffic peaks, pollen
/// in spring and early summer. The exposure-driven physiology belongs to the risk model's cohort generator.
/// </summary>
public static class SimulatedEnvironment
{
    public static (string Topic, byte[] Payload) Encode(string zone, DateTimeOffset time, Random random)
    {
        var day = time.UtcDateTime.DayOfYear;
        var hour = time.UtcDateTime.Hour + 1; // Central European time
        var zoneOffset = (zone.GetHashCode(StringComparison.Ordinal) & 0xF) / 4.0; // zones differ by a few degrees
        var seasonal = 12.5 - (8.5 * Math.Cos(2 * Math.PI * (day - 15) / 365.0)); // coldest mid-January
        var temperature = seasonal + zoneOffset - (4 * Math.Cos(2 * Math.PI * (hour - 3) / 24.0)) + SimulatedCohort.Normal(random, 0, 1.2);
        var traffic = 1 + (0.5 * Math.Exp(-Math.Pow(hour - 8, 2) / 4)) + (0.4 * Math.Exp(-Math.Pow(hour - 18, 2) / 4));
        var winter = 1 + (0.4 * Math.Cos(2 * Math.PI * (day - 15) / 365.0)); // heating season
        var pm25 = Math.Exp(Math.Log(9 * traffic * winter) + SimulatedCohort.Normal(random, 0, 0.35));
        var no2 = Math.Exp(Math.Log(22 * traffic) + SimulatedCohort.Normal(random, 0, 0.3));
        var o3 = Math.Max(2, 55 + (25 * Math.Sin(2 * Math.PI * (day - 100) / 365.0)) + (15 * Math.Sin(2 * Math.PI * (hour - 9) / 24.0)) + SimulatedCohort.Normal(random, 0, 8));
        var humidity = Math.Clamp(75 + (10 * Math.Cos(2 * Math.PI * (hour - 4) / 24.0)) + SimulatedCohort.Normal(random, 0, 6), 20, 100);
        var pollen = day is > 75 and < 200 ? Math.Clamp(Math.Round(3 * Math.Sin(Math.PI * (day - 75) / 125.0) + SimulatedCohort.Normal(random, 0, 0.7)), 0, 5) : 0;
        var json = string.Create(CultureInfo.InvariantCulture,
            $$"""{"time":"{{time.UtcDateTime:yyyy-MM-ddTHH:00:00Z}}","pm25":{{pm25:F1}},"pm10":{{pm25 * 1.6:F1}},"no2":{{no2:F1}},"o3":{{o3:F1}},"temperatureC":{{temperature:F1}},"humidity":{{humidity:F0}},"pollenIndex":{{pollen:F0}}}""");
        return ($"telesuivi/v1/environment/{zone}", Encoding.UTF8.GetBytes(json));
    }
}
