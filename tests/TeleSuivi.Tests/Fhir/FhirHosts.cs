using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Fhir;

/// <summary>
/// One real <c>telesuivi serve</c> per test class (on the shared mosquitto), and a writer to its observation store, so that
/// tests put Observations exactly where they want them and read them back through the API. Tests keep apart by
/// subject and device ids. Started on first use, stopped with the class.
/// </summary>
public abstract class FhirHost : IAsyncDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private TeleSuiviProcess? process;
    private IObservationStore? store;

    public TeleSuiviProcess Process => process ?? throw new InvalidOperationException("not started");

    /// <summary>A store over the same data as the process (the same SQLite file, the same InfluxDB database).</summary>
    public IObservationStore Store => store ?? throw new InvalidOperationException("not started");

    /// <summary>Whether the store counts cheaply, so that searchsets carry Bundle.total.</summary>
    public abstract bool CountsTotal { get; }

    public async Task StartAsync(ExternalServices services)
    {
        await gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (process is not null)
            {
                return;
            }

            var started = TeleSuiviProcess.Start("serve", ["--broker", services.MqttUrl.ToString().TrimEnd('/'), .. StoreArguments(services)]);
            try
            {
                await started.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
            }
            catch
            {
                await started.DisposeAsync();
                throw;
            }

            var writer = CreateStore(services, started);
            await writer.InitializeAsync(TestContext.Current.CancellationToken);
            (process, store) = (started, writer);
        }
        finally
        {
            gate.Release();
        }
    }

    protected abstract IReadOnlyList<string> StoreArguments(ExternalServices services);

    protected abstract IObservationStore CreateStore(ExternalServices services, TeleSuiviProcess started);

    public async ValueTask DisposeAsync()
    {
        (store as IDisposable)?.Dispose();
        if (process is not null)
        {
            await process.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        gate.Dispose();
        GC.SuppressFinalize(this);
    }
}

public sealed class SqliteFhirHost : FhirHost
{
    public override bool CountsTotal => true;

    protected override IReadOnlyList<string> StoreArguments(ExternalServices services) => ["--store", "sqlite"];

    protected override IObservationStore CreateStore(ExternalServices services, TeleSuiviProcess started) =>
        new SqliteObservationStore(Path.Combine(started.DataDirectory, "telesuivi.db"));
}

public sealed class InfluxFhirHost : FhirHost
{
    private readonly string database = ExternalServices.NewDatabaseName("fhir");

    public override bool CountsTotal => false;

    protected override IReadOnlyList<string> StoreArguments(ExternalServices services) => ["--store", services.InfluxStoreUrl(database)];

    protected override IObservationStore CreateStore(ExternalServices services, TeleSuiviProcess started)
    {
        var options = new StoreOptions { Url = services.InfluxStoreUrl(database) };
        return new InfluxObservationStore(options.ResolveAddress(), options);
    }
}
