using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// Retention and erasure on InfluxDB. Retention is the database's default retention policy, altered in place (a new
/// default policy would hide every point written under the old one). Erasure drops the subject's series and deletes
/// the id-index points at their timestamps (see SCHEMA.md).
/// </summary>
public sealed partial class InfluxObservationStore
{
    /// <summary>InfluxDB 1.x refuses retention policies shorter than this.</summary>
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromHours(1);

    /// <summary>Points whose ids are read per query while erasing a subject.</summary>
    private const int ErasePageSize = 10_000;

    /// <summary>DELETE statements sent in one request.</summary>
    private const int DeletesPerRequest = 250;

    /// <summary>
    /// Sets the duration of the database's default retention policy (INF for zero) and a shard group duration to
    /// match, as InfluxDB itself would choose it: 1 h up to 2 days, 1 day up to 6 months, 7 days beyond. InfluxDB
    /// drops a shard group once all of it is older than the duration, so a point goes at most one shard group late.
    /// </summary>
    public async Task<RetentionOutcome> ApplyRetentionAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        if (retention != TimeSpan.Zero && retention < MinimumRetention)
        {
            throw new ArgumentOutOfRangeException(nameof(retention), retention, "InfluxDB keeps points at least 1 hour: use 0 (forever) or 1 hour or more");
        }

        var (policy, current, currentShards) = await DefaultRetentionPolicyAsync(cancellationToken);
        var shards = ShardGroupDuration(retention);
        var wanted = $"{Describe(retention)} (shard groups {Describe(shards)})";
        if (current == retention && currentShards == shards)
        {
            return new RetentionOutcome(null, $"retention policy \"{policy}\" of {Database}: {wanted}, unchanged");
        }

        var duration = retention == TimeSpan.Zero ? "INF" : Literal(retention);
        using (await client.ExecuteAsync(
            Database,
            $"ALTER RETENTION POLICY {InfluxQl.QuoteIdentifier(policy)} ON {InfluxQl.QuoteIdentifier(Database)} DURATION {duration} SHARD DURATION {Literal(shards)}",
            null,
            cancellationToken))
        {
        }

        return new RetentionOutcome(null, $"retention policy \"{policy}\" of {Database}: {wanted}, was {Describe(current)} (shard groups {Describe(currentShards)})");
    }

    public async Task<long> EraseSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        var parameters = new Dictionary<string, object?> { ["subject"] = subject };

        // The id-index points hold the subject in a field, which DELETE cannot filter on: find them by the
        // Observations' ids and timestamps first, while the Observations are still there to tell them.
        long erased = 0;
        var deletes = new StringBuilder();
        var pending = 0;
        long last = long.MinValue;
        var seenAtLast = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var fresh = 0;
            var atLast = new HashSet<string>(StringComparer.Ordinal);
            long pageLast = last;
            using (var page = await QueryAsync(
                string.Create(CultureInfo.InvariantCulture, $"SELECT {IdField} FROM {ObservationMeasurement} WHERE {PatientTag} = $subject{(last == long.MinValue ? string.Empty : $" AND time >= {last}")} ORDER BY time ASC LIMIT {ErasePageSize}"),
                parameters,
                $"cannot list the Observations of {subject}",
                cancellationToken))
            {
                foreach (var series in page.Series)
                {
                    int time = series.IndexOf("time"), id = series.IndexOf(ObservationPoint.IdField);
                    foreach (var row in series.Rows)
                    {
                        var nanoseconds = row.GetEpoch(time);
                        var observationId = row.GetString(id) ?? string.Empty;
                        if (nanoseconds == last && !seenAtLast.Add(observationId))
                        {
                            continue;
                        }

                        fresh++;
                        erased++;
                        if (nanoseconds != pageLast)
                        {
                            pageLast = nanoseconds;
                            atLast.Clear();
                        }

                        atLast.Add(observationId);
                        if (observationId.Length > 0)
                        {
                            deletes.Append(CultureInfo.InvariantCulture, $"DELETE FROM {IdIndexMeasurement} WHERE {BucketTag} = {InfluxQl.QuoteString(ObservationIdIndex.Bucket(observationId))} AND time = {nanoseconds};");
                            if (++pending == DeletesPerRequest)
                            {
                                await ExecuteDeletesAsync(deletes, cancellationToken);
                                pending = 0;
                            }
                        }
                    }
                }
            }

            if (fresh == 0)
            {
                break;
            }

            if (pageLast != last)
            {
                seenAtLast = atLast;
            }

            last = pageLast;
        }

        if (pending > 0)
        {
            await ExecuteDeletesAsync(deletes, cancellationToken);
        }

        using (await client.ExecuteAsync(Database, $"DROP SERIES FROM {ObservationMeasurement} WHERE {PatientTag} = $subject", parameters, cancellationToken))
        {
        }

        // The roll-ups and change marks summarise the readings: they go with them.
        using (await client.ExecuteAsync(
            Database,
            $"DROP SERIES FROM {HourlyMeasurementName} WHERE {PatientTag} = $subject; DROP SERIES FROM {ChangeMeasurementName} WHERE {PatientTag} = $subject",
            parameters,
            cancellationToken))
        {
        }

        using var left = await QueryAsync($"SELECT count({IdField}) FROM {ObservationMeasurement} WHERE {PatientTag} = $subject", parameters, $"cannot count the Observations of {subject}", cancellationToken);
        var remaining = left.Series is [var counted, ..] && counted.Rows is [var row0, ..] ? row0.GetInt64(counted.IndexOf("count")) ?? 0 : 0;
        if (remaining != 0)
        {
            throw new InvalidOperationException($"{Display} still holds {remaining} Observation(s) of {subject} after erasing them (written meanwhile?): run the erasure again");
        }

        return erased;
    }

    private static readonly string IdIndexMeasurement = InfluxQl.QuoteIdentifier(ObservationIdIndex.Measurement);

    private static readonly string BucketTag = InfluxQl.QuoteIdentifier(ObservationIdIndex.BucketTag);

    private async Task ExecuteDeletesAsync(StringBuilder deletes, CancellationToken cancellationToken)
    {
        using (await client.ExecuteAsync(Database, deletes.ToString(0, deletes.Length - 1), null, cancellationToken))
        {
        }

        deletes.Clear();
    }

    private async Task<(string Name, TimeSpan Duration, TimeSpan ShardGroupDuration)> DefaultRetentionPolicyAsync(CancellationToken cancellationToken)
    {
        using var result = await client.QueryAsync(null, $"SHOW RETENTION POLICIES ON {InfluxQl.QuoteIdentifier(Database)}", null, TimePrecision.Nanoseconds, cancellationToken);
        foreach (var series in result.Series)
        {
            int name = series.IndexOf("name"), duration = series.IndexOf("duration"), shards = series.IndexOf("shardGroupDuration"), isDefault = series.IndexOf("default");
            foreach (var row in series.Rows)
            {
                if (row.GetBoolean(isDefault) == true && row.GetString(name) is { } policy)
                {
                    return (policy, ParseDuration(row.GetString(duration)), ParseDuration(row.GetString(shards)));
                }
            }
        }

        throw new InfluxQueryException($"cannot find the default retention policy of {Display}", "the database has none", null, null);
    }

    internal static TimeSpan ShardGroupDuration(TimeSpan retention) =>
        retention == TimeSpan.Zero || retention > TimeSpan.FromDays(180) ? TimeSpan.FromDays(7)
        : retention > TimeSpan.FromDays(2) ? TimeSpan.FromDays(1)
        : TimeSpan.FromHours(1);

    /// <summary>A Go duration as InfluxDB shows it (<c>720h0m0s</c>, <c>0s</c> for INF).</summary>
    internal static TimeSpan ParseDuration(string? text)
    {
        var total = TimeSpan.Zero;
        foreach (Match part in GoDurationPart().Matches(text ?? string.Empty))
        {
            var value = double.Parse(part.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "us" or "µs" => TimeSpan.FromMicroseconds(value),
                _ => TimeSpan.FromTicks((long)(value / 100)),
            };
        }

        return total;
    }

    /// <summary>An InfluxQL duration literal in whole seconds (rounded up).</summary>
    private static string Literal(TimeSpan duration) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)Math.Ceiling(duration.TotalSeconds)}s");

    private static string Describe(TimeSpan duration) =>
        duration == TimeSpan.Zero ? "INF"
        : duration.TotalDays >= 1 && duration.Ticks % TimeSpan.TicksPerDay == 0 ? string.Create(CultureInfo.InvariantCulture, $"{duration.TotalDays:0} d")
        : string.Create(CultureInfo.InvariantCulture, $"{duration.TotalHours:0.##} h");

    [GeneratedRegex(@"([0-9.]+)(h|ms|m|s|us|µs|ns)")]
    private static partial Regex GoDurationPart();
}
