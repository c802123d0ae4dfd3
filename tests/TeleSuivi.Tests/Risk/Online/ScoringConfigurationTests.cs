using System.Text.Json;
using Hl7.Fhir.Model;
using TeleSuivi.Risk.Model;
using TeleSuivi.Server.Risk;
using TeleSuivi.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>The model a server is given, the readings it takes, and the RiskAssessment it writes.</summary>
public sealed class ScoringConfigurationTests
{
    private static readonly string Missing = Path.Combine(Path.GetTempPath(), $"no-model-{Guid.NewGuid():N}.zip");

    [Fact]
    public async Task Serve_EnabledWithoutItsModel_StopsWithAClearError()
    {
        await using var server = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string>
        {
            ["TELESUIVI_RISK__ENABLED"] = "true", ["TELESUIVI_RISK__MODELPATH"] = Missing,
        });

        await server.WaitForExitAsync(TimeSpan.FromSeconds(60), "the server to stop");
        Assert.NotEqual(0, server.ExitCode);
        Assert.Contains($"the risk model {Missing} cannot be used", server.Output, StringComparison.Ordinal);
        Assert.Contains("Risk:ModelPath", server.Output, StringComparison.Ordinal);
    }

    /// <summary>A setting of the former risk alert policy stops the start with what replaced it, instead of being ignored.</summary>
    [Fact]
    public async Task Serve_MaterialRiseOfTheFormerPolicySet_StopsNamingWhatReplacedIt()
    {
        await using var server = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string> { ["TELESUIVI_ALERTS__RISK__MATERIALRISE"] = "0.1" });

        await server.WaitForExitAsync(TimeSpan.FromSeconds(60), "the server to stop");
        Assert.NotEqual(0, server.ExitCode);
        Assert.Contains("Alerts:Risk:MaterialRise (0.1) is no longer read", server.Output, StringComparison.Ordinal);
        Assert.Contains("Alerts:Risk:CoolDown", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ModelMissingAndScoringNotRequired_RunsWithScoringOffInHealth()
    {
        await using var server = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string> { ["TELESUIVI_RISK__MODELPATH"] = Missing });
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        using var http = server.CreateClient();

        using var health = JsonDocument.Parse(await http.GetStringAsync(new Uri("/health/ready", UriKind.Relative), TestContext.Current.CancellationToken));
        var risk = health.RootElement.GetProperty("checks").GetProperty("risk");
        Assert.Equal("Degraded", risk.GetProperty("status").GetString());
        Assert.StartsWith("off: the risk model", risk.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("Risk scoring is OFF", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void RiskModel_NotAModelFile_IsAConfigurationErrorWhenRequired()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "not a zip");
            using var model = new RiskModel();

            var error = Assert.Throws<TeleSuivi.Server.ConfigurationException>(() => model.Load(new RiskOptions { Enabled = true, ModelPath = file }));
            Assert.Contains("Risk:Enabled is true", error.Message, StringComparison.Ordinal);
            Assert.Null(model.Scorer);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void RiskReadings_BloodPressurePanel_GivesBothPressures()
    {
        var panel = new Observation
        {
            Code = new CodeableConcept("http://loinc.org", "85354-9"),
            Effective = new FhirDateTime(new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero)),
        };
        panel.Component.Add(new Observation.ComponentComponent { Code = new CodeableConcept("http://loinc.org", "8480-6"), Value = new Quantity(142, "mm[Hg]") });
        panel.Component.Add(new Observation.ComponentComponent { Code = new CodeableConcept("http://loinc.org", "8462-4"), Value = new Quantity(88, "mm[Hg]") });

        var readings = RiskReadings.Of(panel).ToList();

        Assert.Equal([("systolic-pressure", 142.0), ("diastolic-pressure", 88.0)], readings.Select(r => (r.Measure, r.Value)));
    }

    [Fact]
    public void RiskReadings_OtherUnitOrCode_IsNoFeature()
    {
        var at = new FhirDateTime(new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero));
        var weightInPounds = new Observation { Code = new CodeableConcept("http://loinc.org", "29463-7"), Effective = at, Value = new Quantity(160, "[lb_av]") };
        var height = new Observation { Code = new CodeableConcept("http://loinc.org", "8302-2"), Effective = at, Value = new Quantity(170, "cm") };
        var pm25 = new Observation { Code = new CodeableConcept("https://telesuivi.org/fhir/CodeSystem/measure", "ambient-pm25"), Effective = at, Value = new Quantity(42, "ug/m3") };

        Assert.Empty(RiskReadings.Of(weightInPounds));
        Assert.Empty(RiskReadings.Of(height));
        Assert.Equal(TeleSuivi.Risk.Cohort.EnvironmentVariable.Pm25, RiskReadings.EnvironmentVariableOf(Assert.Single(RiskReadings.Of(pm25)).Measure));
    }

    [Fact]
    public void RiskAssessmentId_SamePatientAndTime_IsTheSame()
    {
        var at = new DateTimeOffset(2026, 1, 15, 23, 0, 0, TimeSpan.Zero);

        Assert.Equal(RiskAssessments.IdOf("p1", at), RiskAssessments.IdOf("p1", at.ToOffset(TimeSpan.FromHours(1))));
        Assert.NotEqual(RiskAssessments.IdOf("p1", at), RiskAssessments.IdOf("p1", at.AddSeconds(1)));
        Assert.NotEqual(RiskAssessments.IdOf("p1", at), RiskAssessments.IdOf("p2", at));
        Assert.Matches("^[A-Za-z0-9.-]{1,64}$", RiskAssessments.IdOf("p1", at));
    }

    [Fact]
    public void RiskAssessment_Built_CarriesProbabilityReasonsAndHorizon()
    {
        var at = new DateTimeOffset(2026, 1, 15, 23, 0, 0, TimeSpan.Zero);
        var score = new RiskScore(0.4321234567, -1.5, [new RiskReason("oxygen-saturation", 0.8, "SpO2 3 points below her usual for 36 h", "SpO2 3 points sous sa valeur habituelle depuis 36 h")]);

        var assessment = RiskAssessments.Build("p1", at, score, "exacerbation-72h-v4");

        Assert.Equal(0.432123, RiskAssessments.Probability(assessment));
        Assert.Equal("SpO2 3 points below her usual for 36 h.", assessment.Prediction[0].Rationale);
        Assert.Equal("SpO2 3 points below her usual for 36 h", Assert.Single(assessment.Note).Text);
        Assert.Equal("Patient/p1", assessment.Subject.Reference);
    }
}
