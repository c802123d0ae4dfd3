using System.Globalization;
using Hl7.Fhir.Model;
using TeleSuivi.Server.Security;
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
    private static readonly string[] PatientTypes = ["Patient"];

    public static async Task<IResult> SearchAsync(FhirRequest request, IObservationStore store, CancellationToken cancellationToken)
    {
        var ignored = request.CheckKnown(Known, "an Observation search");

        // subject / patient: exactly one subject.
        var subjects = new List<string>();
        foreach (var parameter in request.Values(Subject, SubjectTypes).Concat(request.Values(Patient, "Patient")))
        {
            var values = FhirSearchValues.SplitList(parameter.Value);
            if (values.Count != 1)
            {
                throw FhirRequestException.NotSupported($"'{parameter.FullName}={parameter.Value}': one subject per search");
            }

            var isPatient = parameter.Name == Patient || parameter.Modifier == "Patient";
            subjects.Add(FhirSearchValues.Reference(
                parameter.FullName, values[0], parameter.Modifier ?? "Patient", isPatient ? PatientTypes : (parameter.Modifier is { } type ? [type] : SubjectTypes), request.BaseUrl));
        }

        if (subjects.Count == 0)
        {
            throw FhirRequestException.BadParameter(
                "an Observation search must name its subject: subject=Patient/{id} (or patient={id}); searching every patient's readings is not supported");
        }

        var subject = subjects[0];
        foreach (var named in subjects.Distinct(StringComparer.Ordinal))
        {
            FhirAccess.DemandSubject(request.Http, named);
        }

        var none = subjects.Distinct(StringComparer.Ordinal).Count() > 1; // two different subjects: nothing has both

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

        var dates = request.Values(Date).Select(p => p.Value).ToList();
        var (from, through) = FhirDateSearch.Window(dates);
        var count = FhirSearchValues.Count(request.Once(Count));
        var sort = request.Once(Sort) ?? "date";
        if (sort is not ("date" or "-date"))
        {
            throw FhirRequestException.NotSupported($"_sort '{sort}' is not supported: date (oldest first, the default) or -date (latest first)");
        }

        var descending = sort == "-date";
        var criteria = new List<(string, string)> { (Subject, subject) };
        criteria.AddRange(codeParameters.Select(p => (Code, p.Value)));
        criteria.AddRange(dates.Select(d => (Date, d.Replace(' ', '+'))));
        criteria.Add((Sort, sort));
        var fingerprint = FhirPageToken.FingerprintOf(criteria.Select(c => $"{c.Item1}={c.Item2}"));
        criteria.Add((Count, count.ToString(CultureInfo.InvariantCulture)));
        var pageValue = request.Once(FhirPageToken.Parameter);
        var page = pageValue is null ? null : FhirPageToken.Decode(pageValue, fingerprint);

        List<ObservationMatch> matches = [];
        long? total = 0;
        var more = false;
        if (!none)
        {
            // One more than the page, to know whether there is a page beyond; a previous page reads backwards.
            var backwards = page is { Forward: false };
            var result = await store.SearchAsync(
                new ObservationSearch(subject, codes ?? [], from, through, descending ^ backwards, page is null ? null : new ObservationCursor(page.Position, page.Id), count + 1),
                cancellationToken);
            more = result.Matches.Count > count;
            matches = backwards ? result.Matches.Take(count).Reverse().ToList() : result.Matches.Take(count).ToList();
            total = result.Total;
        }

        var (next, previous) = FhirPageToken.Around(
            matches.Count == 0 ? null : (matches[0].Cursor.Position, matches[0].Cursor.Id),
            matches.Count == 0 ? null : (matches[^1].Cursor.Position, matches[^1].Cursor.Id),
            page, more, fingerprint);

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
