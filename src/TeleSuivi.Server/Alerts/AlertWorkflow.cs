using Microsoft.Extensions.Options;
using TeleSuivi.Server.Board;

namespace TeleSuivi.Server.Alerts;

/// <summary>The result of a workflow step: the alert afterwards, or why the step was refused.</summary>
public sealed record WorkflowResult(Alert? Alert, WorkflowError? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>Why a step was refused: <see cref="WorkflowErrorKind.NotFound"/> (404), <see cref="WorkflowErrorKind.Invalid"/> input (400) or a <see cref="WorkflowErrorKind.Conflict"/> with the alert's state (409).</summary>
public sealed record WorkflowError(WorkflowErrorKind Kind, string Message);

public enum WorkflowErrorKind
{
    NotFound,
    Invalid,
    Conflict,
}

/// <summary>
/// The nurses' actions on alerts. Only the nurse who claimed an alert acknowledges, calls, snoozes, escalates or
/// resolves it (two nurses never work the same alert); anyone may add a note. Each step is one guarded UPDATE, is
/// recorded with who and when, and is pushed to every board.
/// </summary>
public sealed class AlertWorkflow(AlertStore store, PatientDirectory patients, BoardNotifier board, IOptions<AlertOptions> options, TimeProvider time)
{
    private const int MaxText = 2000;
    private const string HeldByActor = "claimed_by = @actor AND status NOT IN ('resolved', 'cleared')";

    public Task<WorkflowResult> ClaimAsync(long id, string actor, CancellationToken cancellationToken) =>
        StepAsync(id, actor, "UPDATE alert SET claimed_by = @actor, claimed_at = @now, updated_at = @now, version = <next-version> WHERE id = @id AND claimed_by IS NULL AND status NOT IN ('resolved', 'cleared')",
            [], AlertActions.Claimed, null, alert => alert.ClaimedBy == actor && !alert.IsClosed, cancellationToken);

    public Task<WorkflowResult> ReleaseAsync(long id, string actor, CancellationToken cancellationToken) =>
        StepAsync(id, actor, $"UPDATE alert SET claimed_by = NULL, claimed_at = NULL, updated_at = @now, version = <next-version> WHERE id = @id AND {HeldByActor}",
            [], AlertActions.Released, null, null, cancellationToken);

    public Task<WorkflowResult> AcknowledgeAsync(long id, string actor, CancellationToken cancellationToken) =>
        StepAsync(id, actor, $"""
            UPDATE alert SET acknowledged_by = @actor, acknowledged_at = @now, status = CASE status WHEN 'open' THEN 'acknowledged' ELSE status END,
                updated_at = @now, version = <next-version>
            WHERE id = @id AND {HeldByActor} AND acknowledged_at IS NULL
            """, [], AlertActions.Acknowledged, null, alert => alert.AcknowledgedAt is not null && alert.ClaimedBy == actor, cancellationToken);

    public async Task<WorkflowResult> AddNoteAsync(long id, string actor, string? text, CancellationToken cancellationToken)
    {
        if (CheckText(text, "text") is { } invalid)
        {
            return invalid;
        }

        var alert = await store.AddNoteAsync(id, AlertActions.Note, actor, text!.Trim(), time.GetUtcNow(), cancellationToken);
        return await PublishAsync(alert, id, cancellationToken);
    }

    public async Task<WorkflowResult> LogCallAsync(long id, string actor, string? summary, bool reached, CancellationToken cancellationToken)
    {
        if (CheckText(summary, "summary") is { } invalid)
        {
            return invalid;
        }

        var detail = (reached ? "reached: " : "not reached: ") + summary!.Trim();
        return await StepAsync(id, actor, $"UPDATE alert SET updated_at = @now, version = <next-version> WHERE id = @id AND {HeldByActor}",
            [], AlertActions.Call, detail, null, cancellationToken);
    }

    /// <summary>Snoozes until <paramref name="until"/>: the alert leaves the board's queue and the claim is released, so whoever is on duty picks it up when it returns.</summary>
    public async Task<WorkflowResult> SnoozeAsync(long id, string actor, DateTimeOffset? until, string? reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (CheckText(reason, "reason") is { } invalid)
        {
            return invalid;
        }

        if (until is not { } end || end <= now || end - now > options.Value.MaxSnooze)
        {
            return Invalid($"until must be a time in the future, at most {options.Value.MaxSnooze.TotalDays:0} days ahead");
        }

        return await StepAsync(id, actor, $"""
            UPDATE alert SET snoozed_until = @until, snooze_reason = @reason, claimed_by = NULL, claimed_at = NULL, updated_at = @now, version = <next-version>
            WHERE id = @id AND {HeldByActor}
            """, [("@until", AlertStore.Ms(end)), ("@reason", reason!.Trim())], AlertActions.Snoozed, $"until {end:O}: {reason.Trim()}", null, cancellationToken);
    }

    /// <summary>Snoozes for <paramref name="minutes"/> from now (the board's "snooze 30 min").</summary>
    public Task<WorkflowResult> SnoozeForAsync(long id, string actor, double minutes, string? reason, CancellationToken cancellationToken)
    {
        // Checked as a number first: a client's 1e300 minutes overflows DateTimeOffset arithmetic.
        if (!double.IsFinite(minutes) || minutes <= 0 || minutes > options.Value.MaxSnooze.TotalMinutes)
        {
            return System.Threading.Tasks.Task.FromResult(Invalid($"minutes must be more than 0 and at most {options.Value.MaxSnooze.TotalMinutes:0} ({options.Value.MaxSnooze.TotalDays:0} days)"));
        }

        return SnoozeAsync(id, actor, time.GetUtcNow().AddMinutes(minutes), reason, cancellationToken);
    }

    /// <summary>Escalates to <paramref name="to"/>, or to the patient's physician (<c>generalPractitioner</c>), or to <see cref="AlertOptions.DefaultPhysician"/>.</summary>
    public async Task<WorkflowResult> EscalateAsync(long id, string actor, string? to, string? reason, CancellationToken cancellationToken)
    {
        if (reason is { Length: > MaxText } || to is { Length: > 200 })
        {
            return Invalid($"reason is limited to {MaxText} characters and to to 200");
        }

        var alert = await store.GetAsync(id, cancellationToken);
        if (alert is null)
        {
            return NotFound(id);
        }

        var physician = string.IsNullOrWhiteSpace(to) ? patients.Find(alert.PatientId)?.Physician ?? options.Value.DefaultPhysician : to.Trim();
        var guard = actor == AlertStore.SystemActor ? "status NOT IN ('resolved', 'cleared') AND escalated_at IS NULL AND acknowledged_at IS NULL" : HeldByActor;
        return await StepAsync(id, actor, $"""
            UPDATE alert SET escalated_at = @now, escalated_to = @to, status = 'escalated', updated_at = @now, version = <next-version>
            WHERE id = @id AND {guard}
            """, [("@to", physician)], AlertActions.Escalated, string.IsNullOrWhiteSpace(reason) ? $"to {physician}" : $"to {physician}: {reason.Trim()}", null, cancellationToken);
    }

    public async Task<WorkflowResult> ResolveAsync(long id, string actor, string? outcome, string? note, CancellationToken cancellationToken)
    {
        if (outcome is null || !AlertOutcomes.All.Contains(outcome))
        {
            return Invalid($"outcome must be one of {string.Join(", ", AlertOutcomes.All)}");
        }

        if (note is { Length: > MaxText })
        {
            return Invalid($"note is limited to {MaxText} characters");
        }

        return await StepAsync(id, actor, $"""
            UPDATE alert SET status = 'resolved', outcome = @outcome, resolved_by = @actor, closed_at = @now, claimed_by = NULL, claimed_at = NULL,
                updated_at = @now, version = <next-version>
            WHERE id = @id AND {HeldByActor}
            """, [("@outcome", outcome)], AlertActions.Resolved, string.IsNullOrWhiteSpace(note) ? outcome : $"{outcome}: {note.Trim()}", null, cancellationToken);
    }

    /// <summary>Escalates, as <see cref="AlertStore.SystemActor"/>, the critical alerts nobody acknowledged in time.</summary>
    public async Task<int> EscalateOverdueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var after = options.Value.EscalateCriticalAfter;
        var escalated = 0;
        foreach (var id in await store.DueForEscalationAsync(now - after, now, cancellationToken))
        {
            var result = await EscalateAsync(id, AlertStore.SystemActor, null, $"critical alert not acknowledged within {after.TotalMinutes:0} min", cancellationToken);
            escalated += result.Succeeded ? 1 : 0;
        }

        return escalated;
    }

    private async Task<WorkflowResult> StepAsync(
        long id, string actor, string update, IReadOnlyList<(string, object?)> parameters, string action, string? detail,
        Func<Alert, bool>? alreadyDone, CancellationToken cancellationToken)
    {
        var result = await store.StepAsync(id, update, parameters, action, actor, detail, time.GetUtcNow(), cancellationToken);
        if (result is not { } step)
        {
            return NotFound(id);
        }

        if (step.Applied)
        {
            await board.AlertChangedAsync(step.Alert, cancellationToken);
            return new WorkflowResult(step.Alert, null);
        }

        // Repeating a step already done by the same nurse (a double click, a retried request) is not an error.
        if (alreadyDone?.Invoke(step.Alert) == true)
        {
            return new WorkflowResult(step.Alert, null);
        }

        var alert = step.Alert;
        var why = alert.IsClosed ? $"alert {id} is closed ({alert.Status})"
            : alert.ClaimedBy is null ? $"alert {id} is not claimed: claim it first"
            : alert.ClaimedBy != actor ? $"alert {id} is claimed by {alert.ClaimedBy}"
            : action == AlertActions.Acknowledged ? $"alert {id} is already acknowledged"
            : action == AlertActions.Escalated ? $"alert {id} is already escalated"
            : $"alert {id} cannot be {action} now";
        return new WorkflowResult(alert, new WorkflowError(WorkflowErrorKind.Conflict, why));
    }

    private async Task<WorkflowResult> PublishAsync(Alert? alert, long id, CancellationToken cancellationToken)
    {
        if (alert is null)
        {
            return NotFound(id);
        }

        await board.AlertChangedAsync(alert, cancellationToken);
        return new WorkflowResult(alert, null);
    }

    private static WorkflowResult? CheckText(string? text, string name) =>
        string.IsNullOrWhiteSpace(text) ? Invalid($"{name} is required")
        : text.Length > MaxText ? Invalid($"{name} is limited to {MaxText} characters")
        : null;

    private static WorkflowResult Invalid(string message) => new(null, new WorkflowError(WorkflowErrorKind.Invalid, message));

    private static WorkflowResult NotFound(long id) => new(null, new WorkflowError(WorkflowErrorKind.NotFound, $"no alert {id}"));
}
