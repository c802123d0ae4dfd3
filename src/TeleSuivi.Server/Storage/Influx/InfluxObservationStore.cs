using System.Globalization;
using System.Runtime.ExceptionServices;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// The production observation store: an InfluxDB database reached over the v1 HTTP API (InfluxDB 1.x, or the
/// compatibility endpoints of 2.x and 3.x). One point per Observation; the schema is described in SCHEMA.md.
/// </summary>
public sealed partial class InfluxObservationStore : IObservationStore, IDisposable
{
    /// <summary>Where <see cref="CheckWritableAsync"/> writes its probes, apart from the Observations.</summary>
    public const string ProbeMeasurement = "store_probe";

    private readonly InfluxClient client;
    private readonly ILogger logger;
    private readonly ShapePoints shapes;

    /// <summary>The longest pause between two reads of a point being written (SCHEMA.md, "Points being written").</summary>
    private static readonly TimeSpan MaxBeingWrittenPause = TimeSpan.FromMilliseconds(200);

    private long readsOfPointsBeingWritten;
    private long incompletePoints;

    public InfluxObservationStore(StoreAddress address, StoreOptions options, ILoggerFactory? loggers = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        loggers ??= NullLoggerFactory.Instance;
        client = new InfluxClient(InfluxClientOptions.For(address, options), loggers.CreateLogger<InfluxClient>(), handler);
        logger = loggers.CreateLogger<InfluxObservationStore>();
        shapes = new ShapePoints(logger);
        Database = address.Database!;
        Display = address.Display;
    }

    public string Display { get; }

    /// <summary>
    /// How long a read waits for a point influxd is still storing to become whole before it takes it for a damaged one.
    /// Storing a point takes microseconds; the margin is for a loaded machine.
    /// </summary>
    internal TimeSpan BeingWrittenDeadline { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Reads made again because a point was being written (some of its fields visible, not all), since start.</summary>
    public long ReadsOfPointsBeingWritten => Interlocked.Read(ref readsOfPointsBeingWritten);

    /// <summary>Points still incomplete after <see cref="BeingWrittenDeadline"/>, whose reads failed, since start.</summary>
    public long IncompletePoints => Interlocked.Read(ref incompletePoints);

    public string Database { get; }

    /// <summary>The client this store speaks through (for the spool and the read models built on the same server).</summary>
    public InfluxClient Client => client;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var ping = await client.PingAsync(cancellationToken);
            LogConnected(Display, ping.Version ?? "unknown", ping.Build ?? "unknown");
        }
        catch (InfluxException ex)
        {
            throw new ConfigurationException($"cannot reach InfluxDB at {Display}: {ex.Reason}", ex);
        }

        string? createFailure = null;
        try
        {
            // Idempotent: creating a database that exists changes nothing.
            using var created = await client.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(Database)}", null, cancellationToken);
        }
        catch (Exception ex) when (ex is InfluxAccessException or InfluxQueryException)
        {
            // A user without admin rights (1.x), or a 2.x/3.x server where databases are buckets mapped by an
            // administrator: the database must exist already, which the probe below shows.
            createFailure = ((InfluxException)ex).Reason;
            LogCannotCreate(Display, createFailure);
        }
        catch (InfluxUnavailableException ex)
        {
            throw new ConfigurationException($"cannot reach InfluxDB at {Display}: {ex.Reason}", ex);
        }

        try
        {
            await CheckWritableAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InfluxException or InvalidOperationException)
        {
            var reason = (ex as InfluxException)?.Reason ?? ex.Message;
            var creation = createFailure is null ? string.Empty : $" (and it could not be created: {createFailure})";
            throw new ConfigurationException($"cannot write to InfluxDB at {Display}: {reason}{creation}", ex);
        }

        try
        {
            await BackfillAsync(cancellationToken);
        }
        catch (InfluxException ex)
        {
            throw new ConfigurationException($"cannot index the Observations of InfluxDB at {Display} (by id, by hour for roll-ups): {ex.Reason}", ex);
        }
    }

    /// <summary>Observations per request when a batch is cut to overlap serialising with sending (see <see cref="WriteAsync"/>).</summary>
    internal const int MinPartObservations = 125;

    /// <summary>
    /// Writes the Observations as one batch, cut into parts of at least <see cref="MinPartObservations"/> sent one after the
    /// other: the next part is serialised while the previous one is on the wire and influxd stores it, so that the
    /// client's CPU time (FHIR JSON, escaping) and the server's overlap instead of adding up (BENCHMARKS.md, "Storage").
    /// Throws <see cref="ArgumentException"/> when an Observation cannot be stored (no id, no effective time, text line
    /// protocol cannot carry): nothing of its part nor after it is sent, the parts before it were written (writes are
    /// idempotent). An <see cref="InfluxDataRejectedException"/> counts Observations of <paramref name="observations"/>
    /// (not points): the ones before <see cref="InfluxDataRejectedException.FirstPoint"/> were stored.
    /// </summary>
    public async Task WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(observations);
        if (observations.Count == 0)
        {
            return;
        }

        var parts = Math.Clamp(observations.Count / MinPartObservations, 1, 4);
        var partSize = (observations.Count + parts - 1) / parts;
        Part? next = Serialise(observations, 0, Math.Min(partSize, observations.Count));
        for (var start = 0; next is not null; start += partSize)
        {
            using var current = next;
            next = null;
            var sending = SendPartAsync(current.Points, start, Math.Min(partSize, observations.Count - start), cancellationToken);
            ExceptionDispatchInfo? badObservation = null;
            var following = start + partSize;
            if (following < observations.Count)
            {
                try
                {
                    next = Serialise(observations, following, Math.Min(partSize, observations.Count - following));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    badObservation = ExceptionDispatchInfo.Capture(ex);
                }
            }

            // The part on the wire is awaited whatever happened to the next one: its buffer is released only then, and
            // its failure (the store down) says more than a bad Observation after it.
            try
            {
                await sending;
            }
            catch
            {
                next?.Dispose();
                throw;
            }

            shapes.MarkStored(current.ShapePoints);

            if (badObservation is not null)
            {
                // The parts before the Observation that cannot be written are stored: their hours are changed too.
                await WriteChangeMarksAsync(observations, Math.Min(following, observations.Count), cancellationToken);
                badObservation.Throw();
            }
        }

        await WriteChangeMarksAsync(observations, observations.Count, cancellationToken);
    }

    private Part Serialise(IReadOnlyList<Observation> observations, int first, int count)
    {
        var points = new LineProtocolWriter(TimePrecision.Nanoseconds, Math.Min(count * 400, 4 * 1024 * 1024));
        var shapePoints = new HashSet<(long Shape, long Hour)>();
        try
        {
            for (var i = first; i < first + count; i++)
            {
                ObservationPoint.Write(points, observations[i], shapes, shapePoints);
                ObservationIdIndex.Write(points, observations[i]);
            }

            return new Part(points, shapePoints);
        }
        catch
        {
            points.Dispose();
            throw;
        }
    }

    /// <summary>The line protocol of a part of a batch, and the shape points it carries (remembered once influxd took them).</summary>
    private sealed record Part(LineProtocolWriter Points, HashSet<(long Shape, long Hour)> ShapePoints) : IDisposable
    {
        public void Dispose() => Points.Dispose();
    }

    private async Task SendPartAsync(LineProtocolWriter points, int first, int count, CancellationToken cancellationToken)
    {
        try
        {
            await client.WriteAsync(Database, points, cancellationToken);
        }
        catch (InfluxDataRejectedException ex)
        {
            // The client counts points (two per Observation, and shape points, in requests it may have cut further): the caller needs
            // Observations. The whole part is reported refused; the StoreWriter narrows it down by halves.
            throw new InfluxDataRejectedException(
                string.Create(CultureInfo.InvariantCulture, $"cannot write Observations {first} to {first + count - 1} of a batch to {Display}"),
                ex.Reason, ex.StatusCode, ex.ServerMessage, first, count, ex.DroppedPoints);
        }
    }

    /// <summary>Writes a point with a random value to <see cref="ProbeMeasurement"/> and reads it back.</summary>
    public async Task CheckWritableAsync(CancellationToken cancellationToken)
    {
        var nonce = Guid.NewGuid().ToString("N");
        var time = DateTimeOffset.UtcNow;
        using (var probe = new LineProtocolWriter(TimePrecision.Nanoseconds, 256))
        {
            probe.Measurement(ProbeMeasurement).Field("nonce", nonce).End(time);
            await client.WriteAsync(Database, probe, cancellationToken);
        }

        using var result = await client.QueryAsync(
            Database,
            $"SELECT \"nonce\" FROM {InfluxQl.QuoteIdentifier(ProbeMeasurement)} WHERE time = $time",
            new Dictionary<string, object?> { ["time"] = time },
            TimePrecision.Nanoseconds,
            cancellationToken);
        var series = result.Series.Count == 0 ? null : result.Series[0];
        var readBack = series is null || series.Rows.Count == 0 ? null : series.Rows[0].GetString(series.IndexOf("nonce"));
        if (readBack != nonce)
        {
            throw new InvalidOperationException($"{Display} did not return the probe it was given (got '{readBack ?? "nothing"}')");
        }
    }

    public async Task<IReadOnlyList<Observation>> ReadAsync(
        string patientReference,
        string? code,
        DateTimeOffset from,
        DateTimeOffset through,
        int limit,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(patientReference);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var result = await SearchAsync(new ObservationSearch(patientReference, code is null ? [] : [code], from, through, false, null, limit), cancellationToken);
        return result.Matches.Select(m => m.Observation).ToList();
    }

    public void Dispose() => client.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Observation store {Store}: InfluxDB {Version} ({Build})")]
    private partial void LogConnected(string store, string version, string build);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cannot create the database of {Store} ({Reason}); checking that it exists and is writable")]
    private partial void LogCannotCreate(string store, string reason);
}
