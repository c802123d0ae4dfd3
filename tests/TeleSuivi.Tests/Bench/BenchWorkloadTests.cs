using TeleSuivi.Devices.Profiles;
using TeleSuivi.Server.Bench;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Bench;

public sealed class BenchWorkloadTests
{
    [Fact]
    public void Publishing_LargeCohort_PublishesEveryFormatAndKeepsAlertPatientsApart()
    {
        // In a cohort this large the rare kinds' formats are carried only by patients far past the first hundred.
        var formats = new SimulatedFormats(ProfileEncoderRegistry.Load(RepositoryPaths.Ingest));
        var settings = new BenchSettings { Patients = 5_000, PublishingPatients = 100, JsonPath = "unused.json" };

        var workload = new BenchWorkload(formats, settings, new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(formats.All.Order(StringComparer.Ordinal), workload.Formats.Order(StringComparer.Ordinal));
        Assert.Equal(workload.Cohort.Take(100), workload.Publishing.Take(100));
        Assert.Empty(workload.Publishing.Intersect(workload.AlertPatients));
        Assert.Equal(workload.Cohort.Count, workload.Publishing.Count + workload.AlertPatients.Count);
    }
}
