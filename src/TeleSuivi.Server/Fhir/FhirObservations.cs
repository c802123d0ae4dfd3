using Hl7.Fhir.Model;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// <c>GET /fhir/Observation</c> (search) and <c>GET /fhir/Observation/{id}</c> (read), straight from the observation store.
/// </summary>
/// <remarks>
/// A search names one subject (<c>subject</c> or its alias <c>patient</c>): the stores are indexed by subject, and a
/// search across every patient would read the whole database. <c>code</c> matches the first coding of
/// <c>Observation.code</c> (the one the stores index: LOINC, or TeleSuivi's own code where LOINC has none).
/// </remarks>
internal static class FhirObservations
{
    public const string ResourceType = "Observation";

    private const string Subject = "subject", Patient = "patient", Code = "code", Date = "date", Count = "_count", Sort = "_sort";

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal) { Subject, Patient, Code, Date, Count, Sort, FhirPageToken.Parameter };
    private static readonly string[] SubjectTypes = ["Patient", "Location", "Group", "Device"];

    public static async Task<IResult> SearchAsync(FhirRequest request, IObservationStore store, CancellationToken cancellationToken)
    {
        var ignored = request.CheckKnown(Known, "an Observation search");

        var (subject, none) = request.SingleSubject(
            SubjectTypes, "subject", "an Observation search must name its subject: subject=Patient/{id} (or patient={id}); searching every patient's readings is not supported");

        // code: each occurrence is a list of tokens (OR); several occurrences all apply (AND).
        var codeParameters = request.Values(Code);
        List<string>? codes = null;
        if (codeParameters.Count > 0)
        {
            var known = await ExpandCodesAsync(store, subject, codeParameters, cancellationToken);
            for (var i = 0; i < codeParameters.Count; i++)
            {
                var tokens = FhirSearchValues.SplitList(codeParameters[i].Value).Select(v => FhirSearchValues.Token(Code, v)).ToList();
                var matching = tokens.SelectMany(t => t.IsExact ? [t.Key] : known.Where(t.Matches)).Distinct(StringComparer.Ordinal).ToList();
                codes = codes is null ? matching : codes.Intersect(matching, StringComparer.Ordinal).ToList();
            }

            codes ??= [];

            none |= codes.Count == 0;
        }

        var (from, through, count, descending, criteria, fingerprint, pageValue, page) = FhirDatedSearch.Read(request, Subject, subject, codeParameters.Select(p => (Code, p.Value)));

        (List<ObservationMatch> Matches, long? Total, string? Next, string? Previous) found = ([], 0, null, null);
        if (!none)
        {
            found = await FhirPageToken.ReadPageAsync(
                page,
                count,
                fingerprint,
                async (backwards, after, limit) =>
                {
                    var result = await store.SearchAsync(
                        new ObservationSearch(subject, codes ?? [], from, through, descending ^ backwards, after is { } cut ? new ObservationCursor(cut.Position, cut.Id) : null, limit),
                        cancellationToken);
                    return (result.Matches, result.Total);
                },
                match => (match.Cursor.Position, match.Cursor.Id));
        }

        var (matches, total, next, previous) = found;
        var searchPage = new FhirSearchPage(ResourceType, matches.Select(m => (Resource)m.Observation).ToList(), total, criteria, pageValue, next, previous, ignored);
        return FhirResults.Resource(searchPage.ToBundle(request), pretty: request.IsPretty);
    }

    public static async Task<IResult> ReadAsync(FhirRequest request, string id, IObservationStore store, CancellationToken cancellationToken)
    {
        request.CheckKnown(new HashSet<string>(), "a read");
        if (!FhirSearchValues.IsId(id))
        {
            throw FhirRequestException.BadParameter($"'{id}' is not a valid FHIR id");
        }

        return await store.FindAsync(id, cancellationToken) is { } observation
            ? FhirResults.Resource(observation, pretty: request.IsPretty)
            : throw FhirRequestException.NotFound($"Observation/{id} is not known");
    }

    /// <summary>The codes of the subject, when a token is not an exact system|code (bare code, |code is exact, system|).</summary>
    private static async Task<IReadOnlyList<string>> ExpandCodesAsync(IObservationStore store, string subject, IReadOnlyList<FhirParameter> parameters, CancellationToken cancellationToken)
    {
        var tokens = parameters.SelectMany(p => FhirSearchValues.SplitList(p.Value)).Select(v => FhirSearchValues.Token(Code, v)).ToList();
        return tokens.All(t => t.IsExact) ? [] : await store.ReadCodesAsync(subject, cancellationToken);
    }
}
