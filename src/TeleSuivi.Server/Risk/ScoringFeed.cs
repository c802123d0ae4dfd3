using System.Collections.ObjectModel;
using System.Threading.Channels;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;

namespace TeleSuivi.Server.Risk;

/// <summary>
/// The bounded channel between ingestion and the <see cref="OnlineRiskScorer"/>: the ingest processor hands it each
/// batch once durable and before acknowledging it, so a full channel slows ingestion instead of losing a reading
/// (a crash in between means a redelivery, which the scorer recognises by Observation id).
/// </summary>
public sealed class ScoringFeed(RiskModel model, IOptions<RiskOptions> options)
{
    private readonly Channel<IReadOnlyList<Observation>> channel = Channel.CreateBounded<IReadOnlyList<Observation>>(
        new BoundedChannelOptions(Math.Max(1, options.Value.ChannelCapacity)) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    public ChannelReader<IReadOnlyList<Observation>> Reader => channel.Reader;

    public int Count => channel.Reader.Count;

    /// <summary>Queues the patients' and zones' Observations of a stored batch (nothing when scoring is off).</summary>
    public ValueTask PublishAsync(IEnumerable<Observation> stored, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (model.IsOff)
        {
            return ValueTask.CompletedTask;
        }

        var relevant = stored.Where(o => o.Subject?.Reference is { } s && (s.StartsWith("Patient/", StringComparison.Ordinal) || s.StartsWith("Location/", StringComparison.Ordinal))).ToList();
        return relevant.Count == 0 ? ValueTask.CompletedTask : channel.Writer.WriteAsync(relevant, cancellationToken);
    }

    /// <summary>
    /// Asks the scorer to score these patients from the store: another ingest worker received readings of theirs
    /// (README "Scale-out"). False when the channel is full: the patients are then scored at their next reading here
    /// or at midnight, and the scorer is behind anyway.
    /// </summary>
    public bool TryWake(IReadOnlyList<string> patientIds) => !model.IsOff && channel.Writer.TryWrite(new WokenPatients(patientIds));
}

/// <summary>
/// A batch with no Observation that names patients to score: it travels the same channel as the readings, so the
/// scorer's one loop (no locks) handles it in order with them.
/// </summary>
public sealed class WokenPatients(IReadOnlyList<string> patientIds) : ReadOnlyCollection<Observation>([])
{
    public IReadOnlyList<string> PatientIds { get; } = patientIds;
}
