using Microsoft.AspNetCore.SignalR;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.Board;

/// <summary>Builds board views of alerts and pushes every change to the connected boards.</summary>
public sealed partial class BoardNotifier(
    IHubContext<TriageHub, ITriageClient> hub,
    AlertStore store,
    PatientDirectory patients,
    DeviceRegistry registry,
    Risk.LatestRisks latestRisks,
    TimeProvider time,
    ILogger<BoardNotifier> logger)
{
    public async Task AlertChangedAsync(Alert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        try
        {
            var history = await store.RecentAlertCountAsync(alert.PatientId, time.GetUtcNow() - AlertRanking.HistoryWindow, cancellationToken);
            // Only to the boards of the patient's care teams, and to admins' boards (TriageHub puts each connection in its groups).
            var groups = (registry.FindPatient(alert.PatientId)?.Teams ?? []).Select(TriageHub.TeamGroup).Append(TriageHub.AdminGroup).ToList();
            await hub.Clients.Groups(groups).AlertChanged(View(alert, latestRisks.Find(alert.PatientId)?.Probability, history, time.GetUtcNow()));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The change is stored; a board that missed it resynchronises from the snapshot on reconnect.
            LogPushFailed(alert.Id, ex.Message);
        }
    }

    /// <summary>
    /// The board of one user: the open alerts (and closed ones when asked) of the patients <paramref name="access"/> sees,
    /// ranked, with the sequence number they are current at.
    /// </summary>
    public async Task<BoardSnapshot> SnapshotAsync(AlertQuery query, PatientAccess access, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(access);
        // The version is read first: a change that lands while the list is read has a higher version and is applied on top.
        var version = await store.CurrentVersionAsync(cancellationToken);
        var now = time.GetUtcNow();
        var alerts = await store.ListAsync(query, cancellationToken);
        var history = await store.RecentAlertCountsAsync(now - AlertRanking.HistoryWindow, cancellationToken);
        var risks = await store.LatestRiskAsync(cancellationToken);
        // The scorer's latest score first; the risk of the patient's latest risk alert when no score is known since start.
        var views = alerts.Where(a => access.CanSee(a.PatientId))
            .Select(a => View(a, latestRisks.Find(a.PatientId)?.Probability ?? (risks.TryGetValue(a.PatientId, out var r) ? r : null), history.GetValueOrDefault(a.PatientId), now))
            .OrderByDescending(v => v.Rank).ThenBy(v => v.OpenedAt).ThenBy(v => v.Id)
            .ToList();
        return new BoardSnapshot(Math.Max(version, views.Count == 0 ? 0 : views.Max(v => v.Version)), now, views);
    }

    public AlertView View(Alert alert, double? patientRisk, int recentAlerts, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var patient = patients.Find(alert.PatientId);
        var state = alert.IsClosed ? "closed"
            : alert.IsSnoozed(now) ? "snoozed"
            : alert.EscalatedAt is not null ? "escalated"
            : alert.AcknowledgedAt is not null ? "acknowledged"
            : alert.ClaimedBy is not null ? "claimed"
            : "new";
        return new AlertView(
            alert.Id, alert.PatientId, patient?.Name ?? alert.PatientId, patient?.Zone, patient?.Team, alert.Kind, alert.Subject,
            alert.Severity.ToString().ToLowerInvariant(), alert.Status, state, alert.Reason, alert.Evidence, alert.Risk, alert.OpenedAt,
            alert.UpdatedAt, alert.ConditionEndedAt, alert.ClaimedBy, alert.ClaimedAt, alert.AcknowledgedBy, alert.AcknowledgedAt,
            alert.SnoozedUntil, alert.SnoozeReason, alert.EscalatedAt, alert.EscalatedTo, alert.ResolvedBy, alert.ClosedAt, alert.Outcome,
            alert.Version, AlertRanking.Score(alert, patientRisk, recentAlerts, now), patientRisk);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not push alert {AlertId} to the boards: {Reason}")]
    private partial void LogPushFailed(long alertId, string reason);
}
