using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// A score as a FHIR R4 <c>RiskAssessment</c>: status final, the patient, the scoring time, the model (method), one
/// prediction (the outcome, its probability, the next 72 h) and the reasons as plain sentences (one note each).
/// </summary>
/// <remarks>
/// The outcome is TeleSuivi's own code: SNOMED CT 195951007 names the acute exacerbation of COPD only, and the label
/// also counts heart-failure decompensations and the other conditions' events (models/MODEL_CARD.md), for which no
/// single SNOMED CT concept is honest.
/// </remarks>
public static class RiskAssessments
{
    public const string OutcomeSystem = "https://telesuivi.org/fhir/CodeSystem/risk-outcome";
    public const string OutcomeCode = "exacerbation-72h";
    public const string OutcomeText = "Exacerbation (onset) of a chronic condition within 72 h";
    public const string MethodSystem = "https://telesuivi.org/fhir/CodeSystem/risk-model";
    public static readonly TimeSpan Horizon = TimeSpan.FromHours(72);

    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>A FHIR id from patient and time: the same instant of the same patient always has the same id.</summary>
    public static string IdOf(string patientId, DateTimeOffset occurrence)
    {
        ArgumentNullException.ThrowIfNull(patientId);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{patientId}|{occurrence.ToUnixTimeMilliseconds()}")));
        return "risk-" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    public static RiskAssessment Build(string patientId, DateTimeOffset occurrence, RiskScore score, string modelVersion)
    {
        ArgumentNullException.ThrowIfNull(score);
        var at = occurrence.ToUniversalTime();
        var assessment = new RiskAssessment
        {
            Id = IdOf(patientId, at),
            Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow },
            Status = ObservationStatus.Final,
            Subject = new ResourceReference($"Patient/{patientId}"),
            Occurrence = new FhirDateTime(at),
            Method = new CodeableConcept(MethodSystem, modelVersion, $"TeleSuivi risk model {modelVersion}", $"TeleSuivi risk model {modelVersion}"),
        };
        assessment.Prediction.Add(new RiskAssessment.PredictionComponent
        {
            Outcome = new CodeableConcept(OutcomeSystem, OutcomeCode, OutcomeText, OutcomeText),
            Probability = new FhirDecimal(Math.Round((decimal)score.Probability, 6)),
            When = new Period(new FhirDateTime(at), new FhirDateTime(at + Horizon)),
            Rationale = score.Reasons.Count == 0 ? null : string.Join(" ", score.Reasons.Select(r => Sentence(r.Sentence))),
        });
        foreach (var reason in score.Reasons)
        {
            assessment.Note.Add(new Annotation { Text = new Markdown(reason.Sentence) });
        }

        return assessment;
    }

    /// <summary>The probability as stored: what the API serves and the alert policy is fed (6 decimals).</summary>
    public static double Probability(RiskAssessment assessment)
    {
        ArgumentNullException.ThrowIfNull(assessment);
        return (double)((assessment.Prediction.FirstOrDefault()?.Probability as FhirDecimal)?.Value ?? 0m);
    }

    public static string ToJson(RiskAssessment assessment) => Serializer.SerializeToString(assessment);

    private static string Sentence(string text) => text.EndsWith('.') ? text : text + ".";
}
