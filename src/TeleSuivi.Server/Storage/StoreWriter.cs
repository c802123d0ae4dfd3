using System.Diagnostics;
using System.Globalization;
using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>An Observation of a batch that the store refused as the data's fault, by its index in the batch.</summary>
public readonly record struct StoreRejection(int Index, string Reason);

/// <summary>
/// A write to the store failed for a reason that is not the data's: <see cref="StoreFailureKind.Unavailable"/> or
/// <see cref="StoreFailureKind.Timeout"/> (keep the data, try again later) or <see cref="StoreFailureKind.Access"/>
/// (the operator must fix the configuration). Nothing can be assumed stored.
/// </summary>
public sealed class StoreWriteException(StoreFailureKind kind, string reason, Exception? innerException)
    : Exception(reason, innerException)
{
    public StoreFailureKind Kind { get; } = kind;
}

/// <summary>
/// Writes batches of Observations to the store for the ingest processor and the spool replayer: bounded by
/// <see cref="StoreOptions.WriteTimeout"/>, timed, every failure classed by whose fault it is. When the store refuses
/// some of the data (InfluxDB 400: field type conflict, partial write...), the offending Observations are found by
/// bisection and returned, and all the others are stored: re-writing an Observation is harmless (idempotent).
/// </summary>
public sealed class StoreWriter
{
    private readonly Func<IReadOnlyList<Observation>, CancellationToken, Task> write;
    private readonly TimeSpan timeout;
    private readonly WritePathMetrics metrics;

    public StoreWriter(IObservationStore store, IOptions<StoreOptions> options, WritePathMetrics metrics)
        : this(store.Display, store.WriteAsync, options.Value.WriteTimeout, metrics, remote: store is InfluxObservationStore)
    {
    }

    /// <param name="write">How a batch is written (a store's <see cref="IObservationStore.WriteAsync"/>).</param>
    /// <param name="remote">Whether each write is a request to a server (see <see cref="Remote"/>).</param>
    internal StoreWriter(string display, Func<IReadOnlyList<Observation>, CancellationToken, Task> write, TimeSpan timeout, WritePathMetrics metrics, bool remote = false)
    {
        ArgumentNullException.ThrowIfNull(display);
        ArgumentNullException.ThrowIfNull(write);
        ArgumentNullException.ThrowIfNull(metrics);
        Display = display;
        this.write = write;
        this.timeout = timeout;
        this.metrics = metrics;
        Remote = remote;
    }

    public string Display { get; }

    /// <summary>Whether each write is a request to a server (InfluxDB), whose fixed cost per write is worth batching for (<see cref="Ingestion.IngestOptions.MinBatchAge"/>).</summary>
    public bool Remote { get; }

    /// <summary>
    /// Stores every Observation of <paramref name="observations"/> except those returned, which the store refused as
    /// the data's fault. Throws <see cref="StoreWriteException"/> when the store is unavailable, too slow or refuses access.
    /// </summary>
    public async Task<IReadOnlyList<StoreRejection>> WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(observations);
        var all = observations as Observation[] ?? [.. observations];
        var rejections = new List<StoreRejection>();
        await WriteRangeAsync(all, 0, all.Length, rejections, cancellationToken);
        if (rejections.Count > 1)
        {
            rejections.Sort((a, b) => a.Index.CompareTo(b.Index));
        }

        return rejections;
    }

    private async Task WriteRangeAsync(Observation[] all, int start, int count, List<StoreRejection> rejections, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var refused = await TryWriteAsync(new ArraySegment<Observation>(all, start, count), cancellationToken);
            if (refused is not { } failure)
            {
                return;
            }

            // The points before the refused range were stored; those after it were not sent at all.
            var (first, length) = failure.First >= 0 && failure.Count > 0 && failure.First + failure.Count <= count
                ? (failure.First, failure.Count)
                : (0, count);
            if (length == 1)
            {
                rejections.Add(new StoreRejection(start + first, failure.Reason));
            }
            else
            {
                var half = length / 2;
                await WriteRangeAsync(all, start + first, half, rejections, cancellationToken);
                await WriteRangeAsync(all, start + first + half, length - half, rejections, cancellationToken);
            }

            start += first + length;
            count -= first + length;
        }
    }

    /// <summary>Null when written; the refused range (relative to <paramref name="batch"/>, -1 when unknown) when the data is at fault.</summary>
    private async Task<(int First, int Count, string Reason)?> TryWriteAsync(ArraySegment<Observation> batch, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        try
        {
            await write(batch, limit.Token);
            metrics.ObserveWrite(clock.Elapsed);
            metrics.WriteSucceeded();
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            metrics.ObserveWrite(clock.Elapsed);
            var (kind, reason) = Classify(ex);
            metrics.WriteFailed(kind, reason);
            if (kind != StoreFailureKind.Rejected)
            {
                throw new StoreWriteException(kind, reason, ex);
            }

            return ex is InfluxDataRejectedException rejected
                ? (rejected.FirstPoint, rejected.PointCount, reason)
                : (-1, -1, reason);
        }
    }

    private (StoreFailureKind Kind, string Reason) Classify(Exception ex) => ex switch
    {
        OperationCanceledException => (StoreFailureKind.Timeout, string.Create(CultureInfo.InvariantCulture, $"{Display} did not answer within {timeout.TotalSeconds:0.#} s (Store:WriteTimeout)")),
        InfluxDataRejectedException rejected => (StoreFailureKind.Rejected, $"{Display} refused it: {rejected.Reason}"),
        InfluxAccessException access => (StoreFailureKind.Access, $"{Display} refuses access: {access.Reason}"),
        InfluxException influx => (StoreFailureKind.Unavailable, $"{Display} is unavailable: {influx.Reason}"),
        SqliteException sqlite => (ClassifySqlite(sqlite.SqliteErrorCode), $"{Display}: {sqlite.Message}"),
        UnauthorizedAccessException denied => (StoreFailureKind.Access, $"{Display} refuses access: {denied.Message}"),

        // Thrown by the stores before anything is written, for an Observation they cannot hold (no id, no time...).
        ArgumentException argument => (StoreFailureKind.Rejected, $"{Display} refused it: {argument.Message}"),
        _ => (StoreFailureKind.Unavailable, $"{Display} is unavailable: {ex.Message}"),
    };

    /// <summary>SQLite primary result codes: https://sqlite.org/rescode.html.</summary>
    private static StoreFailureKind ClassifySqlite(int code) => code switch
    {
        3 /* PERM */ or 8 /* READONLY */ or 23 /* AUTH */ => StoreFailureKind.Access,
        18 /* TOOBIG */ or 19 /* CONSTRAINT */ or 20 /* MISMATCH */ or 25 /* RANGE */ => StoreFailureKind.Rejected,

        // BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL... and anything else: try again later.
        _ => StoreFailureKind.Unavailable,
    };
}
