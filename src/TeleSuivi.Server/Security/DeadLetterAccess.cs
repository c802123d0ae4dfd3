using TeleSuivi.Server.Audit;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;

namespace TeleSuivi.Server.Security;

/// <summary>
/// Dead letters carry patients' readings: a nurse or physician sees a letter only when its device was assigned, at the
/// letter's receive time, to a patient of their teams. Letters of unknown or unassigned devices, and of the
/// environment topics, are for admins. Every answer is audited.
/// </summary>
public static class DeadLetterAccess
{
    private const int ScanPage = 1000;

    /// <summary>The patient a letter's readings belong to, when its topic names a device assigned at the time.</summary>
    public static string? PatientOf(DeadLetter letter, PatientAccess access) =>
        ContractTopic.TryParse(letter.Topic, out var topic, out _) && topic!.Kind != TopicKind.Environment
            ? access.PatientOfDevice(topic.DeviceId, letter.ReceivedAt)
            : null;

    public static async Task<IReadOnlyList<DeadLetter>> ListAsync(HttpContext context, DeadLetterStore store, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        var access = PatientAccess.Of(context);
        var letters = access.SeesEveryPatient ? await store.ListAsync(query, cancellationToken) : await ScanAsync(store, query, access, query.Limit, cancellationToken);
        var patients = letters.Select(l => PatientOf(l, access)).Distinct().ToList();
        await HttpAudit.AppendAsync(context, patients.Select(p => HttpAudit.Entry(context, "deadletter.list", p, "200")).DefaultIfEmpty(HttpAudit.Entry(context, "deadletter.list", null, "200")).ToList());
        return letters;
    }

    public static async Task<IReadOnlyDictionary<string, long>> CountByReasonAsync(HttpContext context, DeadLetterStore store, CancellationToken cancellationToken)
    {
        var access = PatientAccess.Of(context);
        if (access.SeesEveryPatient)
        {
            return await store.CountByReasonAsync(cancellationToken);
        }

        var letters = await ScanAsync(store, new DeadLetterQuery(), access, int.MaxValue, cancellationToken);
        return letters.GroupBy(l => l.ReasonCode, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (long)g.Count(), StringComparer.Ordinal);
    }

    public static async Task<IResult> ShowAsync(HttpContext context, DeadLetter letter, Func<DeadLetter, object> view)
    {
        var access = PatientAccess.Of(context);
        var patient = PatientOf(letter, access);
        if (!access.SeesEveryPatient && (patient is null || !access.CanSee(patient)))
        {
            await HttpAudit.AppendAsync(context, "deadletter.read", patient, "403");
            return Results.Problem(title: $"dead letter {letter.Id} is not about a patient of your care teams", statusCode: StatusCodes.Status403Forbidden);
        }

        await HttpAudit.AppendAsync(context, "deadletter.read", patient, "200");
        return Results.Ok(view(letter));
    }

    /// <summary>Reads the store page by page and keeps the letters the user sees, up to <paramref name="limit"/>.</summary>
    private static async Task<List<DeadLetter>> ScanAsync(DeadLetterStore store, DeadLetterQuery query, PatientAccess access, int limit, CancellationToken cancellationToken)
    {
        var kept = new List<DeadLetter>();
        var after = query.AfterId;
        while (kept.Count < limit)
        {
            var page = await store.ListAsync(query with { AfterId = after, Limit = ScanPage }, cancellationToken);
            kept.AddRange(page.Where(l => PatientOf(l, access) is { } patient && access.CanSee(patient)).Take(limit - kept.Count));
            if (page.Count < ScanPage)
            {
                break;
            }

            after = page[^1].Id;
        }

        return kept;
    }
}
