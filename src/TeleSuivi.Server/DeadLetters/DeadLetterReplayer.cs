using Hl7.Fhir.Model;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Storage;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.DeadLetters;

/// <summary>What a replay did.</summary>
public sealed record ReplayResult(int Replayed, int Stored, int RejectedAgain, IReadOnlyDictionary<string, int> StillRejectedByCode);

/// <summary>
/// Re-processes dead letters with today's profiles and registry: a letter that now normalises is stored and
/// marked replayed; one that still fails keeps its payload and gets the new reason. Each page of letters is claimed
/// in the store before it is processed, so replays started at once on several nodes share the letters out and none
/// is stored or counted twice.
/// </summary>
public sealed class DeadLetterReplayer(DeadLetterStore deadLetters, MessageNormalizer normalizer, IObservationStore store, TimeProvider time) : IDisposable
{
    private const int PageSize = 500;
    private readonly SemaphoreSlim oneAtATime = new(1, 1);

    public void Dispose() => oneAtATime.Dispose();

    public async Task<ReplayResult> ReplayAsync(DeadLetterQuery query, CancellationToken cancellationToken)
    {
        // One replay at a time in this process; across processes and nodes, the claims keep them apart.
        await oneAtATime.WaitAsync(cancellationToken);
        try
        {
            int replayed = 0, stored = 0, rejected = 0;
            var stillRejected = new Dictionary<string, int>(StringComparer.Ordinal);
            var page = query with { IncludeReplayed = false, Limit = PageSize };
            while (true)
            {
                var letters = await deadLetters.ClaimAsync(page, time.GetUtcNow(), cancellationToken);
                if (letters.Count == 0)
                {
                    break;
                }

                var observations = new List<Observation>();
                var storedIds = new List<long>();
                var rejectedAgain = new List<(long, string, string, string?)>();
                foreach (var letter in letters)
                {
                    var outcome = normalizer.Normalize(new IngestMessage(letter.Topic, letter.Payload, letter.ReceivedAt, _ => Task.CompletedTask));
                    if (outcome.Rejected)
                    {
                        rejectedAgain.Add((letter.Id, outcome.ReasonCode!, outcome.Reason!, outcome.ReasonFr));
                        stillRejected[outcome.ReasonCode!] = stillRejected.GetValueOrDefault(outcome.ReasonCode!) + 1;
                    }
                    else
                    {
                        observations.AddRange(outcome.Observations);
                        storedIds.Add(letter.Id);
                        stored += outcome.Observations.Count;
                    }
                }

                // Stored first, marked after: a crash in between replays the letter again, and the deterministic
                // Observation id makes that harmless.
                await store.WriteAsync(observations, cancellationToken);
                await deadLetters.RecordReplayAsync(storedIds, rejectedAgain, time.GetUtcNow(), cancellationToken);
                replayed += storedIds.Count;
                rejected += rejectedAgain.Count;
                page = page with { AfterId = letters[^1].Id };
                if (query.Ids is not null || letters.Count < PageSize)
                {
                    break;
                }
            }

            return new ReplayResult(replayed, stored, rejected, stillRejected);
        }
        finally
        {
            oneAtATime.Release();
        }
    }
}
