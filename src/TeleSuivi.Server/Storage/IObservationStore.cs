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

    /// <summary>
    /// One page of a subject's Observations (the FHIR search): effective time (the start of a period) in
    /// [<see cref="ObservationSearch.From"/>, <see cref="ObservationSearch.Through"/>], both included, to the millisecond;
    /// of any of <see cref="ObservationSearch.Codes"/> (exact <c>system|code</c> of the first coding) or of every code;
    /// ordered by effective time then by a tie-breaker each store keeps stable (so that a cursor never skips nor
    /// repeats an Observation, whatever is written meanwhile); strictly after <see cref="ObservationSearch.After"/>.
    /// </summary>
    Task<ObservationSearchResult> SearchAsync(ObservationSearch search, CancellationToken cancellationToken);

    /// <summary>The Observation with this id, exactly as it was written, or null. Never a scan of all the data.</summary>
    Task<Observation?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>The <c>system|code</c> tokens (first coding of <c>Observation.code</c>) a subject has Observations of, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ReadCodesAsync(string subject, CancellationToken cancellationToken);

    /// <summary>
    /// A subject's trend for one code: readings with an effective time in [<paramref name="from"/>,
    /// <paramref name="through"/>], both included, to the millisecond, raw or aggregated in buckets aligned on UTC
    /// minutes, hours or days (mean, min, max, count, last of each bucket that holds readings; empty buckets are
    /// left out). One series per numeric value: the value itself, and for a panel each component. Aggregating needs a
    /// bounded window (a bucket count the caller can afford).
    /// </summary>
    /// <param name="subject">The subject's reference, e.g. <c>Patient/123</c>.</param>
    /// <param name="code"><c>system|code</c> of the first coding of <c>Observation.code</c>.</param>
    Task<ObservationTrend> ReadTrendAsync(
        string subject,
        string code,
        DateTimeOffset from,
        DateTimeOffset through,
        TrendResolution resolution,
        CancellationToken cancellationToken);

    /// <summary>
    /// The environment of a zone: one trend per code measured there (subject <c>Location/{zoneId}</c>), in ordinal
    /// order of the codes, with the same window and buckets as <see cref="ReadTrendAsync"/>.
    /// </summary>
    Task<IReadOnlyList<ObservationTrend>> ReadEnvironmentAsync(
        string zoneId,
        DateTimeOffset from,
        DateTimeOffset through,
        TrendResolution resolution,
        CancellationToken cancellationToken);

    /// <summary>
    /// The latest reading of each code of each patient, in one query whatever the number of patients: for every
    /// (subject, code) the Observation with the greatest effective time, when that time is at or after
    /// <paramref name="since"/>. Ordered by subject then code (ordinal).
    /// </summary>
    /// <param name="subject">One subject (e.g. <c>Patient/123</c>), or null for every subject that is a <c>Patient/</c>.</param>
    Task<IReadOnlyList<LatestReading>> ReadLatestAsync(string? subject, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>
    /// How many Observations of each expected code arrived on each day from <paramref name="firstDay"/> to
    /// <paramref name="lastDay"/> (both included, at most 366 days), against the expected count per day. A day runs
    /// from midnight to midnight in <paramref name="timeZone"/> (UTC when null; 23 or 25 hours on daylight-saving
    /// changes); a reading counts on the day of its effective time. Every day and every expected code is listed,
    /// with 0 when nothing arrived; codes that are not expected are not counted.
    /// </summary>
    /// <param name="expectedPerDay">Expected readings per day by <c>system|code</c> (the monitoring plan).</param>
    Task<IReadOnlyList<DayCompleteness>> ReadCompletenessAsync(
        string subject,
        DateOnly firstDay,
        DateOnly lastDay,
        IReadOnlyDictionary<string, int> expectedPerDay,
        TimeZoneInfo? timeZone,
        CancellationToken cancellationToken);

    /// <summary>
    /// Enforces a retention by effective time: Observations more than <paramref name="retention"/> old go (zero: kept
    /// forever). SQLite deletes them now, in small transactions that never hold writers up for long; InfluxDB is given
    /// the retention as its default retention policy and removes them itself, a shard group at a time.
    /// </summary>
    Task<RetentionOutcome> ApplyRetentionAsync(TimeSpan retention, CancellationToken cancellationToken);

    /// <summary>
    /// Removes every Observation of one subject and everything the store keeps beside them (the right to erasure),
    /// then checks that none is left. Returns how many Observations were removed.
    /// </summary>
    /// <param name="subject">The subject's reference, e.g. <c>Patient/123</c>.</param>
    Task<long> EraseSubjectAsync(string subject, CancellationToken cancellationToken);
}

/// <summary>What enforcing the retention did: how many Observations went (null when the store removes them itself), in words.</summary>
public sealed record RetentionOutcome(long? Removed, string Summary);
