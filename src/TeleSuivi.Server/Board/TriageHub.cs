using Microsoft.AspNetCore.SignalR;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Server.Board;

/// <summary>
/// <c>/hubs/triage</c>: boards receive <see cref="ITriageClient.AlertChanged"/> for every new or changed alert. A board
/// (re)connecting calls <see cref="GetSnapshot"/> and then applies only changes with a higher version than the
/// snapshot's, so several tabs and nurses converge on the same board whatever they missed while disconnected.
/// Workflow actions go through the REST API (<c>/api/alerts/{id}/…</c>), which pushes the result here.
/// </summary>
public sealed class TriageHub(BoardNotifier board) : Hub<ITriageClient>
{
    /// <param name="includeClosed">Closed alerts too (the board's "closed" filter).</param>
    public Task<BoardSnapshot> GetSnapshot(bool includeClosed = false) =>
        board.SnapshotAsync(new AlertQuery { IncludeClosed = includeClosed }, Context.ConnectionAborted);
}
