using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Risk;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// <c>GET /fhir/RiskAssessment</c> (search by patient, date of the score, newest or oldest first) and
/// <c>GET /fhir/RiskAssessment/{id}</c>, from the online scorer's <see cref="RiskAssessmentStore"/>.
/// </summary>
internal static class FhirRiskAssessments
{
    public const string ResourceType = "RiskAssessment";

    /// <summary>What the CapabilityStatement says of RiskAssessment.</summary>
    public const string Documentation =
        "The online risk scores (README \"Risk model\"): one per patient score, the probability of an exacerbation within 72 h with its reasons. A search names one patient; ordered by date (occurrenceDateTime), oldest first, or latest first with _sort=-date.";

    private const string Subject = "subject", Patient = "patient", Date = "date", Count = "_count", Sort = "_sort";

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal) { Subject, Patient, Date, Count, Sort, FhirPageToken.Parameter };
    private static readonly string[] PatientTypes = ["Patient"];
    private static readonly FhirJsonDeserializer Parser = FhirJsonDeserializer.OSTRICH;

    public static async Task<IResult> SearchAsync(FhirRequest request, RiskAssessmentStore store, CancellationToken cancellationToken)
    {
        var ignored = request.CheckKnown(Known, "a RiskAssessment search");
        var (subject, none) = request.SingleSubject(
            PatientTypes, "patient", "a RiskAssessment search must name its patient: subject=Patient/{id} (or patient={id})");
        var (from, through, count, descending, criteria, fingerprint, pageValue, page) = FhirDatedSearch.Read(request, Subject, subject, []);

        (List<StoredRiskAssessment> Matches, long? Total, string? Next, string? Previous) found = ([], 0, null, null);
        if (!none)
        {
            found = await FhirPageToken.ReadPageAsync(
                page,
                count,
                fingerprint,
                async (backwards, after, limit) =>
                {
                    var (stored, all) = await store.SearchAsync(subject["Patient/".Length..], Ms(from), Ms(through), descending ^ backwards, after, limit, cancellationToken);
                    return (stored, (long?)all);
                },
                stored => (stored.OccurrenceMs, stored.Id));
        }

        var (matches, total, next, previous) = found;
        var resources = matches.Select(m => (Resource)Parser.Deserialize<RiskAssessment>(m.Json)).ToList();
        var searchPage = new FhirSearchPage(ResourceType, resources, total, criteria, pageValue, next, previous, ignored);
        return FhirResults.Resource(searchPage.ToBundle(request), pretty: request.IsPretty);
    }

    public static async Task<IResult> ReadAsync(FhirRequest request, string id, RiskAssessmentStore store, CancellationToken cancellationToken)
    {
        request.CheckKnown(new HashSet<string>(), "a read");
        if (!FhirSearchValues.IsId(id))
        {
            throw FhirRequestException.BadParameter($"'{id}' is not a valid FHIR id");
        }

        // The access filter checks the subject of what is returned (403 for another team's patient).
        return await store.FindAsync(id, cancellationToken) is { } stored
            ? FhirResults.Resource(Parser.Deserialize<RiskAssessment>(stored.Json), pretty: request.IsPretty)
            : throw FhirRequestException.NotFound($"RiskAssessment/{id} is not known");
    }

    private static long Ms(DateTimeOffset time) =>
        time <= DateTimeOffset.MinValue ? long.MinValue : time >= DateTimeOffset.MaxValue ? long.MaxValue : time.ToUnixTimeMilliseconds();
}
