using Hl7.Fhir.Model;

namespace TeleSuivi.Server.Fhir;

/// <summary>One page of a search, as the facade answers it: a <c>searchset</c> Bundle with its links.</summary>
/// <param name="Criteria">The parameters the search used, normalised, in a stable order (without <c>_page</c>): they make the links.</param>
/// <param name="Page">The <c>_page</c> of this page, or null for the first.</param>
/// <param name="Next">The token of the next page, or null when this is the last.</param>
/// <param name="Previous">The token of the previous page, or null when this is the first.</param>
/// <param name="Ignored">Unknown parameters ignored under <c>Prefer: handling=lenient</c>, reported in an OperationOutcome entry.</param>
internal sealed record FhirSearchPage(
    string ResourceType,
    IReadOnlyList<Resource> Matches,
    long? Total,
    IReadOnlyList<(string Name, string Value)> Criteria,
    string? Page,
    string? Next,
    string? Previous,
    IReadOnlyList<FhirParameter> Ignored)
{
    public Bundle ToBundle(FhirRequest request)
    {
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Searchset,
            Total = Total is { } total ? (int)Math.Min(total, int.MaxValue) : null,
            Timestamp = DateTimeOffset.UtcNow,
        };
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = Link(request, Page) });
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "first", Url = Link(request, null) });
        if (Previous is not null)
        {
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "previous", Url = Link(request, Previous) });
        }

        if (Next is not null)
        {
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Link(request, Next) });
        }

        foreach (var resource in Matches)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = $"{request.BaseUrl}/{resource.TypeName}/{resource.Id}",
                Resource = resource,
                Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match },
            });
        }

        if (Ignored.Count > 0)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = $"urn:uuid:{Guid.NewGuid()}",
                Resource = FhirResults.OutcomeOf(
                    OperationOutcome.IssueSeverity.Warning,
                    OperationOutcome.IssueType.NotSupported,
                    Ignored.Select(p => p.FullName).Distinct().Select(name => $"parameter '{name}' is not supported and was ignored (Prefer: handling=lenient)")),
                Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Outcome },
            });
        }

        return bundle;
    }

    private string Link(FhirRequest request, string? page) =>
        request.Link(ResourceType, page is null ? Criteria : [.. Criteria, (FhirPageToken.Parameter, page)]);
}
