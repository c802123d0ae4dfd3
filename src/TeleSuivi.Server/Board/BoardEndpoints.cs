using TeleSuivi.Server.Security;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Server.Board;

public static class BoardEndpoints
{
    /// <summary>The pages (<c>/</c> board, <c>/patients/{id}</c>, <c>/status</c>), the triage hub and the alert and patient APIs.</summary>
    public static WebApplication MapTriageBoard(this WebApplication app)
    {
        app.MapHub<TriageHub>("/hubs/triage");
        app.MapAlertApi();
        app.MapPatientApi();
        app.MapGet("/patients/{id}", (IWebHostEnvironment environment) => Page(environment, "patient.html")).RequirePatientAccess("id", "patient.page");
        app.MapGet("/status", (IWebHostEnvironment environment) => Page(environment, "status.html"));
        return app;
    }

    private static IResult Page(IWebHostEnvironment environment, string name)
    {
        var file = environment.WebRootFileProvider.GetFileInfo(name);
        return file.Exists && file.PhysicalPath is { } path ? Results.File(path, "text/html; charset=utf-8") : Results.NotFound();
    }
}
