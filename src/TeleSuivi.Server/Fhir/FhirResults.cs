using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Fhir;

/// <summary>Writes FHIR resources as <c>application/fhir+json</c>, and errors as an OperationOutcome.</summary>
public static class FhirResults
{
    public const string ContentType = "application/fhir+json";

    private static readonly FhirJsonSerializer Serializer = new();

    public static IResult Resource(Resource resource, int statusCode = StatusCodes.Status200OK) =>
        Results.Text(Serializer.SerializeToString(resource), ContentType, System.Text.Encoding.UTF8, statusCode);

    public static IResult Outcome(int statusCode, OperationOutcome.IssueType type, params IEnumerable<string> messages)
    {
        var outcome = new OperationOutcome();
        foreach (var message in messages)
        {
            outcome.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Error,
                Code = type,
                Diagnostics = message,
            });
        }

        return Resource(outcome, statusCode);
    }
}
