using Hl7.Fhir.Model;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Fhir;

/// <summary>The FHIR R4 facade under <c>/fhir</c>.</summary>
public static class FhirEndpoints
{
    /// <summary>Largest Bundle accepted by <c>POST /fhir</c>: a registry of 100,000 patients fits.</summary>
    private const long MaxBundleBytes = 256L * 1024 * 1024;

    public static IEndpointRouteBuilder MapTeleSuiviFhir(this IEndpointRouteBuilder endpoints)
    {
        var fhir = endpoints.MapGroup("/fhir");
        fhir.MapPost("/", ImportBundleAsync);
        return endpoints;
    }

    /// <summary><c>POST /fhir</c>: a transaction Bundle of Patient, Device and DeviceUseStatement, applied all or nothing.</summary>
    private static async Task<IResult> ImportBundleAsync(HttpRequest request, RegistryBundleImporter importer, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBundleBytes)
        {
            return FhirResults.Outcome(StatusCodes.Status413PayloadTooLarge, OperationOutcome.IssueType.TooCostly, $"a Bundle may be at most {MaxBundleBytes / (1024 * 1024)} MiB");
        }

        var mediaType = request.ContentType?.Split(';')[0].Trim();
        if (mediaType is not ("application/fhir+json" or "application/json"))
        {
            return FhirResults.Outcome(StatusCodes.Status415UnsupportedMediaType, OperationOutcome.IssueType.NotSupported,
                $"Content-Type '{request.ContentType}' is not supported: send application/fhir+json");
        }

        using var reader = new StreamReader(request.Body);
        var json = await reader.ReadToEndAsync(cancellationToken);
        try
        {
            var result = await importer.ImportAsync(json, cancellationToken);
            var response = new Bundle { Type = Bundle.BundleType.TransactionResponse };
            foreach (var (resourceType, id) in result.Entries)
            {
                response.Entry.Add(new Bundle.EntryComponent
                {
                    Response = new Bundle.ResponseComponent { Status = "200 OK", Location = $"{resourceType}/{id}" },
                });
            }

            return FhirResults.Resource(response);
        }
        catch (RegistryImportException ex)
        {
            return FhirResults.Outcome(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, ex.Problems);
        }
    }
}
