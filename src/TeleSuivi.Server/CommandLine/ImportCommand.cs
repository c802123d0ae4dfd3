using System.CommandLine;
using System.Net.Http.Headers;
using System.Text.Json;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi import BUNDLE</c>: registers patients, devices and assignments from a FHIR transaction Bundle.</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("bundle") { Description = "FHIR R4 transaction Bundle (JSON) of Patient, Device and DeviceUseStatement" };
        var server = ServerOption.Create("Send the Bundle to this running TeleSuivi (POST /fhir)");
        var data = new Option<string?>("--data")
        {
            Description = "Write straight into the registry in this data folder instead (only while no server uses it)",
            HelpName = "DIR",
        };
        var command = new Command("import", "Register patients, devices and device assignments from a FHIR transaction Bundle.") { file, server, data };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var bundle = parse.GetValue(file)!;
            if (!bundle.Exists)
            {
                await Console.Error.WriteLineAsync($"error: {bundle.FullName} does not exist");
                return ExitCodes.StartFailed;
            }

            var json = await File.ReadAllTextAsync(bundle.FullName, cancellationToken);
            return parse.GetValue(data) is { } directory
                ? await ImportOfflineAsync(json, directory, cancellationToken)
                : await ImportThroughServerAsync(json, ServerOption.Read(parse, server), cancellationToken);
        });
        return command;
    }

    private static async Task<int> ImportOfflineAsync(string json, string directory, CancellationToken cancellationToken)
    {
        using var registry = new DeviceRegistry(WorkflowDatabase.Create(WorkflowOptions.FromEnvironment(), directory, DeviceRegistry.FileName));
        await registry.InitializeAsync(cancellationToken);
        try
        {
            var result = await new RegistryBundleImporter(registry, TimeProvider.System).ImportAsync(json, cancellationToken);
            Console.WriteLine($"Imported {result.Patients} patient(s), {result.Devices} device(s), {result.Assignments} assignment(s) into {registry.FilePath}");
            return ExitCodes.Success;
        }
        catch (RegistryImportException ex)
        {
            foreach (var problem in ex.Problems)
            {
                await Console.Error.WriteLineAsync($"error: {problem}");
            }

            return 1;
        }
    }

    private static async Task<int> ImportThroughServerAsync(string json, Uri server, CancellationToken cancellationToken)
    {
        using var http = ServerOption.Client(server, TimeSpan.FromMinutes(5));
        using var content = new StringContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(new Uri("/fhir", UriKind.Relative), content, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            await Console.Error.WriteLineAsync($"error: cannot reach TeleSuivi at {server}: {ex.Message} (start it, or use --data DIR while it is stopped)");
            return ExitCodes.StartFailed;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                using var document = JsonDocument.Parse(body);
                var count = document.RootElement.TryGetProperty("entry", out var entries) ? entries.GetArrayLength() : 0;
                Console.WriteLine($"Imported {count} resource(s) into {server}");
                return ExitCodes.Success;
            }

            await Console.Error.WriteLineAsync(response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden
                ? $"error: {ServerOption.Refused(server, response.StatusCode)}"
                : $"error: {server} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            foreach (var message in Diagnostics(body))
            {
                await Console.Error.WriteLineAsync($"error: {message}");
            }

            return 1;
        }
    }

    private static List<string> Diagnostics(string operationOutcome)
    {
        try
        {
            using var document = JsonDocument.Parse(operationOutcome);
            return document.RootElement.TryGetProperty("issue", out var issues)
                ? issues.EnumerateArray().Select(i => i.TryGetProperty("diagnostics", out var d) ? d.GetString() ?? string.Empty : string.Empty).ToList()
                : [];
        }
        catch (JsonException)
        {
            return [operationOutcome];
        }
    }
}
