using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using Task = System.Threading.Tasks.Task;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Tests.Alerts;

/// <summary>
/// The alert engine's inputs: readings before risk scores, so that a wave of scores (every patient at midnight) never
/// holds a critical reading behind it; nothing lost, each kind in its order.
/// </summary>
public sealed class AlertFeedTests
{
    [Fact]
    public async Task TryRead_ScoresWaitingBeforeAReading_GivesTheReadingFirst()
    {
        var feed = new AlertFeed(Options.Create(new AlertOptions()));
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 3; i++)
        {
            await feed.SubmitRiskAsync(Score($"p{i}"), ct);
        }

        await feed.PublishAsync([Reading("critical")], [], ct);

        Assert.True(feed.TryRead(out var first));
        var stored = Assert.IsType<AlertInput.Stored>(first);
        Assert.Equal("critical", Assert.Single(stored.Observations).Id);
        Assert.Equal(3, feed.Count);
    }

    [Fact]
    public async Task TryRead_ReadingsAndScoresInterleaved_GivesEachOnceInTheOrderOfItsKind()
    {
        var feed = new AlertFeed(Options.Create(new AlertOptions()));
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 50; i++)
        {
            await feed.SubmitRiskAsync(Score($"p{i}"), ct);
            await feed.PublishAsync([Reading($"o{i}")], [], ct);
        }

        var read = new List<AlertInput>();
        while (feed.TryRead(out var input))
        {
            read.Add(input);
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"o{i}"), read.Take(50).Select(i => Assert.IsType<AlertInput.Stored>(i).Observations[0].Id));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"p{i}"), read.Skip(50).Select(i => Assert.IsType<AlertInput.Scored>(i).Score.PatientId));
        Assert.Equal(0, feed.Count);
    }

    [Fact]
    public async Task WaitToReadOrTimeoutAsync_AScoreArrivesWhileWaiting_WakesBeforeTheWaitEnds()
    {
        var feed = new AlertFeed(Options.Create(new AlertOptions()));
        var ct = TestContext.Current.CancellationToken;
        var waiting = feed.WaitToReadOrTimeoutAsync(TimeSpan.FromHours(1), ct);
        Assert.False(waiting.IsCompleted);

        await feed.SubmitRiskAsync(Score("p1"), ct);

        Assert.True(await waiting);
        Assert.True(feed.TryRead(out var input));
        Assert.IsType<AlertInput.Scored>(input);
    }

    [Fact]
    public async Task WaitToReadOrTimeoutAsync_EngineStopping_False()
    {
        var feed = new AlertFeed(Options.Create(new AlertOptions()));
        using var stopping = new CancellationTokenSource();
        var waiting = feed.WaitToReadOrTimeoutAsync(TimeSpan.FromHours(1), stopping.Token);

        await stopping.CancelAsync();

        Assert.False(await waiting);
    }

    private static RiskScore Score(string patientId) => new(patientId, 0.1, [], new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero));

    private static Observation Reading(string id) => new() { Id = id, Subject = new ResourceReference("Patient/p1") };
}
