using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Server.Board;

/// <summary>An alert as boards show it: the stored alert, who the patient is, its state for the board, and its rank.</summary>
/// <param name="State">
/// What the board shows first: <c>closed</c>, <c>snoozed</c>, <c>escalated</c>, <c>acknowledged</c>, <c>claimed</c>
/// or <c>new</c> (in that order of precedence).
/// </param>
/// <param name="Rank">The ranking score (higher first); see <see cref="AlertRanking"/>.</param>
/// <param name="PatientRisk">The patient's latest exacerbation risk (0–1) from the online scorer, or null when none is known.</param>
public sealed record AlertView(
    long Id,
    string PatientId,
    string PatientName,
    string? Zone,
    string? Team,
    string Kind,
    string Subject,
    string Severity,
    string Status,
    string State,
    LocalizedText Reason,
    IReadOnlyList<AlertEvidence> Evidence,
    double? Risk,
    DateTimeOffset OpenedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ConditionEndedAt,
    string? ClaimedBy,
    DateTimeOffset? ClaimedAt,
    string? AcknowledgedBy,
    DateTimeOffset? AcknowledgedAt,
    DateTimeOffset? SnoozedUntil,
    string? SnoozeReason,
    DateTimeOffset? EscalatedAt,
    string? EscalatedTo,
    string? ResolvedBy,
    DateTimeOffset? ClosedAt,
    string? Outcome,
    long Version,
    double Rank,
    double? PatientRisk = null);

/// <summary>Every alert a board shows, and the sequence number it is up to date with.</summary>
public sealed record BoardSnapshot(long Version, DateTimeOffset GeneratedAt, IReadOnlyList<AlertView> Alerts);

/// <summary>The strongly typed client of <see cref="TriageHub"/>: what the server calls on every board.</summary>
public interface ITriageClient
{
    /// <summary>An alert was opened or changed; boards apply it when its version is newer than what they hold.</summary>
    Task AlertChanged(AlertView alert);
}
