using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Tests.Storage;

/// <summary>The store contract on the embedded SQLite store, in a temporary file.</summary>
public sealed class SqliteObservationStoreContractTests : ObservationStoreContract
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-sqlite-").FullName;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    protected override IObservationStore CreateStore() => new SqliteObservationStore(Path.Combine(directory, "observations.db"));
}
