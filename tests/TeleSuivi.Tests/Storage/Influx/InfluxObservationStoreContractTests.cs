using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>The store contract on InfluxDB: the fixture's real influxd, a fresh database per test.</summary>
public sealed class InfluxObservationStoreContractTests(ExternalServices services) : ObservationStoreContract
{
    protected override IObservationStore CreateStore()
    {
        var options = new StoreOptions { Url = services.InfluxStoreUrl(ExternalServices.NewDatabaseName()) };
        return new InfluxObservationStore(options.ResolveAddress(), options);
    }
}
