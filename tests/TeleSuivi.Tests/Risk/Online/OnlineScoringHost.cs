using TeleSuivi.Risk.Model;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>
/// The settings of the online-scoring tests' servers: every batch of readings is scored at once (no debounce), so a
/// test knows which readings each score saw.
/// </summary>
public static class OnlineScoringSettings
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public static readonly Dictionary<string, string> NoDebounce = new(StringComparer.Ordinal) { ["TELESUIVI_RISK__MINRESCOREINTERVAL"] = "00:00:00" };

    public static readonly string ShippedModelPath = Path.Combine(RepositoryPaths.Root, "models", "exacerbation-72h-v4.zip");

    /// <summary>The shipped model, as the server loads it.</summary>
    public static RiskScorer LoadShippedModel() => RiskScorer.Load(ShippedModelPath);

    public static TeleSuiviProcess StartServer(ExternalServices services, string? dataDirectory = null) =>
        TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/')], dataDirectory, NoDebounce);
}

/// <summary>One real <c>telesuivi serve</c> on the shared mosquitto for the tests that need no restart; each test has its own patients.</summary>
public sealed class OnlineScoringHost(ExternalServices services) : IAsyncLifetime
{
    public TeleSuiviProcess Process { get; private set; } = null!;

    public FhirClient Fhir { get; private set; } = null!;

    public MqttTestPublisher Publisher { get; private set; } = null!;

    public RiskScorer Scorer { get; } = OnlineScoringSettings.LoadShippedModel();

    public async ValueTask InitializeAsync()
    {
        Process = OnlineScoringSettings.StartServer(services);
        await Process.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        Fhir = new FhirClient(Process.BaseUrl);
        Publisher = await MqttTestPublisher.ConnectAsync(services.MqttUrl);
    }

    public async ValueTask DisposeAsync()
    {
        Scorer.Dispose();
        Fhir?.Dispose();
        if (Publisher is not null)
        {
            await Publisher.DisposeAsync();
        }

        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
    }
}
