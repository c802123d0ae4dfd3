using System.Globalization;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Alerts;
using TeleSuivi.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>
/// <c>telesuivi_risk_scoring_lag_seconds</c> on the server's own services (SQLite files in a temporary folder, the
/// shipped model) with a manual clock: the scorer's lag is known to the second whatever the machine does.
/// </summary>
public sealed class ScoringLagTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 10, 0, 0, TimeSpan.Zero);

    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-lag-").FullName;
    private readonly ManualClock clock = new(Start);
    private readonly ServiceProvider provider;

    public ScoringLagTests()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Store:DataDirectory"] = directory,
            ["Risk:ModelPath"] = OnlineScoringSettings.ShippedModelPath,
            ["Risk:MinRescoreInterval"] = "00:00:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddTeleSuiviServices(configuration);
        services.AddSingleton<TimeProvider>(clock);
        provider = services.BuildServiceProvider();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Readings wait in the scorer's queue (the scorer is behind): the lag counts that wait, from the first of the
    /// patient's pending readings handed to the scoring feed, not from the scorer taking them out of the queue.
    /// </summary>
    [Fact]
    public async Task ScoringLag_ReadingsWaitedInTheQueue_CountsFromTheEarliestHandOver()
    {
        await provider.GetRequiredService<IObservationStore>().InitializeAsync(Ct);
        await provider.GetRequiredService<AlertStore>().InitializeAsync(Ct);
        await RegisterAsync("lag-1");
        var feed = provider.GetRequiredService<ScoringFeed>();
        var metrics = provider.GetRequiredService<RiskMetrics>();

        // Handed over at 10:00:00 and 10:00:03; the scorer starts (takes them) at 10:00:07.
        await feed.PublishAsync([HeartRate("lag-1", 1, 72)], Ct);
        clock.Advance(TimeSpan.FromSeconds(3));
        await feed.PublishAsync([HeartRate("lag-1", 2, 75)], Ct);
        clock.Advance(TimeSpan.FromSeconds(4));
        var scorer = ActivatorUtilities.CreateInstance<OnlineRiskScorer>(provider);
        await scorer.StartAsync(Ct);
        try
        {
            await Poll.UntilAsync(() => metrics.Scores >= 1, OnlineScoringSettings.Deadline, "the patient scored");
        }
        finally
        {
            await scorer.StopAsync(CancellationToken.None);
        }

        Assert.Equal(1, metrics.Scores);
        Assert.Equal(7.0, metrics.LastLagSeconds);
    }

    /// <summary>Only registered patients are scored.</summary>
    private async Task RegisterAsync(string patientId)
    {
        var registry = provider.GetRequiredService<DeviceRegistry>();
        await registry.InitializeAsync(Ct);
        await new RegistryBundleImporter(registry, clock).ImportAsync(RegistryBundles.PatientWithDevice(patientId, $"{patientId}-device", Start.AddDays(-30)), Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await provider.DisposeAsync();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A SQLite file still being closed; the OS cleans the temporary folder.
        }
    }

    /// <summary>A heart rate of <paramref name="patientId"/> taken <paramref name="minutesAgo"/> minutes before the clock's start.</summary>
    private static Observation HeartRate(string patientId, int minutesAgo, decimal value)
    {
        var definition = MeasureCatalog.Get(TeleSuivi.Risk.Cohort.Measures.HeartRate);
        var at = Start.AddMinutes(-minutesAgo);
        return new Observation
        {
            Id = $"{patientId}-hr-{minutesAgo}",
            Status = ObservationStatus.Final,
            Subject = new ResourceReference($"Patient/{patientId}"),
            Code = new CodeableConcept(definition.Code.System, definition.Code.Code),
            Effective = new FhirDateTime(at.ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture)),
            Value = new Quantity(value, definition.Unit) { System = "http://unitsofmeasure.org", Code = definition.Unit },
        };
    }
}
