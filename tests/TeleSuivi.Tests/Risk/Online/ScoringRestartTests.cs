using Hl7.Fhir.Model;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Workflow;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Risk.Online.OnlineScoringTests;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>What survives a restart of the server (a data folder of the test's own), and what an erasure removes.</summary>
public sealed class ScoringRestartTests(ExternalServices services) : IAsyncLifetime
{
    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-risk-").FullName;
    private MqttTestPublisher? publisher;

    private MqttTestPublisher Publisher => publisher ?? throw new InvalidOperationException("not initialized");

    public async ValueTask InitializeAsync() => publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);

    public async ValueTask DisposeAsync()
    {
        if (publisher is not null)
        {
            await publisher.DisposeAsync();
        }

        Directory.Delete(data, recursive: true);
    }

    /// <summary>
    /// After a restart the patient's features start empty and are rebuilt from the store: the first score after it
    /// equals the offline replay of the whole history, and the scores before it are still served.
    /// </summary>
    [Fact]
    public async Task Score_AfterRestart_EqualsTheOfflineReplayOfTheWholeHistory()
    {
        var now = DateTimeOffset.UtcNow;
        var cohort = CohortHistory.Generate(4, now);
        var history = CohortHistory.Of(cohort, cohort.Patients.ElementAt(2), now);
        var sessions = WithingsOnly(history).ToList();
        var last = sessions.Max(r => r.Time);
        var (before, after) = (sessions.Where(r => r.Time < last).ToList(), sessions.Where(r => r.Time == last).ToList());

        ScoringPatient patient;
        RiskAssessment first;
        await using (var server = await StartAsync())
        {
            using var fhir = new FhirClient(server.BaseUrl);
            patient = await ScoringPatient.RegisterAsync(server.BaseUrl, "north", history.Facts);
            await patient.PublishEnvironmentAsync(Publisher, history.Environment);
            await patient.PublishAsync(Publisher, before, withingsPerMessage: int.MaxValue);
            first = Assert.Single(await WaitForAssessmentsAsync(fhir, patient, 1, server));
        }

        await using (var restarted = await StartAsync())
        {
            using var fhir = new FhirClient(restarted.BaseUrl);
            await patient.PublishAsync(Publisher, after, withingsPerMessage: int.MaxValue);
            var both = await WaitForAssessmentsAsync(fhir, patient, 2, restarted);
            var latest = both[0];
            var at = ScoringPatient.TimeOf(latest.Occurrence);
            using var scorer = OnlineScoringSettings.LoadShippedModel();
            var expected = scorer.Score(patient.OfflineFeatures(ScoringPatient.AsReadings(await patient.StoredAsync(fhir), at), history.Environment, at));

            Assert.Equal(expected.Probability, Probability(latest), 6);

            Assert.Equal(2, both.Count);
            Assert.Equal(first.Id, both[1].Id);
            Assert.Equal(Probability(first), Probability(both[1]));
        }
    }

    /// <summary><c>patients erase</c> removes the patient's RiskAssessments with the rest, and says how many.</summary>
    [Fact]
    public async Task PatientsErase_ScoredPatient_RemovesTheRiskAssessments()
    {
        ScoringPatient patient;
        await using (var server = await StartAsync())
        {
            using var fhir = new FhirClient(server.BaseUrl);
            (patient, _) = await PublishWithingsHistoryAsync(server.BaseUrl, Publisher, cohortPatient: 0);
            await WaitForAssessmentsAsync(fhir, patient, 1, server);
        }

        var (exit, output, error) = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(60), "patients", "erase", patient.Id, "--yes", "--data", data);

        Assert.True(exit == 0, $"exit {exit}: {output}{error}");
        Assert.Contains("risk            1 risk assessment(s)", output, StringComparison.Ordinal);
        var store = new RiskAssessmentStore(WorkflowDatabase.Create(new WorkflowOptions(), data, RiskAssessmentStore.FileName));
        var (left, total) = await store.SearchAsync(patient.Id, long.MinValue, long.MaxValue, false, null, 10, TestContext.Current.CancellationToken);
        Assert.Empty(left);
        Assert.Equal(0, total);
    }

    private async Task<TeleSuiviProcess> StartAsync()
    {
        var server = OnlineScoringSettings.StartServer(services, data);
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return server;
    }
}
