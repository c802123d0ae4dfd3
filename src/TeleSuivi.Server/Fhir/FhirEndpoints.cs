using Hl7.Fhir.Model;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Security;
using Task = System.Threading.Tasks.Task;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Server.Fhir;

/// <summary>
/// The FHIR R4 facade under <c>/fhir</c>, every route in one group. Every route needs a nurse, physician or admin
/// (the fallback policy); <see cref="FhirAccess"/> narrows each answer to the user's care teams and audits it.
/// What is served is exactly what <see cref="FhirCapabilities"/> lists.
/// </summary>
public static partial class FhirEndpoints
{
    /// <summary>Largest Bundle accepted by <c>POST /fhir</c>: a registry of 100,000 patients fits.</summary>
    private const long MaxBundleBytes = 256L * 1024 * 1024;

    private static readonly string[] Writes = [HttpMethods.Put, HttpMethods.Delete, HttpMethods.Patch];
    private static readonly string[] AllButGet = [HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Patch];
    private static readonly string[] AllButPost = [HttpMethods.Get, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Patch];

    /// <summary>Maps the facade; returns its route group (e.g. for <c>RequireAuthorization</c>).</summary>
    public static RouteGroupBuilder MapTeleSuiviFhir(this IEndpointRouteBuilder endpoints)
    {
        var fhir = endpoints.MapGroup("/fhir");
        fhir.AddEndpointFilter(AnswerErrorsAsOperationOutcomeAsync);
        fhir.AddEndpointFilter(FhirAccess.CheckAndAuditAsync);

        fhir.MapPost("/", ImportBundleAsync).RequireAuthorization(Policies.Admin);
        NotAllowed(fhir, "/", AllButPost, "POST");
        fhir.MapGet("/metadata", (HttpRequest http) =>
        {
            var request = FhirRequest.Read(http);
            request.CheckKnown(new HashSet<string>(), "metadata");
            return FhirResults.Resource(FhirCapabilities.Build(request.BaseUrl), pretty: request.IsPretty);
        }).AllowAnonymous(); // what the server can do, no patient data: clients read it before they authenticate
        NotAllowed(fhir, "/metadata", AllButGet, "GET");

        MapType(
            fhir,
            FhirObservations.ResourceType,
            (request, services, cancellationToken) => FhirObservations.SearchAsync(request, services.GetRequiredService<IObservationStore>(), cancellationToken),
            (request, id, services, cancellationToken) => FhirObservations.ReadAsync(request, id, services.GetRequiredService<IObservationStore>(), cancellationToken));
        MapType(
            fhir,
            "Patient",
            (request, services, _) => Task.FromResult<IResult>(FhirRegistryResources.SearchPatients(request, services.GetRequiredService<DeviceRegistry>(), services.GetRequiredService<PatientAccess>())),
            (request, id, services, _) => Task.FromResult<IResult>(FhirRegistryResources.ReadPatient(request, id, services.GetRequiredService<DeviceRegistry>())));
        MapType(
            fhir,
            "Device",
            (request, services, _) => Task.FromResult<IResult>(FhirRegistryResources.SearchDevices(request, services.GetRequiredService<DeviceRegistry>(), services.GetRequiredService<TimeProvider>(), services.GetRequiredService<PatientAccess>())),
            (request, id, services, _) => Task.FromResult<IResult>(FhirRegistryResources.ReadDevice(request, id, services.GetRequiredService<DeviceRegistry>())));
        MapType(
            fhir,
            "RiskAssessment",
            (request, services, cancellationToken) => FhirRiskAssessments.SearchAsync(request, services.GetRequiredService<Risk.RiskAssessmentStore>(), cancellationToken),
            (request, id, services, cancellationToken) => FhirRiskAssessments.ReadAsync(request, id, services.GetRequiredService<Risk.RiskAssessmentStore>(), cancellationToken));

        // Anything else under /fhir: a type or an operation this server does not have.
        fhir.Map("/{**path}", (HttpRequest http, string path) =>
        {
            FhirRequest.Read(http);
            return FhirResults.Outcome(StatusCodes.Status404NotFound, OperationOutcome.IssueType.NotSupported,
                $"'{http.Method} /fhir/{path}' is not supported: see GET /fhir/metadata for what this server serves");
        });
        return fhir;
    }

    /// <summary>
    /// <c>GET [type]</c> and <c>POST [type]/_search</c> (form body) search, <c>GET [type]/{id}</c> reads; other methods 405.
    /// </summary>
    private static void MapType(
        RouteGroupBuilder fhir,
        string type,
        Func<FhirRequest, IServiceProvider, CancellationToken, Task<IResult>> search,
        Func<FhirRequest, string, IServiceProvider, CancellationToken, Task<IResult>> read)
    {
        fhir.MapGet($"/{type}", (HttpRequest http, CancellationToken cancellationToken) =>
            search(FhirRequest.Read(http), http.HttpContext.RequestServices, cancellationToken));
        fhir.MapPost($"/{type}/_search", async (HttpRequest http, CancellationToken cancellationToken) =>
        {
            if (!http.HasFormContentType)
            {
                throw new FhirRequestException(StatusCodes.Status415UnsupportedMediaType, OperationOutcome.IssueType.NotSupported,
                    $"Content-Type '{http.ContentType}' is not supported: POST [type]/_search takes application/x-www-form-urlencoded");
            }

            var form = await http.ReadFormAsync(cancellationToken);
            return await search(FhirRequest.Read(http, form), http.HttpContext.RequestServices, cancellationToken);
        });
        fhir.MapGet($"/{type}/{{id}}", (HttpRequest http, string id, CancellationToken cancellationToken) =>
            read(FhirRequest.Read(http), id, http.HttpContext.RequestServices, cancellationToken));
        NotAllowed(fhir, $"/{type}", AllButGet, "GET");
        NotAllowed(fhir, $"/{type}/{{id}}", AllButGet, "GET");
        NotAllowed(fhir, $"/{type}/_search", AllButPost, "POST");
    }

    private static void NotAllowed(RouteGroupBuilder fhir, string pattern, string[] methods, string allowed) =>
        fhir.MapMethods(pattern, methods, (HttpContext context) =>
        {
            context.Response.Headers.Allow = allowed;
            return FhirResults.Outcome(StatusCodes.Status405MethodNotAllowed, OperationOutcome.IssueType.NotSupported,
                $"{context.Request.Method} is not supported on {context.Request.Path}: this server allows {allowed} there (see GET /fhir/metadata)");
        });

    /// <summary>Every refusal and failure as an OperationOutcome: the request's fault (4xx), the store's (503), a bug (500).</summary>
    private static async ValueTask<object?> AnswerErrorsAsOperationOutcomeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (FhirRequestException ex)
        {
            return FhirResults.Outcome(ex.StatusCode, ex.IssueType, ex.Message);
        }
        catch (InfluxUnavailableException ex)
        {
            LogStoreUnavailable(Log(context), ex, context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return FhirResults.Outcome(StatusCodes.Status503ServiceUnavailable, OperationOutcome.IssueType.Transient, $"the observation store is unavailable: {ex.Reason}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(Log(context), ex, context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return FhirResults.Outcome(StatusCodes.Status500InternalServerError, OperationOutcome.IssueType.Exception, "the server failed to answer this request; its log says why");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "FHIR {Method} {Path}: the observation store is unavailable")]
    private static partial void LogStoreUnavailable(ILogger logger, Exception exception, string method, PathString path);

    [LoggerMessage(Level = LogLevel.Error, Message = "FHIR {Method} {Path} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, PathString path);

    private static ILogger Log(EndpointFilterInvocationContext context) =>
        context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FhirEndpoints));

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

        var fhir = FhirRequest.Read(request);
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

            return FhirResults.Resource(response, pretty: fhir.IsPretty);
        }
        catch (RegistryImportException ex)
        {
            return FhirResults.Outcome(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, ex.Problems);
        }
    }
}
