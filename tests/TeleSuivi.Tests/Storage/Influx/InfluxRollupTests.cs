using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>
/// The hourly roll-ups of the InfluxDB store (SCHEMA.md, "Hourly roll-ups"): whatever was written when, a trend read
/// from them equals the readings summarised one by one, and the current hour is never rolled up.
/// </summary>
public sealed class InfluxRollupTests(ExternalServices services)
{
    private const string Patient = "Patient/rollup-1";
    private static readonly DateTimeOffset Start = new(2026, 1, 10, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadTrendAsync_HourlyAndDailyFromRollups_EqualTheReadingsSummarisedOneByOne()
    {
        using var store = await NewStoreAsync();
        var written = Readings(Start, TimeSpan.FromDays(3));
        await store.WriteAsync(written, Cancel);
        var from = Start.AddHours(5).AddMinutes(17);
        var through = Start.AddDays(2).AddHours(20).AddMinutes(41);

        foreach (var resolution in new[] { TrendResolution.Hour, TrendResolution.Day })
        {
            foreach (var code in new[] { HeartRateCode, BloodPressureCode })
            {
                var computed = await store.ReadTrendAsync(Patient, code, from, through, resolution, Cancel);
                var fromRollups = await store.ReadTrendAsync(Patient, code, from, through, resolution, Cancel);

                AssertSummarises(written, code, from, through, resolution, computed);
                AssertSummarises(written, code, from, through, resolution, fromRollups);
            }
        }

        // 62 whole hours inside the window (06:00 on the first day to 20:00 on the third), for each of the two codes.
        Assert.Equal(2 * 62, await CountAsync(store, InfluxObservationStore.HourlyMeasurement));
    }

    [Fact]
    public async Task ReadTrendAsync_ReadingsWrittenIntoRolledUpHours_AreCounted()
    {
        using var store = await NewStoreAsync();
        var written = Readings(Start, TimeSpan.FromHours(6));
        await store.WriteAsync(written, Cancel);
        var through = Start.AddHours(6).AddMilliseconds(-1);
        await store.ReadTrendAsync(Patient, HeartRateCode, Start, through, TrendResolution.Hour, Cancel);

        // A late reading (a device that synchronises hours later) and a corrected one (same id, new value).
        var late = HeartRate(Patient, Start.AddHours(2).AddMinutes(33).AddSeconds(9), 151, "Device/late-1");
        var corrected = written.First(o => o.Code.Coding[0].Code == "8867-4" && ObservationKeys.EffectiveMilliseconds(o) >= Start.AddHours(4).ToUnixTimeMilliseconds());
        var replacement = HeartRate(Patient, DateTimeOffset.FromUnixTimeMilliseconds(ObservationKeys.EffectiveMilliseconds(corrected)), 33);
        replacement.Id = corrected.Id;
        await store.WriteAsync([late, replacement], Cancel);
        written = [.. written.Where(o => o.Id != corrected.Id), late, replacement];

        var trend = await store.ReadTrendAsync(Patient, HeartRateCode, Start, through, TrendResolution.Hour, Cancel);

        AssertSummarises(written, HeartRateCode, Start, through, TrendResolution.Hour, trend);
        Assert.Equal(151, trend.Of(null)!.Points.Max(p => p.Max));
        Assert.Equal(33, trend.Of(null)!.Points.Min(p => p.Min));
    }

    [Fact]
    public async Task ReadTrendAsync_CurrentHour_IsReadRawAndNotRolledUp()
    {
        using var store = await NewStoreAsync();
        var now = DateTimeOffset.UtcNow;
        var currentHour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var written = Enumerable.Range(0, 30).Select(i => HeartRate(Patient, now.AddMinutes(-7 * i).AddSeconds(-1), 60 + i)).ToList();
        await store.WriteAsync(written, Cancel);
        var from = now.AddHours(-4);

        var first = await store.ReadTrendAsync(Patient, HeartRateCode, from, now, TrendResolution.Hour, Cancel);
        var added = HeartRate(Patient, now.AddMilliseconds(-1), 99, "Device/now-1");
        await store.WriteAsync([added], Cancel);
        var second = await store.ReadTrendAsync(Patient, HeartRateCode, from, now, TrendResolution.Hour, Cancel);

        if (DateTimeOffset.UtcNow.Hour != now.Hour)
        {
            Assert.Skip("the clock passed the hour during the test, which makes the hour read raw a closed one: run it again");
        }

        AssertSummarises(written, HeartRateCode, from, now, TrendResolution.Hour, first);
        AssertSummarises([.. written, added], HeartRateCode, from, now, TrendResolution.Hour, second);
        using var rollups = await store.Client.QueryAsync(
            store.Database,
            $"SELECT count(\"stamp\") FROM {InfluxObservationStore.HourlyMeasurement} WHERE time >= {currentHour.ToUnixTimeMilliseconds() * 1_000_000}",
            null,
            TimePrecision.Nanoseconds,
            Cancel);
        Assert.Empty(rollups.Series);
    }

    [Fact]
    public async Task WriteAsync_HourStillOpen_IsMarkedOncePerProcessAndAClosedHourAtEveryWrite()
    {
        using var store = await NewStoreAsync();
        var now = DateTimeOffset.UtcNow;
        // Times inside their hours whatever the clock: "now − 2 s" and "3 h ago + 1 s" crossed an hour once (a run at
        // 21:59:59 wrote the closed hour's second reading into the next hour, whose stamp then could not change).
        var hourStart = DateTimeOffset.FromUnixTimeMilliseconds(StoreReads.BucketStart(now.ToUnixTimeMilliseconds(), 3_600_000));
        var intoHour = now - hourStart;
        var closed = hourStart.AddHours(-3).AddMinutes(10);

        await store.WriteAsync([HeartRate(Patient, hourStart + (intoHour / 2), 70), HeartRate(Patient, closed, 70)], Cancel);
        var first = await StampsAsync(store);
        await store.WriteAsync([HeartRate(Patient, hourStart + (intoHour * 3 / 4), 71), HeartRate(Patient, closed.AddMinutes(1), 71)], Cancel);
        var second = await StampsAsync(store);

        if (DateTimeOffset.UtcNow.Hour != now.Hour)
        {
            Assert.Skip("the clock passed the hour during the test, which closes the open hour: run it again");
        }

        var openHour = StoreReads.BucketStart(now.ToUnixTimeMilliseconds(), 3_600_000);
        var closedHour = StoreReads.BucketStart(closed.ToUnixTimeMilliseconds(), 3_600_000);
        Assert.Equal([closedHour, openHour], first.Keys.Order());
        Assert.Equal(first[openHour], second[openHour]);
        Assert.NotEqual(first[closedHour], second[closedHour]);
    }

    [Fact]
    public async Task InitializeAsync_ReadingsWrittenBeforeRollups_MarksTheirHoursForTrends()
    {
        var database = ExternalServices.NewDatabaseName();
        var written = Readings(Start, TimeSpan.FromHours(30));
        // What a release without roll-ups wrote: the Observations and their id index, no change marks.
        await SchemaVersion1.WriteDatabaseAsync(services.InfluxUrl, database, written, withIdIndex: true, Cancel);

        using var store = NewStore(database);
        await store.InitializeAsync(Cancel);

        var through = Start.AddHours(30).AddMilliseconds(-1);
        AssertSummarises(written, BloodPressureCode, Start, through, TrendResolution.Hour, await store.ReadTrendAsync(Patient, BloodPressureCode, Start, through, TrendResolution.Hour, Cancel));
        AssertSummarises(written, HeartRateCode, Start, through, TrendResolution.Day, await store.ReadTrendAsync(Patient, HeartRateCode, Start, through, TrendResolution.Day, Cancel));
        Assert.Equal(2 * 30, await CountAsync(store, InfluxObservationStore.ChangeMeasurement));
    }

    /// <summary>Heart rate every 7 minutes and blood pressure every 30, with values that vary, from <paramref name="start"/> for <paramref name="span"/>.</summary>
    private static List<Observation> Readings(DateTimeOffset start, TimeSpan span)
    {
        var readings = new List<Observation>();
        for (var at = start; at < start + span; at = at.AddMinutes(7))
        {
            readings.Add(HeartRate(Patient, at, 55 + (((at.Minute * 7) + at.Hour) % 50)));
        }

        for (var at = start.AddMinutes(3); at < start + span; at = at.AddMinutes(30))
        {
            readings.Add(BloodPressure(Patient, at, 110 + (at.Hour % 30), 70 + (at.Minute % 15), 90.5m));
        }

        return readings;
    }

    /// <summary>The trend holds, for each numeric field, one point per bucket that has readings, summarising exactly the readings of the code inside the window.</summary>
    private static void AssertSummarises(IEnumerable<Observation> written, string code, DateTimeOffset from, DateTimeOffset through, TrendResolution resolution, ObservationTrend trend)
    {
        var width = resolution.Milliseconds();
        var expected = written
            .Where(o => ObservationKeys.CodeToken(o) == code)
            .Select(o => (Time: ObservationKeys.EffectiveMilliseconds(o), Fields: ObservationKeys.NumericFields(o).ToList()))
            .Where(o => o.Time >= from.ToUnixTimeMilliseconds() && o.Time <= through.ToUnixTimeMilliseconds())
            .SelectMany(o => o.Fields.Select(f => (Component: StoreReads.ComponentOf(f.Field), Bucket: StoreReads.BucketStart(o.Time, width), o.Time, f.Value)))
            .GroupBy(r => r.Component)
            .ToDictionary(g => g.Key ?? string.Empty, g => g.GroupBy(r => r.Bucket).OrderBy(b => b.Key).Select(b => new TrendPoint(
                DateTimeOffset.FromUnixTimeMilliseconds(b.Key), b.Average(r => r.Value), b.Min(r => r.Value), b.Max(r => r.Value), b.Count(), b.MaxBy(r => r.Time).Value)).ToList());

        Assert.NotEmpty(expected);
        Assert.Equal(expected.Keys.Order(), trend.Series.Select(s => s.Component ?? string.Empty).Order());
        foreach (var series in trend.Series)
        {
            var points = expected[series.Component ?? string.Empty];
            Assert.Equal(points.Select(p => (p.Time, p.Min, p.Max, p.Count, p.Last)), series.Points.Select(p => (p.Time, p.Min, p.Max, p.Count, p.Last)));
            Assert.All(points.Zip(series.Points), pair => Assert.Equal(pair.First.Mean, pair.Second.Mean, 1e-9));
        }
    }

    /// <summary>The stamp of each hour's change mark, by the hour's start in milliseconds.</summary>
    private static async Task<Dictionary<long, long>> StampsAsync(InfluxObservationStore store)
    {
        using var result = await store.Client.QueryAsync(store.Database, $"SELECT \"stamp\" FROM {InfluxObservationStore.ChangeMeasurement}", null, TimePrecision.Milliseconds, Cancel);
        return Assert.Single(result.Series).Rows.ToDictionary(row => row.GetEpoch(0), row => row.GetInt64(1)!.Value);
    }

    private static async Task<long> CountAsync(InfluxObservationStore store, string measurement)
    {
        using var result = await store.Client.QueryAsync(store.Database, $"SELECT count(\"stamp\") FROM {InfluxQl.QuoteIdentifier(measurement)}", null, TimePrecision.Nanoseconds, Cancel);
        return result.Series is [var series, ..] ? series.Rows[0].GetInt64(1) ?? 0 : 0;
    }

    private async Task<InfluxObservationStore> NewStoreAsync()
    {
        var store = NewStore(ExternalServices.NewDatabaseName());
        await store.InitializeAsync(Cancel);
        return store;
    }

    private InfluxObservationStore NewStore(string database)
    {
        var options = new StoreOptions { Url = services.InfluxStoreUrl(database) };
        return new InfluxObservationStore(options.ResolveAddress(), options);
    }
}
