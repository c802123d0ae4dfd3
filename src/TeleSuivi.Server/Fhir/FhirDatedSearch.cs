using System.Globalization;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// What a search of one subject's resources by date (Observation, RiskAssessment) reads besides its own filters: the
/// date window, the page size, the sort, the page asked for, and the criteria that the page's links repeat.
/// </summary>
public sealed record FhirDatedSearch(
    DateTimeOffset From, DateTimeOffset Through, int Count, bool Descending, List<(string, string)> Criteria, string Fingerprint, string? PageValue, FhirPageToken? Page)
{
    public const string Date = "date", CountParameter = "_count", Sort = "_sort";

    /// <param name="filters">The resource's own criteria (Observation: <c>code</c>), kept between the subject and the dates.</param>
    public static FhirDatedSearch Read(FhirRequest request, string subjectParameter, string subject, IEnumerable<(string, string)> filters)
    {
        ArgumentNullException.ThrowIfNull(request);
        var dates = request.Values(Date).Select(p => p.Value).ToList();
        var (from, through) = FhirDateSearch.Window(dates);
        var count = FhirSearchValues.Count(request.Once(CountParameter));
        var sort = request.Once(Sort) ?? "date";
        var descending = FhirSearchValues.DescendingByDate(sort);
        var criteria = new List<(string, string)> { (subjectParameter, subject) };
        criteria.AddRange(filters);
        criteria.AddRange(dates.Select(d => (Date, d.Replace(' ', '+'))));
        criteria.Add((Sort, sort));
        var fingerprint = FhirPageToken.FingerprintOf(criteria.Select(c => $"{c.Item1}={c.Item2}"));
        criteria.Add((CountParameter, count.ToString(CultureInfo.InvariantCulture)));
        var pageValue = request.Once(FhirPageToken.Parameter);
        return new(from, through, count, descending, criteria, fingerprint, pageValue, pageValue is null ? null : FhirPageToken.Decode(pageValue, fingerprint));
    }
}
