using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Server.Bench;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Bench;

/// <summary>The bench's store reference, against a real SQLite file and the real influxd of the test run.</summary>
public sealed class StoreAloneReferenceTests(ExternalServices services) : IDisposable
{
    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-store-reference-").FullName;

    [Fact]
    public async Task MeasureAsync_Sqlite_TimesTheWorkloadsObservationsAndLeavesNoFileBehind()
    {
        var (registry, messages) = await WorkloadAsync();
        using (registry)
        {
            var result = await StoreAloneReference.MeasureAsync("sqlite", data, registry, messages, (_, _, _) => { }, TestContext.Current.CancellationToken);

            AssertTimedAllButTheWarmUp(result, messages.Count);
            Assert.StartsWith("sqlite:", result.Store, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(data, "store-reference")));
            Assert.False(File.Exists(Path.Combine(data, "telesuivi.db")), "the run's own store must not be written");
        }
    }

    [Fact]
    public async Task MeasureAsync_Influxd_WritesIntoADatabaseOfItsOwnThenDropsIt()
    {
        var (registry, messages) = await WorkloadAsync();
        var database = ExternalServices.NewDatabaseName("bench");
        using (registry)
        {
            var result = await StoreAloneReference.MeasureAsync(services.InfluxStoreUrl(database), data, registry, messages, (_, _, _) => { }, TestContext.Current.CancellationToken);

            AssertTimedAllButTheWarmUp(result, messages.Count);
            Assert.EndsWith($"/{database}_store_reference", result.Store, StringComparison.Ordinal);
            var databases = await DatabasesAsync();
            Assert.DoesNotContain($"{database}_store_reference", databases);
            Assert.DoesNotContain(database, databases);
        }
    }

    public void Dispose() => Directory.Delete(data, recursive: true);

    /// <summary>Every message normalised, a tenth of the 500-message batches written first and not timed, the rest timed.</summary>
    private static void AssertTimedAllButTheWarmUp(StoreReferenceResult result, int messages)
    {
        var batches = (int)Math.Ceiling(messages / 500.0);
        Assert.Equal(0, result.Rejected);
        Assert.Equal(batches - Math.Max(1, batches / 10), result.Batches);
        Assert.Equal(result.Batches * 500, result.Messages);
        Assert.InRange(result.Observations, result.Messages, result.Messages * 4);
        Assert.True(result.Seconds > 0);
        Assert.Equal(4, result.WritesInFlight);
    }

    private async Task<(DeviceRegistry Registry, IReadOnlyList<BenchMessage> Messages)> WorkloadAsync()
    {
        var now = DateTimeOffset.UtcNow;
        var workload = new BenchWorkload(
            new SimulatedFormats(ProfileEncoderRegistry.Load(RepositoryPaths.Ingest)),
            new BenchSettings { Patients = 200, PublishingPatients = 100, JsonPath = "unused.json" },
            now);
        var registry = new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = data }));
        await registry.InitializeAsync(TestContext.Current.CancellationToken);
        await new RegistryBundleImporter(registry, TimeProvider.System).ImportAsync(CohortBundle.Build(workload.Cohort, now.AddDays(-30)), TestContext.Current.CancellationToken);
        return (registry, workload.NextMessages(6_000));
    }

    private async Task<List<string>> DatabasesAsync()
    {
        using var http = new HttpClient { BaseAddress = services.InfluxUrl };
        using var answer = await http.PostAsync(new Uri("query", UriKind.Relative), new FormUrlEncodedContent([new("q", "SHOW DATABASES")]), TestContext.Current.CancellationToken);
        var json = await answer.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        // influxd leaves "values" out when there is no database at all.
        return json.GetProperty("results")[0].GetProperty("series")[0].TryGetProperty("values", out var values)
            ? values.EnumerateArray().Select(v => v[0].GetString()!).ToList()
            : [];
    }
}
