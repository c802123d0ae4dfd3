using Hl7.Fhir.Model;
using TeleSuivi.Tests.Fhir;
using TeleSuivi.Tests.Infrastructure;
using TeleSuivi.Tests.Risk.Online;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.ScaleOut;

public sealed partial class ScaleOutTests
{
    /// <summary>
    /// Online scoring with two ingest workers: the broker deals a patient's readings to both, and one worker (the owner
    /// of the patient's partition) scores them from every stored reading, not only from those it received itself.
    /// </summary>
    [Fact]
    public async Task Score_ReadingsSharedByTwoWorkers_IsTheOwnersScoreOfEveryStoredReading()
    {
        var now = DateTimeOffset.UtcNow;
        var cohort = CohortHistory.Generate(3, now);
        var history = CohortHistory.Of(cohort, cohort.Patients.Last(), now);
        using var scorer = OnlineScoringSettings.LoadShippedModel();
        var patient = await ScoringPatient.RegisterAsync([.. cluster.All.Select(node => node.BaseUrl)], "north", history.Facts);
        var messagesBefore = await CountAsync(Messages);

        // Many messages: the broker's round robin hands each worker about half of the patient's readings.
        await patient.PublishEnvironmentAsync(cluster.Publisher, history.Environment);
        var sessions = OnlineScoringTests.WithingsOnly(history).GroupBy(r => r.Time)
            .Select(g => new TeleSuivi.Devices.Profiles.ReadingToEncode(g.Key, g.GroupBy(r => r.Measure).ToDictionary(m => m.Key, m => m.First().Value)))
            .Where(s => s.Values.ContainsKey(TeleSuivi.Risk.Cohort.Measures.Systolic) == s.Values.ContainsKey(TeleSuivi.Risk.Cohort.Measures.Diastolic))
            .ToList();
        const int PerMessage = 40;
        await patient.PublishWithingsAsync(cluster.Publisher, sessions, PerMessage);
        var published = 1 + ((sessions.Count + PerMessage - 1) / PerMessage);
        var shares = await Poll.UntilAsync(
            async () => (await CountAsync(Messages)).Zip(messagesBefore, (after, before) => after - before).ToArray(),
            deltas => deltas.Sum() >= published,
            ScaleOutCluster.Deadline,
            $"{published} messages processed");
        Assert.All(shares, share => Assert.True(share > 0, $"one worker received every message: {string.Join(", ", shares)}"));

        // The same reading twice (one id): round robin gives one copy to the owner, which scores at once, and one to
        // the other worker, which wakes the owner.
        var trigger = sessions[^1] with { Time = DateTimeOffset.UtcNow.AddSeconds(-1) };
        await patient.PublishWithingsAsync(cluster.Publisher, [trigger], 1);
        await patient.PublishWithingsAsync(cluster.Publisher, [trigger], 1);
        await Poll.UntilAsync(
            async () => (await CountAsync(Messages)).Zip(messagesBefore, (after, before) => after - before).Sum(),
            processed => processed >= published + 2,
            ScaleOutCluster.Deadline,
            "both copies of the trigger stored");

        // Scores are stamped to the whole second, so one stamped in the second the trigger became durable may predate
        // it. Once the clock is in the next second, the trigger once more (a redelivery: the owner re-scores): a score
        // stamped from then on was computed from a store that holds the trigger.
        var durableBy = DateTimeOffset.UtcNow;
        var scoredFrom = WholeSecond(durableBy).AddSeconds(1);
        await Poll.UntilAsync(() => DateTimeOffset.UtcNow >= scoredFrom, TimeSpan.FromSeconds(2), "the next second");
        await patient.PublishWithingsAsync(cluster.Publisher, [trigger], 1);
        await patient.PublishWithingsAsync(cluster.Publisher, [trigger], 1);

        using var fhir = new FhirClient(cluster.WebNodes[1].BaseUrl);
        var latest = await Poll.UntilAsync(
            async () => (await fhir.GetAsync($"/fhir/RiskAssessment?subject=Patient/{patient.Id}&_sort=-date&_count=1")).Matches<RiskAssessment>() is [var newest, ..] ? newest : null,
            assessment => assessment is not null && ScoringPatient.TimeOf(assessment.Occurrence) >= scoredFrom,
            ScaleOutCluster.Deadline,
            $"a score of {patient.Id} stamped {scoredFrom:O} or later, served by web node 2");

        var at = ScoringPatient.TimeOf(latest!.Occurrence);
        var stored = await patient.StoredAsync(fhir);
        var offline = scorer.Score(patient.OfflineFeatures(ScoringPatient.AsReadings(stored, at), history.Environment, at));
        Assert.True(stored.Count > 50, $"only {stored.Count} stored readings: the comparison would prove little");
        var online = OnlineScoringTests.Probability(latest);
        Assert.True(
            Math.Round(offline.Probability, 6) == Math.Round(online, 6),
            $"online {online:F6} at {at:O} vs offline {offline.Probability:F6} from {stored.Count} stored readings; the workers' scores of {patient.Id}: "
            + string.Join(" | ", cluster.Workers.Select((worker, i) => $"worker {i + 1}: " + string.Join("; ", worker.Output.Split('\n').Where(line => line.Contains($"Scored patient {patient.Id} ", StringComparison.Ordinal))))));

        AssertScoredByOneWorker(patient.Id);
    }

    /// <summary>
    /// Only the owner scored the patient. By the workers' logs (the scorer's debug line), not their score counters: an
    /// environment update or a wake-up re-scores other tests' patients too, on whichever worker owns each of them.
    /// </summary>
    private void AssertScoredByOneWorker(string patientId)
    {
        var scoredBy = cluster.Workers.Select(worker => worker.Output.Contains($"Scored patient {patientId} ", StringComparison.Ordinal)).ToArray();
        Assert.True(scoredBy.Count(scored => scored) == 1, $"workers that scored {patientId}: {string.Join(", ", scoredBy)}");
    }

    private async Task<double[]> CountAsync(string metric) =>
        await Task.WhenAll(cluster.Workers.Select(worker => ScaleOutCluster.MetricAsync(worker, metric)));

    private static DateTimeOffset WholeSecond(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
}
