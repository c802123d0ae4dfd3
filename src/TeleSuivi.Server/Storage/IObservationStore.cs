using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The time-series store of FHIR Observations. Two implementations: <see cref="SqliteObservationStore"/>
/// (embedded default) and the InfluxDB one (production). Writes are idempotent: an Observation written
/// twice under the same id is stored once.
/// </summary>
public interface IObservationStore
{
    /// <summary>The store's address without credentials, for logs and health reports.</summary>
    string Display { get; }

    /// <summary>
    /// Opens the store and creates its schema or database if needed. Throws <see cref="ConfigurationException"/>
    /// with a clear message when it cannot be reached or used.
    /// </summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken);

    /// <summary>Writes and reads back a probe: proves the store accepts writes right now.</summary>
    Task CheckWritableAsync(CancellationToken cancellationToken);
}
