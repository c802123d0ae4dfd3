using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Server.Board;

/// <summary>
/// The order in which a nurse should take open alerts, highest score first:
/// <c>1000 × severity (critical 3, warning 2, info 1) + 100 × the patient's latest risk probability (0 when unknown)
/// + minutes waiting since the alert opened ÷ 4 (at most 60, reached after 4 h) + 15 × the patient's other alerts in
/// the last 30 days (at most 4 counted)</c>. Severity always dominates (a critical alert comes before any warning);
/// within a severity, a riskier patient first, then the longest wait, then the patient who alerts often. A snoozed
/// alert scores as if it had just opened when it returns; closed alerts score 0.
/// </summary>
public static class AlertRanking
{
    public static readonly TimeSpan HistoryWindow = TimeSpan.FromDays(30);

    public static double Score(Alert alert, double? patientRisk, int recentAlerts, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(alert);
        if (alert.IsClosed)
        {
            return 0;
        }

        var waitingSince = alert.SnoozedUntil is { } until && until > alert.OpenedAt ? until : alert.OpenedAt;
        var waiting = Math.Clamp((now - waitingSince).TotalMinutes / 4, 0, 60);
        var risk = Math.Clamp(alert.Risk ?? patientRisk ?? 0, 0, 1) * 100;
        var history = 15 * Math.Clamp(recentAlerts - 1, 0, 4);
        return Math.Round((1000 * (int)alert.Severity) + risk + waiting + history, 2);
    }
}
