using Microsoft.Extensions.Options;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Registry;

/// <summary>The compact in-memory registry (README "Memory"): nothing of what it served before is lost.</summary>
public sealed class RegistryMemoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void RegisteredDevice_KeptAsUtf8_GivesBackTheSameJsonAndItsKind()
    {
        const string json = """{"resourceType":"Device","id":"d-1","type":{"coding":[{"system":"https://telesuivi.org/device-kind","code":"blood-pressure-monitor"}]},"deviceName":[{"name":"Tensiomètre Ω","type":"user-friendly-name"}]}""";

        var device = new RegisteredDevice("d-1", ["SN-1"], json);

        Assert.Equal(json, device.Resource);
        Assert.Equal("blood-pressure-monitor", device.Kind);
    }

    [Theory]
    [InlineData("""{"resourceType":"Device","id":"d-1"}""")]
    [InlineData("""{"resourceType":"Device","id":"d-1","type":{"coding":[]}}""")]
    [InlineData("""{"resourceType":"Device","id":"d-1","type":{"coding":[{"code":7}]}}""")]
    [InlineData("not json")]
    public void RegisteredDevice_WithoutAReadableType_HasNoKind(string json)
    {
        var device = new RegisteredDevice("d-1", [], json);

        Assert.Null(device.Kind);
        Assert.Equal(json, device.Resource);
    }

    [Fact]
    public async Task Reload_SimulatedCohort_SharesOneStringPerIdAcrossPatientsDevicesAndAssignments()
    {
        var data = Directory.CreateTempSubdirectory("telesuivi-registry-").FullName;
        try
        {
            var now = DateTimeOffset.UtcNow;
            var cohort = SimulatedCohort.Generate(20, 7, new SimulatedFormats(ProfileEncoderRegistry.Load(RepositoryPaths.Ingest)), now);
            using (var writer = new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = data })))
            {
                await writer.InitializeAsync(Ct);
                await new RegistryBundleImporter(writer, TimeProvider.System).ImportAsync(CohortBundle.Build(cohort, now.AddDays(-30)), Ct);
            }

            using var registry = new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = data }));
            await registry.InitializeAsync(Ct);

            var device = cohort[3].Devices[0];
            var patientId = registry.ResolvePatient(device.Id, now);
            Assert.Equal(cohort[3].Id, patientId);
            Assert.Same(registry.FindPatient(cohort[3].Id)!.Id, patientId);
            Assert.Equal(cohort.Sum(p => p.Devices.Count), registry.DeviceCount);
            Assert.All(registry.Devices, d => Assert.NotNull(d.Kind));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }
}
