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
}
