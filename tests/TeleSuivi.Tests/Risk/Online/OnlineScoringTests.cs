using System.Net;
using System.Net.Http.Json;
using Hl7.Fhir.Model;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Features;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Security;
using TeleSuivi.Tests.Board;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>
/// The risk model in the platform: readings published over MQTT to a real server become RiskAssessments served by
/// the FHIR API, with the probability the offline feature path gives for the same readings, and risk alerts.
/// </summary>
public sealed class OnlineScoringTests(OnlineScoringHost host) : IClassFixture<OnlineScoringHost>
{
    /// <summary>
    /// A cohort patient's Withings readings of the last 33 days in one message (one batch, hence one score) and their
    /// zone's environment: the stored RiskAssessment's probability is that of the offline replay of the readings as
    /// stored, at the assessment's time.
    /// </summary>
    [Fact]
    public async Task Score_ReadingsOverMqtt_RiskAssessmentEqualsTheOfflineReplay()
    {
        var (patient, history) = await PublishWithingsHistoryAsync(host.Process.BaseUrl, host.Publisher, cohortPatient: 0, priorYearExacerbations: 4);

        var assessment = Assert.Single(await WaitForAssessmentsAsync(host.Fhir, patient, 1, host.Process));
        var at = ScoringPatient.TimeOf(assessment.Occurrence);
        var stored = await patient.StoredAsync(host.Fhir);
        var features = patient.OfflineFeatures(ScoringPatient.AsReadings(stored, at), history.Environment, at);
        var offline = host.Scorer.Score(features);

        Assert.True(stored.Count > 50, $"only {stored.Count} stored readings: the comparison would prove little");
        Assert.Equal(offline.Probability, Probability(assessment), 6);
        // The history recorded at enrolment reached the score through the Patient's extension.
        features[FeatureSchema.Index(FeatureSchema.PriorYearExacerbations)] = float.NaN;
        Assert.NotEqual(host.Scorer.Score(features).Probability, Probability(assessment), 6);
        Assert.Equal(offline.Reasons.Select(r => r.Sentence), assessment.Note.Select(n => n.Text));
        AssertShape(assessment, patient.Id, at);
        var read = await host.Fhir.GetAsync($"/fhir/RiskAssessment/{assessment.Id}");
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(Probability(assessment), Probability(Assert.IsType<RiskAssessment>(read.Resource)));
    }

    /// <summary>A cohort patient-day the shipped model scores well above the alert threshold, replayed as of now: a risk alert whose evidence carries the reasons.</summary>
    [Fact]
    public async Task Score_HighRiskCohortHistory_RaisesARiskAlertWithItsReasons()
    {
        var now = DateTimeOffset.UtcNow;
        var (history, expected) = CohortHistory.Riskiest(host.Scorer, 120, now, now + TimeSpan.FromSeconds(20));
        Assert.True(expected >= 0.45, $"the riskiest history scores {expected:P0}: too close to the alert threshold to prove anything");
        var alert = await PublishUntilRiskAlertAsync(history);

        Assert.NotNull(alert.Risk);
        Assert.True(alert.Risk >= ShippedThresholds.RaiseAt, $"alerted at {alert.Risk:P2}");
        Assert.Contains(alert.Evidence, e => e.Label == "risk factor" && !string.IsNullOrWhiteSpace(e.Detail));
        Assert.NotNull(alert.PatientRisk);
        Assert.Contains("Exacerbation risk", alert.Reason.En, StringComparison.Ordinal);
    }

    /// <summary>
    /// The server's thresholds at the default budget (0.05 alerts per patient-day) for the shipped model, from the
    /// operating points its evaluation report measured.
    /// </summary>
    private static readonly RiskThresholds ShippedThresholds = RiskThresholds.Resolve(
        new RiskPolicyOptions(), ModelOperatingPoints.Read(OnlineScoringSettings.ShippedModelPath, ModelEvaluation.Sha256Of(OnlineScoringSettings.ShippedModelPath)));

    /// <summary>
    /// A patient the shipped model scores at about 3 % (several times the base rate, a tenth of the former fixed 0.30
    /// threshold, which never alerted on it): at the default budget a risk alert reaches the board, raised below 0.30.
    /// </summary>
    [Fact]
    public async Task Score_CalibratedRiskAboveTheBudgetsRaiseAtFarBelow030_RaisesARiskAlert()
    {
        var now = DateTimeOffset.UtcNow;
        var (history, expected) = CohortHistory.Near(host.Scorer, 0.03, 120, now, now + TimeSpan.FromSeconds(20));
        Assert.InRange(expected, 2 * ShippedThresholds.RaiseAt, 0.10);
        var alert = await PublishUntilRiskAlertAsync(history);

        Assert.InRange(alert.Risk!.Value, ShippedThresholds.RaiseAt, 0.15);
        // The first alert names the threshold; a later rise to the critical level within the cool-down names the rise.
        var risk = RiskThresholds.Percent(alert.Risk.Value);
        Assert.True(
            alert.Reason.En == $"Exacerbation risk {risk} (alert at {RiskThresholds.Percent(ShippedThresholds.RaiseAt)})"
                || alert.Reason.En.EndsWith($" to {risk} (critical from {RiskThresholds.Percent(ShippedThresholds.CriticalAt)})", StringComparison.Ordinal),
            alert.Reason.En);
        Assert.Contains(alert.Evidence, e => e.Label == "risk factor" && !string.IsNullOrWhiteSpace(e.Detail));
    }

    /// <summary>Registers the history's patient, publishes their zone's environment and readings, and waits for their risk alert on the board.</summary>
    private async Task<AlertView> PublishUntilRiskAlertAsync(CohortHistory history)
    {
        var patient = await ScoringPatient.RegisterAsync(host.Process.BaseUrl, "north", history.Facts);
        await patient.PublishEnvironmentAsync(host.Publisher, history.Environment);
        await patient.PublishAsync(host.Publisher, history.Readings);

        using var http = host.Process.CreateClient();
        return (await Poll.UntilAsync(
            async () => (await http.GetFromJsonAsync<BoardSnapshot>($"/api/alerts?patient={patient.Id}", BoardHost.Json, TestContext.Current.CancellationToken))!
                .Alerts.FirstOrDefault(a => a.Kind == AlertKinds.Risk),
            a => a is not null,
            OnlineScoringSettings.Deadline,
            $"risk alert of {patient.Id}"))!;
    }

    /// <summary>A nurse of another care team can neither search nor read the patient's RiskAssessments; one of the patient's team can.</summary>
    [Fact]
    public async Task RiskAssessment_OtherTeamsNurse_IsForbidden()
    {
        var (patient, _) = await PublishWithingsHistoryAsync(host.Process.BaseUrl, host.Publisher, cohortPatient: 1);
        var assessment = (await WaitForAssessmentsAsync(host.Fhir, patient, 1, host.Process))[0];

        using var south = await host.Process.CreateClientAsync(Roles.Nurse, "south");
        using var north = await host.Process.CreateClientAsync(Roles.Nurse, "north");
        foreach (var path in new[] { $"/fhir/RiskAssessment?subject=Patient/{patient.Id}", $"/fhir/RiskAssessment/{assessment.Id}" })
        {
            using var refused = await south.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
            using var allowed = await north.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
            Assert.Contains(assessment.Id!, await allowed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Registers cohort patient number <paramref name="cohortPatient"/> (of a cohort ending today) in team north and
    /// publishes their zone's environment, then their Withings readings in one message; with
    /// <paramref name="priorYearExacerbations"/>, enrolled with that history instead of the cohort's.
    /// </summary>
    internal static async Task<(ScoringPatient Patient, CohortHistory History)> PublishWithingsHistoryAsync(
        Uri server, MqttTestPublisher publisher, int cohortPatient, int? priorYearExacerbations = null)
    {
        var now = DateTimeOffset.UtcNow;
        var cohort = CohortHistory.Generate(cohortPatient + 1, now);
        var history = CohortHistory.Of(cohort, cohort.Patients.Last(), now);
        var facts = priorYearExacerbations is null ? history.Facts : history.Facts with { PriorYearExacerbations = priorYearExacerbations };
        var patient = await ScoringPatient.RegisterAsync(server, "north", facts);
        await patient.PublishEnvironmentAsync(publisher, history.Environment);
        await patient.PublishAsync(publisher, WithingsOnly(history), withingsPerMessage: int.MaxValue);
        return (patient, history);
    }

    /// <summary>Only what Withings carries (weight, blood pressure, heart rate, SpO2, temperature): one message holds it all.</summary>
    internal static IEnumerable<TeleSuivi.Risk.Cohort.CohortReading> WithingsOnly(CohortHistory history)
    {
        var withings = ProfileEncoderRegistry.Load(RepositoryPaths.Ingest).EncodableMeasures("withings");
        return history.Readings.Where(r => withings.Contains(r.Measure));
    }

    /// <summary>Waits until the patient has at least <paramref name="count"/> RiskAssessments; returns them all, newest first.</summary>
    internal static async Task<IReadOnlyList<RiskAssessment>> WaitForAssessmentsAsync(FhirClient fhir, ScoringPatient patient, int count, TeleSuiviProcess server)
    {
        try
        {
            var answer = await Poll.UntilAsync(
                () => fhir.GetAsync($"/fhir/RiskAssessment?subject=Patient/{patient.Id}&_sort=-date&_count=100"),
                a => a.Status == HttpStatusCode.OK && a.Matches<RiskAssessment>().Count >= count,
                OnlineScoringSettings.Deadline,
                $"{count} RiskAssessment(s) of {patient.Id}");
            return answer.Matches<RiskAssessment>();
        }
        catch (TimeoutException ex)
        {
            using var http = server.CreateClient();
            var letters = await http.GetStringAsync(new Uri("/api/deadletters?limit=5", UriKind.Relative));
            throw new TimeoutException($"{ex.Message}\ndead letters: {letters[..Math.Min(letters.Length, 3000)]}\n{server.Output[^Math.Min(server.Output.Length, 3000)..]}", ex);
        }
    }

    internal static double Probability(RiskAssessment assessment) =>
        Assert.IsType<FhirDecimal>(assessment.Prediction[0].Probability).Value is { } p ? (double)p : throw new Xunit.Sdk.XunitException("no probability");

    internal static void AssertShape(RiskAssessment assessment, string patientId, DateTimeOffset at)
    {
        Assert.Equal(ObservationStatus.Final, assessment.Status);
        Assert.Equal($"Patient/{patientId}", assessment.Subject.Reference);
        Assert.Equal("exacerbation-72h-v4", assessment.Method?.Coding[0].Code);
        var prediction = Assert.Single(assessment.Prediction);
        Assert.Equal("exacerbation-72h", prediction.Outcome?.Coding[0].Code);
        Assert.Contains("within 72 h", prediction.Outcome?.Text ?? string.Empty, StringComparison.Ordinal);
        var when = Assert.IsType<Period>(prediction.When);
        Assert.Equal(at, ScoringPatient.TimeOf(when.StartElement));
        Assert.Equal(at + TimeSpan.FromHours(72), ScoringPatient.TimeOf(when.EndElement));
        Assert.NotEmpty(assessment.Note);
        Assert.Equal(0, at.UtcTicks % TimeSpan.TicksPerSecond);
    }
}
