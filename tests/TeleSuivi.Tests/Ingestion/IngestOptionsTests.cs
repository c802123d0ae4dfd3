using TeleSuivi.Server;
using TeleSuivi.Server.Ingestion;

namespace TeleSuivi.Tests.Ingestion;

/// <summary>The minimum age of a batch: its default for each kind of store, and the values refused.</summary>
public sealed class IngestOptionsTests
{
    [Fact]
    public void ResolveMinBatchAge_NotSetRemoteStore_TheRemoteDefault()
    {
        Assert.Equal(IngestOptions.RemoteStoreMinBatchAge, new IngestOptions().ResolveMinBatchAge(remoteStore: true));
    }

    [Fact]
    public void ResolveMinBatchAge_NotSetSqlite_Zero()
    {
        Assert.Equal(TimeSpan.Zero, new IngestOptions().ResolveMinBatchAge(remoteStore: false));
    }

    [Fact]
    public void ResolveMinBatchAge_NotSetBatchDelayShorterThanTheDefault_TheBatchDelay()
    {
        var options = new IngestOptions { BatchDelay = TimeSpan.FromMilliseconds(5) };

        Assert.Equal(TimeSpan.FromMilliseconds(5), options.ResolveMinBatchAge(remoteStore: true));
    }

    [Fact]
    public void ResolveMinBatchAge_SetForSqlite_TheValueSet()
    {
        var options = new IngestOptions { MinBatchAge = TimeSpan.FromMilliseconds(30) };

        Assert.Equal(TimeSpan.FromMilliseconds(30), options.ResolveMinBatchAge(remoteStore: false));
    }

    [Theory]
    [InlineData("00:00:00.060")]
    [InlineData("-00:00:00.001")]
    public void ResolveMinBatchAge_OutsideZeroToBatchDelay_ConfigurationErrorNamingBoth(string age)
    {
        var options = new IngestOptions { MinBatchAge = TimeSpan.Parse(age, System.Globalization.CultureInfo.InvariantCulture) };

        var error = Assert.Throws<ConfigurationException>(() => options.ResolveMinBatchAge(remoteStore: true));

        Assert.Contains("Ingest:MinBatchAge", error.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:BatchDelay", error.Message, StringComparison.Ordinal);
    }
}
