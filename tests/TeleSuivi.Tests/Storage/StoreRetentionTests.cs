using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Retention;

namespace TeleSuivi.Tests.Storage;

/// <summary>The retention settings and the dead-letter purge.</summary>
public sealed class StoreRetentionTests : IDisposable
{
    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-retention-").FullName;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PurgeReceivedBeforeAsync_OldAndNewLetters_DeletesOnlyTheOldOnesAndCountsThePending()
    {
        var letters = new DeadLetterStore(Options.Create(new StoreOptions { DataDirectory = data }));
        await letters.InitializeAsync(Cancel);
        var now = DateTimeOffset.UtcNow;
        var payload = Encoding.UTF8.GetBytes("{}");
        await letters.AddAsync(
        [
            new Rejection("telesuivi/v1/devices/withings/a", payload, now.AddDays(-100), "unparseable", "old, pending"),
            new Rejection("telesuivi/v1/devices/withings/b", payload, now.AddDays(-95).ToOffset(TimeSpan.FromHours(2)), "unparseable", "old, replayed, another offset"),
            new Rejection("telesuivi/v1/devices/withings/c", payload, now.AddDays(-89), "unparseable", "recent"),
        ], Cancel);
        var all = await letters.ListAsync(new DeadLetterQuery { IncludeReplayed = true }, Cancel);
        await letters.RecordReplayAsync([all[1].Id], [], now, Cancel);

        var (replayed, pending) = await letters.PurgeReceivedBeforeAsync(now.AddDays(-90), Cancel);

        Assert.Equal((1L, 1L), (replayed, pending));
        Assert.Equal(["recent"], (await letters.ListAsync(new DeadLetterQuery { IncludeReplayed = true }, Cancel)).Select(l => l.Reason));
    }

    [Theory]
    [InlineData("30.00:00:00", "shorter than Ingest:MaxAge")]
    [InlineData("-1.00:00:00", "is negative")]
    public void Validate_RetentionThatWouldDropAcceptedReadings_IsRefused(string retention, string reason)
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            StoreRetention.Validate(new StoreOptions { Retention = TimeSpan.Parse(retention, System.Globalization.CultureInfo.InvariantCulture) }, new IngestOptions()));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("00:00:00")]
    [InlineData("90.00:00:00")]
    [InlineData("3650.00:00:00")]
    public void Validate_NoneZeroOrAtLeastMaxAge_IsAccepted(string? retention)
    {
        StoreRetention.Validate(
            new StoreOptions { Retention = retention is null ? null : TimeSpan.Parse(retention, System.Globalization.CultureInfo.InvariantCulture) },
            new IngestOptions());
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }
}
