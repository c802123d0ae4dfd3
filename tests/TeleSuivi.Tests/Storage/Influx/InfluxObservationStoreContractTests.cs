using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>The store contract on InfluxDB: the fixture's real influxd, a fresh database per test.</summary>
public sealed class InfluxObservationStoreContractTests(ExternalServices services) : ObservationStoreContract
{
    private InfluxObservationStore Influx => (InfluxObservationStore)Store;

    protected override IObservationStore CreateStore()
    {
        var options = new StoreOptions { Url = services.InfluxStoreUrl(ExternalServices.NewDatabaseName()) };
        return new InfluxObservationStore(options.ResolveAddress(), options);
    }

    /// <summary>
    /// No series tagged with the subject, of readings, roll-ups or change marks (influxd 1.x may still list the tag
    /// value itself in SHOW TAG VALUES until it restarts: see README), no id-index point naming it (a full scan of
    /// the index: fine for a test), and no shape naming it.</summary>
    protected override async Task AssertNothingStoredOfAsync(string subject)
    {
        var parameters = new Dictionary<string, object?> { ["subject"] = subject };
        foreach (var measurement in new[] { "observation", InfluxObservationStore.HourlyMeasurement, InfluxObservationStore.ChangeMeasurement })
        {
            using var series = await Influx.Client.QueryAsync(Influx.Database, $"SHOW SERIES FROM \"{measurement}\" WHERE \"patient\" = $subject", parameters, TimePrecision.Nanoseconds, Cancel);
            Assert.Empty(series.Series);
        }

        using var index = await Influx.Client.QueryAsync(Influx.Database, "SELECT count(\"id\") FROM \"observation_id\" WHERE \"patient\" = $subject", parameters, TimePrecision.Nanoseconds, Cancel);
        Assert.Empty(index.Series);

        // The shapes are shared by every patient and stay: none may name the subject.
        using var shapes = await Influx.Client.QueryAsync(Influx.Database, $"SELECT \"json\" FROM \"{ShapePoints.Measurement}\"", null, TimePrecision.Nanoseconds, Cancel);
        Assert.DoesNotContain(shapes.Series.SelectMany(s => s.Rows), row => row.GetString(1)!.Contains(subject, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ApplyRetentionAsync_Duration_AltersTheDefaultPolicyInPlace()
    {
        await Store.WriteAsync([HeartRate("Patient/rp-1", DateTimeOffset.UtcNow.AddMinutes(-5), 70)], Cancel);

        var outcome = await Store.ApplyRetentionAsync(TimeSpan.FromDays(730), Cancel);
        var again = await Store.ApplyRetentionAsync(TimeSpan.FromDays(730), Cancel);

        Assert.Contains("\"autogen\"", outcome.Summary, StringComparison.Ordinal);
        Assert.Contains("730 d (shard groups 7 d), was INF", outcome.Summary, StringComparison.Ordinal);
        Assert.EndsWith("unchanged", again.Summary, StringComparison.Ordinal);
        using var policies = await Influx.Client.QueryAsync(null, $"SHOW RETENTION POLICIES ON \"{Influx.Database}\"", null, TimePrecision.Nanoseconds, Cancel);
        var row = Assert.Single(policies.Series[0].Rows);
        Assert.Equal<string?[]>(["autogen", "17520h0m0s", "168h0m0s"], [row.GetString(0), row.GetString(1), row.GetString(2)]);
        Assert.True(row.GetBoolean(4));
        Assert.Single(await Store.ReadAsync("Patient/rp-1", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel));

        await Store.ApplyRetentionAsync(TimeSpan.FromDays(30), Cancel);
        using var shorter = await Influx.Client.QueryAsync(null, $"SHOW RETENTION POLICIES ON \"{Influx.Database}\"", null, TimePrecision.Nanoseconds, Cancel);
        Assert.Equal<string?[]>(["720h0m0s", "24h0m0s"], [shorter.Series[0].Rows[0].GetString(1), shorter.Series[0].Rows[0].GetString(2)]);
    }

    [Fact]
    public async Task ApplyRetentionAsync_ShorterThanAnHour_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ApplyRetentionAsync(TimeSpan.FromMinutes(30), Cancel));
    }
}
