using Microsoft.AspNetCore.SignalR;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Security;

namespace TeleSuivi.Server.Board;

/// <summary>
/// <c>/hubs/triage</c>: boards receive <see cref="ITriageClient.AlertChanged"/> for every new or changed alert. A board
/// (re)connecting calls <see cref="GetSnapshot"/> and then applies only changes with a higher version than the
/// snapshot's, so several tabs and nurses converge on the same board whatever they missed while disconnected.
/// Workflow actions go through the REST API (<c>/api/alerts/{id}/…</c>), which pushes the result here.
/// A connection sees the alerts of its user's care teams only: it joins one group per team (admins: one group for
/// all), fixed for the connection's life — a change of a user's teams applies from their next connection.
/// </summary>
public sealed class TriageHub(BoardNotifier board, DeviceRegistry registry, HubConnections connections) : Hub<ITriageClient>
{
    public const string AdminGroup = "admins";

    public static string TeamGroup(string team) => "team:" + team;

    public override async Task OnConnectedAsync()
    {
        var access = new PatientAccess(Context.User!, registry);
        foreach (var group in access.SeesEveryPatient ? [AdminGroup] : access.Teams.Select(TeamGroup))
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, group, Context.ConnectionAborted);
        }

        await base.OnConnectedAsync();
        connections.Connected();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Disconnected();
        return base.OnDisconnectedAsync(exception);
    }

    /// <param name="includeClosed">Closed alerts too (the board's "closed" filter).</param>
    public Task<BoardSnapshot> GetSnapshot(bool includeClosed = false) =>
        board.SnapshotAsync(new AlertQuery { IncludeClosed = includeClosed }, new PatientAccess(Context.User!, registry), Context.ConnectionAborted);
}
