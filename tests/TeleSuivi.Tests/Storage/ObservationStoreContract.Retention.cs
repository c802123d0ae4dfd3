using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Storage;

/// <summary>Retention and erasure, on every store.</summary>
public abstract partial class ObservationStoreContract
{
    private const string Erased = "Patient/erased-1";
    private const string Kept = "Patient/kept-1";

    /// <summary>How long a store may take to drop what is beyond its retention (InfluxDB does it on its own schedule).</summary>
    protected static readonly TimeSpan RetentionDeadline = TimeSpan.FromSeconds(30);

    /// <summary>Checks the store's own storage (files, index measurements) for anything left of <paramref name="subject"/>.</summary>
    protected abstract Task AssertNothingStoredOfAsync(string subject);

    [Fact]
    public async Task ApplyRetentionAsync_ObservationsOlderThanTheRetention_RemovesOnlyThem()
    {
        var now = DateTimeOffset.UtcNow;
        var old = new[] { HeartRate(Kept, now.AddDays(-400), 70), BodyWeight(Kept, now.AddDays(-380), 71m), HeartRate("Location/75011", now.AddDays(-390), 1) };
        var recent = new[] { HeartRate(Kept, now.AddDays(-10), 72), BloodPressure(Kept, now.AddHours(-1), 120, 80, 93), BodyWeight(Kept, now.AddDays(-300), 70.5m) };
        await Store.WriteAsync([.. old, .. recent], Cancel);

        var outcome = await Store.ApplyRetentionAsync(TimeSpan.FromDays(365), Cancel);

        Assert.NotNull(outcome.Summary);
        var left = await Poll.UntilAsync(
            () => Store.ReadAsync(Kept, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 100, Cancel),
            read => read.Count == recent.Length,
            RetentionDeadline,
            "the observations beyond the retention to go");
        Assert.Equal(recent.Select(Json).Order(), left.Select(Json).Order());
        Assert.Empty(await Store.ReadAsync("Location/75011", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 100, Cancel));
        foreach (var observation in old)
        {
            Assert.Null(await Store.FindAsync(observation.Id!, Cancel));
        }

        Assert.Equal(3, (await Store.ReadTrendAsync(Kept, BloodPressureCode, now.AddDays(-2), now, TrendResolution.Raw, Cancel)).Series.Count);
    }

    [Fact]
    public async Task ApplyRetentionAsync_Zero_KeepsEverything()
    {
        var now = DateTimeOffset.UtcNow;
        var observations = new[] { HeartRate(Kept, now.AddDays(-4000), 70), HeartRate(Kept, now.AddMinutes(-1), 71) };
        await Store.WriteAsync(observations, Cancel);

        var outcome = await Store.ApplyRetentionAsync(TimeSpan.Zero, Cancel);
        Assert.True(outcome.Removed is null or 0, outcome.Summary);
        Assert.Equal(2, (await Store.ReadAsync(Kept, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 100, Cancel)).Count);
    }

    [Fact]
    public async Task EraseSubjectAsync_TwoPatients_RemovesEverythingOfOneAndNothingOfTheOther()
    {
        var now = DateTimeOffset.UtcNow.AddDays(-1);
        var erased = Enumerable.Range(0, 40).SelectMany(i => new[]
        {
            HeartRate(Erased, now.AddMinutes(-i), 60 + i, "Device/ox-erased"),
            BloodPressure(Erased, now.AddMinutes(-i), 120 + i, 80, 93, "Device/bp-erased"),
            BodyWeight(Erased, now.AddDays(-i), 70m + i, "Device/scale-erased"),
        }).ToList();
        var kept = Enumerable.Range(0, 10).SelectMany(i => new[]
        {
            HeartRate(Kept, now.AddMinutes(-i), 70 + i, "Device/ox-kept"),
            BodyWeight(Kept, now.AddDays(-i), 80m + i, "Device/scale-kept"),
        }).ToList();
        await Store.WriteAsync([.. erased, .. kept], Cancel);
        Assert.NotEmpty((await Store.ReadTrendAsync(Erased, BloodPressureCode, now.AddDays(-1), now, TrendResolution.Hour, Cancel)).Series); // roll-ups too, where a store keeps them

        var removed = await Store.EraseSubjectAsync(Erased, Cancel);

        Assert.Equal(erased.Count, removed);
        Assert.Empty(await Store.ReadAsync(Erased, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1000, Cancel));
        Assert.Empty(await Store.ReadCodesAsync(Erased, Cancel));
        Assert.Empty(await Store.ReadLatestAsync(Erased, DateTimeOffset.MinValue, Cancel));
        Assert.DoesNotContain(await Store.ReadLatestAsync(null, DateTimeOffset.MinValue, Cancel), r => r.Subject == Erased);
        Assert.Empty((await Store.ReadTrendAsync(Erased, HeartRateCode, now.AddDays(-1), now, TrendResolution.Hour, Cancel)).Series);
        foreach (var observation in erased)
        {
            Assert.Null(await Store.FindAsync(observation.Id!, Cancel));
        }

        await AssertNothingStoredOfAsync(Erased);
        var left = await Store.ReadAsync(Kept, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1000, Cancel);
        Assert.Equal(kept.Select(Json).Order(), left.Select(Json).Order());
        foreach (var observation in kept)
        {
            Assert.Equal(Json(observation), Json((await Store.FindAsync(observation.Id!, Cancel))!));
        }
    }

    [Fact]
    public async Task EraseSubjectAsync_SubjectWithoutObservations_RemovesNothing()
    {
        var kept = HeartRate(Kept, Morning, 70);
        await Store.WriteAsync([kept], Cancel);

        Assert.Equal(0, await Store.EraseSubjectAsync("Patient/nobody", Cancel));

        Assert.Equal(Json(kept), Json(Assert.Single(await Store.ReadAsync(Kept, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel))));
    }
}
