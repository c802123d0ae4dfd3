using System.Globalization;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Server.Storage.Retention;

/// <summary>
/// Enforces <see cref="StoreOptions.Retention"/> on the observation store and <see cref="StoreOptions.DeadLetterRetention"/>
/// on the dead-letter store (and <see cref="StoreOptions.Retention"/> on the risk assessments, by their date), at start and then every <see cref="StoreOptions.RetentionCheckInterval"/>. A retention that
/// cannot be applied at start (InfluxDB refuses to alter its policy) stops the start: the operator asked for it.
/// Later failures are logged and tried again at the next interval; ingestion is never held up by them.
/// </summary>
public sealed partial class StoreRetention(
    IObservationStore store,
    DeadLetterStore deadLetters,
    Risk.RiskAssessmentStore risks,
    IOptions<StoreOptions> storeOptions,
    IOptions<IngestOptions> ingestOptions,
    TimeProvider time,
    ILogger<StoreRetention> logger) : BackgroundService
{
    private readonly StoreOptions options = storeOptions.Value;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        Validate(options, ingestOptions.Value);
        if (options.Retention is { } retention)
        {
            try
            {
                var outcome = await store.ApplyRetentionAsync(retention, cancellationToken);
                LogApplied(store.Display, outcome.Summary);
            }
            catch (Exception ex) when (ex is InfluxException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
            {
                var reason = (ex as InfluxException)?.Reason ?? ex.Message;
                var advice = store is InfluxObservationStore
                    ? " (it needs an admin user on InfluxDB 1.x; on 2.x and 3.x set the bucket's retention there and leave Store:Retention unset)"
                    : string.Empty;
                throw new ConfigurationException($"cannot apply Store:Retention {retention} to {store.Display}: {reason}{advice}", ex);
            }
        }

        await base.StartAsync(cancellationToken);
    }

    /// <summary>Refuses a retention that would remove data the ingestion still accepts as new.</summary>
    public static void Validate(StoreOptions store, IngestOptions ingest)
    {
        if (store.Retention is { } retention && retention != TimeSpan.Zero)
        {
            if (retention < TimeSpan.Zero)
            {
                throw new ConfigurationException($"Store:Retention {retention} is negative: use 0 (keep forever) or a duration such as 730.00:00:00");
            }

            if (retention < ingest.MaxAge)
            {
                throw new ConfigurationException(string.Create(CultureInfo.InvariantCulture,
                    $"Store:Retention ({retention.TotalDays:0.##} days) is shorter than Ingest:MaxAge ({ingest.MaxAge.TotalDays:0.##} days): readings that old are still accepted and would be stored only to be purged (or refused by InfluxDB as beyond its retention policy). Raise Store:Retention or lower Ingest:MaxAge"));
            }
        }

        if (store.DeadLetterRetention < TimeSpan.Zero)
        {
            throw new ConfigurationException($"Store:DeadLetterRetention {store.DeadLetterRetention} is negative: use 0 (keep forever) or a duration such as 90.00:00:00");
        }

        if (store.RetentionCheckInterval <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"Store:RetentionCheckInterval {store.RetentionCheckInterval} must be positive");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var first = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // The start applied the observation store's retention already; the dead letters are purged at once.
                await EnforceAsync(applyStoreRetention: !first, stoppingToken);
                first = false;
                await Task.Delay(options.RetentionCheckInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
    }

    private async Task EnforceAsync(bool applyStoreRetention, CancellationToken cancellationToken)
    {
        if (applyStoreRetention && options.Retention is { } retention)
        {
            try
            {
                var outcome = await store.ApplyRetentionAsync(retention, cancellationToken);
                if (outcome.Removed is null or > 0)
                {
                    LogApplied(store.Display, outcome.Summary);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogFailed(store.Display, ex.Message, options.RetentionCheckInterval);
            }
        }

        if (options.Retention is { } riskRetention && riskRetention > TimeSpan.Zero)
        {
            try
            {
                await risks.InitializeAsync(cancellationToken);
                var purged = await risks.PurgeBeforeAsync(time.GetUtcNow() - riskRetention, cancellationToken);
                if (purged > 0)
                {
                    LogRisksPurged(purged, riskRetention.TotalDays, risks.Location);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogFailed(risks.Location, ex.Message, options.RetentionCheckInterval);
            }
        }

        if (options.DeadLetterRetention > TimeSpan.Zero)
        {
            var cutoff = time.GetUtcNow() - options.DeadLetterRetention;
            try
            {
                var (replayed, pending) = await deadLetters.PurgeReceivedBeforeAsync(cutoff, cancellationToken);
                if (pending > 0)
                {
                    LogPendingLettersPurged(pending, replayed, cutoff, deadLetters.FilePath);
                }
                else if (replayed > 0)
                {
                    LogLettersPurged(replayed, cutoff, deadLetters.FilePath);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogFailed(deadLetters.FilePath, ex.Message, options.RetentionCheckInterval);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Risk retention: deleted {Purged} risk assessment(s) older than {Days:0.##} days from {Path} (Store:Retention)")]
    private partial void LogRisksPurged(int purged, double days, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention of {Store}: {Summary}")]
    private partial void LogApplied(string store, string summary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot enforce the retention of {Store}: {Reason}; trying again in {Interval}")]
    private partial void LogFailed(string store, string reason, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dead-letter retention: deleted {Replayed} replayed letter(s) received before {Cutoff:u} from {Path}")]
    private partial void LogLettersPurged(long replayed, DateTimeOffset cutoff, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead-letter retention: deleted {Pending} letter(s) never replayed and {Replayed} replayed one(s), all received before {Cutoff:u}, from {Path} (Store:DeadLetterRetention)")]
    private partial void LogPendingLettersPurged(long pending, long replayed, DateTimeOffset cutoff, string path);
}
