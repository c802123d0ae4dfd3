using System.Globalization;
using System.Net;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// A request to InfluxDB failed. The subclass says whose fault it is, and so what the caller does:
/// <see cref="InfluxUnavailableException"/> (retry later / spool), <see cref="InfluxDataRejectedException"/>
/// (dead-letter the data, never retry it), <see cref="InfluxAccessException"/> (the operator must fix the
/// configuration), <see cref="InfluxQueryException"/> (the query is wrong).
/// </summary>
public abstract class InfluxException : Exception
{
    /// <param name="what">What could not be done, e.g. "cannot write 3 point(s) to http://h:8086/ database d".</param>
    /// <param name="reason">Why, in one line, e.g. "Connection refused (h:8086)" or "HTTP 400 Bad Request: unable to parse ...".</param>
    protected InfluxException(string what, string reason, HttpStatusCode? statusCode, string? serverMessage, Exception? innerException)
        : base($"{what}: {reason}", innerException)
    {
        Reason = reason;
        StatusCode = statusCode;
        ServerMessage = serverMessage;
    }

    /// <summary>The cause alone, in one line, without what was being attempted.</summary>
    public string Reason { get; }

    /// <summary>The HTTP status of the answer; null when there was no answer.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The server's own words: the <c>error</c> (1.x) or <c>message</c> (2.x) of its JSON body.</summary>
    public string? ServerMessage { get; }
}

/// <summary>
/// No usable answer: connection refused or reset, name not resolved, timeout, 5xx, 429. Transient: the request
/// was retried a bounded number of times already; the caller keeps the data (spool) and tries again later.
/// </summary>
public sealed class InfluxUnavailableException : InfluxException
{
    public InfluxUnavailableException(string what, string reason, HttpStatusCode? statusCode = null, string? serverMessage = null, Exception? innerException = null)
        : base(what, reason, statusCode, serverMessage, innerException)
    {
    }
}

/// <summary>
/// The server refused the points themselves (400: unable to parse, field type conflict, partial write, points
/// beyond the retention policy; 413 for a single point too large). Retrying the same data cannot succeed: it goes
/// to the dead-letter store. In a partial write the other points of the request were stored.
/// </summary>
public sealed class InfluxDataRejectedException : InfluxException
{
    public InfluxDataRejectedException(string what, string reason, HttpStatusCode? statusCode, string? serverMessage, int firstPoint, int pointCount, int? droppedPoints)
        : base(what, reason, statusCode, serverMessage, null)
    {
        FirstPoint = firstPoint;
        PointCount = pointCount;
        DroppedPoints = droppedPoints;
    }

    /// <summary>The index, in the batch given to the client, of the first point of the rejected request.</summary>
    public int FirstPoint { get; }

    /// <summary>How many points the rejected request carried (earlier requests of the batch were stored).</summary>
    public int PointCount { get; }

    /// <summary>For a partial write, how many points the server says it dropped (<c>dropped=N</c>).</summary>
    public int? DroppedPoints { get; }
}

/// <summary>
/// The server refuses us for a reason only the operator can fix: wrong credentials (401), missing permission (403),
/// unknown database or not an InfluxDB v1 API (404), a series limit of InfluxDB 1.x reached (<c>max-series-per-database</c>,
/// <c>max-values-per-tag</c>). The data is not at fault: keep it until the configuration is fixed.
/// </summary>
public sealed class InfluxAccessException : InfluxException
{
    public InfluxAccessException(string what, string reason, HttpStatusCode? statusCode, string? serverMessage)
        : base(what, reason, statusCode, serverMessage, null)
    {
    }
}

/// <summary>The server could not run an InfluxQL query or command (syntax error, unknown function, statement error).</summary>
public sealed class InfluxQueryException : InfluxException
{
    public InfluxQueryException(string what, string reason, HttpStatusCode? statusCode, string? serverMessage)
        : base(what, reason, statusCode, serverMessage, null)
    {
    }
}

/// <summary>
/// A read met a point that influxd has not finished storing (<see cref="ObservationPoint.StateOf"/>): the store reads
/// again. Its message is the error the read fails with if the point stays that way.
/// </summary>
internal sealed class PointBeingWrittenException : Exception
{
    public PointBeingWrittenException(InfluxSeries series, InfluxRow row, ObservationPoint.Columns columns, string missing, TimeSpan deadline)
        : base(MessageOf(series, row, columns, missing, deadline))
    {
        Point = Describe(series, row, columns);
        Missing = missing;
    }

    /// <summary>The measurement, the tags, the time and the id when it is there.</summary>
    public string Point { get; }

    /// <summary>What the row lacks.</summary>
    public string Missing { get; }

    private static string Describe(InfluxSeries series, InfluxRow row, ObservationPoint.Columns columns) => string.Create(
        CultureInfo.InvariantCulture,
        $"{series.Name},patient={row.GetString(columns.Patient)},code={row.GetString(columns.Code)},device={row.GetString(columns.Device)} at {row.GetEpoch(columns.Time)} ns (id {row.GetString(columns.Id) ?? "not there"})");

    private static string MessageOf(InfluxSeries series, InfluxRow row, ObservationPoint.Columns columns, string missing, TimeSpan deadline)
    {
        var id = row.GetString(columns.Id);
        if (row.GetInt64(columns.Shape) is { } shape && shape != ShapePoints.NoShape && id is not null && !row.IsNull(columns.Style)
            && missing.EndsWith($"is not in {ShapePoints.Measurement}", StringComparison.Ordinal))
        {
            return $"the shape {ShapePoints.TagValue(shape)} of Observation {id} is not in {ShapePoints.Measurement}: that measurement must never be dropped (SCHEMA.md)";
        }

        var because = row.IsNull(columns.Shape) && row.IsNull(columns.Fhir)
            ? $"a point of {series.Name} has no '{ObservationPoint.FhirField}' nor '{ObservationPoint.ShapeField}' field"
            : $"the point of Observation {id ?? "(no id)"} has {missing}";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{because} after {deadline.TotalSeconds:0.#} s ({Describe(series, row, columns)}): not a write in progress; the point is damaged or was not written whole by TeleSuivi");
    }
}
