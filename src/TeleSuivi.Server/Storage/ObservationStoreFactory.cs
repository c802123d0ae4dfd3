namespace TeleSuivi.Server.Storage;

public static class ObservationStoreFactory
{
    public static IObservationStore Create(StoreOptions options, ILoggerFactory? loggers = null)
    {
        var address = options.ResolveAddress();
        return address.Kind switch
        {
            StoreKind.Sqlite => new SqliteObservationStore(address.SqlitePath!, loggers?.CreateLogger<SqliteObservationStore>()),
            _ => new Influx.InfluxObservationStore(address, options, loggers),
        };
    }
}
