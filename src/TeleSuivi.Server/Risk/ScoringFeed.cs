using System.Collections.ObjectModel;
using System.Threading.Channels;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// The bounded channel between ingestion and the <see cref="OnlineRiskScorer"/>: the ingest processor hands it each
/// batch once durable and before acknowledging it, so a full channel slows ingestion instead of losing a reading
/// (a crash in between means a redelivery, which the scorer recognises by Observation id). Each batch carries the
/// time it was handed over, the start of the scoring lag (<see cref="RiskMetrics"/>).
/// </summary>
public sealed class ScoringFeed(RiskModel model, IOptions<RiskOptions> options, TimeProvider time)
{
    private readonly Channel<ScoringBatch> channel = Channel.CreateBounded<ScoringBatch>(
        new BoundedChannelOptions(Math.Max(1, options.Value.ChannelCapacity)) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    public ChannelReader<ScoringBatch> Reader => channel.Reader;

    public int Count => channel.Reader.Count;

    /// <summary>Queues the patients' and zones' Observations of a stored batch (nothing when scoring is off).</summary>
    public ValueTask PublishAsync(IEnumerable<Observation> stored, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (model.IsOff)
        {
            return ValueTask.CompletedTask;
        }

        // Stamped before the write: a wait for room in a full channel is part of the lag too.
        var handedOverAt = time.GetUtcNow();
        var relevant = stored.Where(o => o.Subject?.Reference is { } s && (s.StartsWith("Patient/", StringComparison.Ordinal) || s.StartsWith("Location/", StringComparison.Ordinal))).ToList();
        return relevant.Count == 0 ? ValueTask.CompletedTask : channel.Writer.WriteAsync(new ScoringBatch(relevant, handedOverAt), cancellationToken);
    }

    /// <summary>
    /// Asks the scorer to score these patients from the store: another ingest worker received readings of theirs
    /// (README "Scale-out"). False when the channel is full: the wake-ups then stay pending in PostgreSQL and are
    /// offered again (<see cref="ScaleOut.ScoringPartitions.Woken"/>).
    /// </summary>
    public bool TryWake(IReadOnlyList<string> patientIds) => !model.IsOff && channel.Writer.TryWrite(new WokenPatients(patientIds, time.GetUtcNow()));

    /// <summary>
    /// Asks the scorer to drop the patients the registry no longer holds (an erasure on another node). Skipped when the
    /// channel is full: the next reading, wake-up or due score of such a patient, or the daily pass, drops them.
    /// </summary>
    public bool TryRecheckRegistrations() => !model.IsOff && channel.Writer.TryWrite(new RegistrationsChanged(time.GetUtcNow()));
}

/// <summary>Observations handed to the scorer together, and when they were handed over.</summary>
public class ScoringBatch(IList<Observation> observations, DateTimeOffset handedOverAt) : ReadOnlyCollection<Observation>(observations)
{
    public DateTimeOffset HandedOverAt { get; } = handedOverAt;
}

/// <summary>
/// A batch with no Observation that names patients to score: it travels the same channel as the readings, so the
/// scorer's one loop (no locks) handles it in order with them.
/// </summary>
public sealed class WokenPatients(IReadOnlyList<string> patientIds, DateTimeOffset handedOverAt) : ScoringBatch([], handedOverAt)
{
    public IReadOnlyList<string> PatientIds { get; } = patientIds;
}

/// <summary>A batch with no Observation: the registry changed, the scorer checks that the patients it holds are still registered.</summary>
public sealed class RegistrationsChanged(DateTimeOffset handedOverAt) : ScoringBatch([], handedOverAt);
