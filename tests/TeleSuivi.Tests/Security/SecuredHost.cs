using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Server.Security;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Security;

/// <summary>
/// The real platform host, built by <see cref="PlatformHost.Build"/> and started in this process on free ports (embedded
/// broker, SQLite), so that tests can read its endpoints (<c>EndpointDataSource</c>) and talk to it over real HTTP.
/// One more route is added before it starts, as another feature would add one later: <c>/api/test/patients/{patientId}</c>
/// with <see cref="PatientAccessEndpoints.RequirePatientAccess{TBuilder}"/>.
/// </summary>
public sealed class SecuredHost : IAsyncLifetime
{
    public const string PatientRoute = "/api/test/patients/{patientId}";

    private WebApplication? app;

    public WebApplication App => app ?? throw new InvalidOperationException("not started");

    public Uri BaseUrl { get; private set; } = new("http://127.0.0.1");

    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;

    public async ValueTask InitializeAsync()
    {
        BaseUrl = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var settings = new PlatformSettings
        {
            Urls = BaseUrl.ToString().TrimEnd('/'),
            MqttPort = LoopbackPort.Free(),
            DataDirectory = DataDirectory,
        };
        app = PlatformHost.Build(settings, builder => builder.Configuration[$"{SecurityOptions.Section}:{nameof(SecurityOptions.BootstrapApiKey)}"] = TeleSuiviProcess.AdminApiKey);
        app.MapGet(PatientRoute, (string patientId) => Results.Ok(new { patientId })).RequirePatientAccess("patientId", "test.view");
        await app.StartAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>A client that sends no credentials and does not follow redirects (to see them).</summary>
    public HttpClient Anonymous() =>
        new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };

    public HttpClient Admin() => TeleSuiviProcess.CreateClient(BaseUrl);

    /// <summary>A client with a new API key of this role and teams, made as <c>telesuivi apikey create</c> makes one.</summary>
    public async Task<HttpClient> KeyAsync(string role, params string[] teams)
    {
        var (_, secret) = await App.Services.GetRequiredService<AccountStore>().CreateApiKeyAsync($"test-{role}", role, teams, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);
        var http = Anonymous();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return http;
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean in /tmp.
        }
    }
}
