namespace TeleSuivi.Server.Storage;

public static class ObservationStoreFactory
{
    public static IObservationStore Create(StoreOptions options)
    {
        var address = options.ResolveAddress();
        return address.Kind switch
        {
            StoreKind.Sqlite => new SqliteObservationStore(address.SqlitePath!),
            _ => throw new ConfigurationException($"the InfluxDB store ({address.Display}) is not available in this build"),
        };
    }
}
