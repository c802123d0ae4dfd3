using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Fhir;

/// <summary>Writes FHIR resources as <c>application/fhir+json</c>, and errors as an OperationOutcome.</summary>
public static class FhirResults
{
    public const string ContentType = "application/fhir+json";

    private static readonly FhirJsonSerializer Serializer = new();

    public static IResult Resource(Resource resource, int statusCode = StatusCodes.Status200OK, bool pretty = false) =>
        new FhirResourceResult(resource, statusCode, pretty);

    internal static IResult Serialized(Resource resource, int statusCode, bool pretty) =>
        Results.Text(Serializer.SerializeToString(resource, pretty), $"{ContentType}; fhirVersion=4.0", System.Text.Encoding.UTF8, statusCode);

    public static IResult Outcome(int statusCode, OperationOutcome.IssueType type, params IEnumerable<string> messages) =>
        Resource(OutcomeOf(OperationOutcome.IssueSeverity.Error, type, messages), statusCode);

    public static OperationOutcome OutcomeOf(OperationOutcome.IssueSeverity severity, OperationOutcome.IssueType type, IEnumerable<string> messages)
    {
        var outcome = new OperationOutcome();
        foreach (var message in messages)
        {
            outcome.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = severity,
                Code = type,
                Diagnostics = message,
            });
        }

        return outcome;
    }
}

/// <summary>A FHIR answer that keeps its resource until written, so that filters (access, audit) can see what it holds.</summary>
public sealed class FhirResourceResult(Resource resource, int statusCode, bool pretty) : IResult, IStatusCodeHttpResult
{
    public Resource Resource { get; } = resource;

    public int StatusCode { get; } = statusCode;

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public System.Threading.Tasks.Task ExecuteAsync(HttpContext httpContext) => FhirResults.Serialized(Resource, StatusCode, pretty).ExecuteAsync(httpContext);
}

/// <summary>A request the FHIR facade refuses: answered with an OperationOutcome and this status.</summary>
public sealed class FhirRequestException(int statusCode, OperationOutcome.IssueType issueType, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public OperationOutcome.IssueType IssueType { get; } = issueType;

    public static FhirRequestException BadParameter(string message) =>
        new(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, message);

    public static FhirRequestException NotSupported(string message) =>
        new(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.NotSupported, message);

    public static FhirRequestException NotFound(string message) =>
        new(StatusCodes.Status404NotFound, OperationOutcome.IssueType.NotFound, message);
}
