using System.Threading.Channels;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;

namespace TeleSuivi.Server.Alerts;

/// <summary>What the alert engine is fed: stored readings, rejected messages, risk scores.</summary>
public abstract record AlertInput
{
    public sealed record Stored(IReadOnlyList<Observation> Observations) : AlertInput;

    public sealed record Rejected(IReadOnlyList<Rejection> Letters) : AlertInput;

    public sealed record Scored(RiskScore Score) : AlertInput;
}

/// <summary>
/// The bounded channel between the pipeline and the <see cref="AlertEngine"/>. The ingest processor writes each
/// batch once it is durable and before it acknowledges it, so a full channel slows ingestion rather than dropping
/// anything, and a crash before the write means a redelivery (which the monitors ignore as already seen).
/// </summary>
public sealed class AlertFeed(IOptions<AlertOptions> options)
{
    private readonly Channel<AlertInput> channel = Channel.CreateBounded<AlertInput>(new BoundedChannelOptions(Math.Max(1, options.Value.ChannelCapacity))
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
    });

    public ChannelReader<AlertInput> Reader => channel.Reader;

    public int Count => channel.Reader.Count;

    public async ValueTask PublishAsync(IEnumerable<Observation> stored, IReadOnlyList<Rejection> rejected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(rejected);
        var observations = stored.ToList();
        if (rejected.Count > 0)
        {
            await channel.Writer.WriteAsync(new AlertInput.Rejected(rejected), cancellationToken);
        }

        if (observations.Count > 0)
        {
            await channel.Writer.WriteAsync(new AlertInput.Stored(observations), cancellationToken);
        }
    }

    /// <summary>The entry point of the risk scorer: each score goes through <see cref="RiskAlertPolicy"/>.</summary>
    public ValueTask SubmitRiskAsync(RiskScore score, CancellationToken cancellationToken) =>
        channel.Writer.WriteAsync(new AlertInput.Scored(score), cancellationToken);
}
