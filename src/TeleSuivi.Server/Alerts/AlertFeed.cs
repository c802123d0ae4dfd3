using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using Task = System.Threading.Tasks.Task;
using TeleSuivi.Server.DeadLetters;

namespace TeleSuivi.Server.Alerts;

/// <summary>What the alert engine is fed: stored readings, rejected messages, risk scores.</summary>
public abstract record AlertInput
{
    /// <summary>When the input was handed to the engine (<see cref="Stopwatch"/> time stamp): its wait in the channel is measured from it.</summary>
    public long QueuedAt { get; } = Stopwatch.GetTimestamp();

    public sealed record Stored(IReadOnlyList<Observation> Observations) : AlertInput;

    public sealed record Rejected(IReadOnlyList<Rejection> Letters) : AlertInput;

    public sealed record Scored(RiskScore Score) : AlertInput;
}

/// <summary>
/// The bounded channels between the pipeline and the <see cref="AlertEngine"/>: one for stored readings and rejected
/// messages, one for risk scores. The ingest processor writes each batch once it is durable and before it acknowledges
/// it, so a full channel slows ingestion rather than dropping anything, and a crash before the write means a
/// redelivery (which the monitors ignore as already seen). The engine takes readings first: a wave of risk scores (every
/// patient at midnight, 100,000 on one node) would otherwise hold a critical reading behind it for seconds. The two
/// inputs concern different alerts (vital limits, device faults and gaps from readings; risk from scores), so taking
/// one before the other changes no decision.
/// </summary>
public sealed class AlertFeed(IOptions<AlertOptions> options)
{
    private readonly Channel<AlertInput> readings = Bounded(options.Value.ChannelCapacity);
    private readonly Channel<AlertInput> scores = Bounded(options.Value.ChannelCapacity);

    /// <summary>Inputs waiting, readings and scores together.</summary>
    public int Count => readings.Reader.Count + scores.Reader.Count;

    public async ValueTask PublishAsync(IEnumerable<Observation> stored, IReadOnlyList<Rejection> rejected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(rejected);
        var observations = stored.ToList();
        if (rejected.Count > 0)
        {
            await readings.Writer.WriteAsync(new AlertInput.Rejected(rejected), cancellationToken);
        }

        if (observations.Count > 0)
        {
            await readings.Writer.WriteAsync(new AlertInput.Stored(observations), cancellationToken);
        }
    }

    /// <summary>The entry point of the risk scorer: each score goes through <see cref="RiskAlertPolicy"/>.</summary>
    public ValueTask SubmitRiskAsync(RiskScore score, CancellationToken cancellationToken) =>
        scores.Writer.WriteAsync(new AlertInput.Scored(score), cancellationToken);

    /// <summary>The next input: a stored batch or rejection if any waits, else a risk score (each kind in the order written).</summary>
    public bool TryRead([NotNullWhen(true)] out AlertInput? input) =>
        readings.Reader.TryRead(out input) || scores.Reader.TryRead(out input);

    /// <summary>
    /// Waits until an input waits or <paramref name="wait"/> has passed (not at all when it is not positive);
    /// false only when <paramref name="stoppingToken"/> stops the engine.
    /// </summary>
    public async System.Threading.Tasks.Task<bool> WaitToReadOrTimeoutAsync(TimeSpan wait, CancellationToken stoppingToken)
    {
        if (Count > 0 || wait <= TimeSpan.Zero)
        {
            return !stoppingToken.IsCancellationRequested;
        }

        using var window = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        window.CancelAfter(wait);
        // WhenAny never throws: a cancelled wait is the timer's work falling due, or the stop checked below.
        await Task.WhenAny(readings.Reader.WaitToReadAsync(window.Token).AsTask(), scores.Reader.WaitToReadAsync(window.Token).AsTask());
        await window.CancelAsync(); // ends the other wait
        return !stoppingToken.IsCancellationRequested;
    }

    private static Channel<AlertInput> Bounded(int capacity) =>
        Channel.CreateBounded<AlertInput>(new BoundedChannelOptions(Math.Max(1, capacity)) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
}
