using TeleSuivi.Risk.Features;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Tests.Alerts;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Risk.Online.OnlineScoringTests;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>The exacerbation history in online scores comes from the outcomes nurses recorded on the patient's alerts.</summary>
public sealed class ScoringHistoryTests(ExternalServices services)
{
    /// <summary>
    /// A nurse resolved an alert of 20 days ago as a confirmed exacerbation (in the server's own data folder): the
    /// patient's next score equals the offline replay of the readings with that onset, and differs from the replay
    /// without it (the history reached the model).
    /// </summary>
    [Fact]
    public async Task Score_ConfirmedExacerbationRecorded_HistoryAsInTheOfflineReplay()
    {
        var ct = TestContext.Current.CancellationToken;
        var now = DateTimeOffset.UtcNow;
        var cohort = CohortHistory.Generate(3, now);
        var history = CohortHistory.Of(cohort, cohort.Patients.Last(), now);
        await using var bed = await AlertTestBed.CreateAsync();
        await using var server = OnlineScoringSettings.StartServer(services, bed.DataDirectory);
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        using var fhir = new FhirClient(server.BaseUrl);
        var patient = await ScoringPatient.RegisterAsync(server.BaseUrl, "north", history.Facts);

        var onset = now - TimeSpan.FromDays(20);
        bed.Clock.Now = onset;
        var alert = await bed.RaiseAsync(AlertTestBed.Draft(patient: patient.Id, kind: AlertKinds.Risk, subject: string.Empty));
        bed.Clock.Now = onset + TimeSpan.FromHours(3);
        Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "nurse-1", ct)).Succeeded);
        Assert.True((await bed.Workflow.ResolveAsync(alert.Id, "nurse-1", AlertOutcomes.ConfirmedExacerbation, null, ct)).Succeeded);

        await using var publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);
        await patient.PublishEnvironmentAsync(publisher, history.Environment);
        await patient.PublishAsync(publisher, WithingsOnly(history), withingsPerMessage: int.MaxValue);
        var assessment = Assert.Single(await WaitForAssessmentsAsync(fhir, patient, 1, server));

        var at = ScoringPatient.TimeOf(assessment.Occurrence);
        var readings = ScoringPatient.AsReadings(await patient.StoredAsync(fhir), at);
        var withHistory = patient.OfflineFeatures(readings, history.Environment, at, [onset]);
        var without = patient.OfflineFeatures(readings, history.Environment, at);
        using var scorer = OnlineScoringSettings.LoadShippedModel();
        Assert.Equal(1, withHistory[FeatureSchema.Index("exacerbations-365d")]);
        Assert.Equal(1, withHistory[FeatureSchema.Index("exacerbation-within-9w")]);
        Assert.NotEqual(scorer.Score(without).Probability, scorer.Score(withHistory).Probability, 6);
        Assert.Equal(scorer.Score(withHistory).Probability, Probability(assessment), 6);
    }
}
