using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Security;

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
        var subjects = new List<string>();
        foreach (var parameter in request.Values(Subject, "Patient").Concat(request.Values(Patient)))
        {
            var values = FhirSearchValues.SplitList(parameter.Value);
            if (values.Count != 1)
            {
                throw FhirRequestException.NotSupported($"'{parameter.FullName}={parameter.Value}': one patient per search");
            }

            subjects.Add(FhirSearchValues.Reference(parameter.FullName, values[0], "Patient", PatientTypes, request.BaseUrl));
        }

        if (subjects.Count == 0)
        {
            throw FhirRequestException.BadParameter("a RiskAssessment search must name its patient: subject=Patient/{id} (or patient={id})");
        }

        foreach (var named in subjects.Distinct(StringComparer.Ordinal))
        {
            FhirAccess.DemandSubject(request.Http, named);
        }

        var subject = subjects[0];
        var none = subjects.Distinct(StringComparer.Ordinal).Count() > 1;
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
        criteria.AddRange(dates.Select(d => (Date, d.Replace(' ', '+'))));
        criteria.Add((Sort, sort));
        var fingerprint = FhirPageToken.FingerprintOf(criteria.Select(c => $"{c.Item1}={c.Item2}"));
        criteria.Add((Count, count.ToString(CultureInfo.InvariantCulture)));
        var pageValue = request.Once(FhirPageToken.Parameter);
        var page = pageValue is null ? null : FhirPageToken.Decode(pageValue, fingerprint);

        List<StoredRiskAssessment> matches = [];
        long total = 0;
        var more = false;
        var backwards = page is { Forward: false };
        if (!none)
        {
            var (found, all) = await store.SearchAsync(
                subject["Patient/".Length..], Ms(from), Ms(through), descending ^ backwards, page is null ? null : (page.Position, page.Id), count + 1, cancellationToken);
            more = found.Count > count;
            matches = backwards ? found.Take(count).Reverse().ToList() : found.Take(count).ToList();
            total = all;
        }

        var (next, previous) = FhirPageToken.Around(
            matches.Count == 0 ? null : (matches[0].OccurrenceMs, matches[0].Id),
            matches.Count == 0 ? null : (matches[^1].OccurrenceMs, matches[^1].Id),
            page, more, fingerprint);

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
