using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage.Spool;

namespace TeleSuivi.Server.Storage;

/// <summary>Opens the stores before ingestion starts, so that a wrong path or an unreachable server fails the start with a clear message.</summary>
public sealed class StoreInitializer(IObservationStore store, DeadLetterStore deadLetters, DeviceRegistry registry, ObservationSpool spool) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        spool.Open();
        await store.InitializeAsync(cancellationToken);
        await deadLetters.InitializeAsync(cancellationToken);
        await registry.InitializeAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
