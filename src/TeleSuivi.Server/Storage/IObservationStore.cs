using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The time-series store of FHIR Observations. Two implementations: <see cref="SqliteObservationStore"/>
/// (embedded default) and <see cref="Influx.InfluxObservationStore"/> (production). Writes are idempotent: an Observation written
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

    /// <summary>
    /// The Observations of one subject, exactly as they were written, oldest first: effective time (the start of a
    /// period) between <paramref name="from"/> and <paramref name="through"/>, both included, to the millisecond; of one
    /// code or of all; at most <paramref name="limit"/>. Observations of the same millisecond come in an order each
    /// store chooses, always the same.
    /// </summary>
    /// <param name="patientReference">The subject's reference as written, e.g. <c>Patient/123</c>.</param>
    /// <param name="code"><c>system|code</c> of the first coding of <c>Observation.code</c>, or null for every code.</param>
    Task<IReadOnlyList<Observation>> ReadAsync(
        string patientReference,
        string? code,
        DateTimeOffset from,
        DateTimeOffset through,
        int limit,
        CancellationToken cancellationToken);
}
