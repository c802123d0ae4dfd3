namespace TeleSuivi.Server.Board;

/// <summary>Boards connected to <see cref="TriageHub"/> right now, for <c>/metrics</c>.</summary>
public sealed class HubConnections
{
    private long open;
    private long opened;

    public long Open => Interlocked.Read(ref open);

    /// <summary>Connections accepted since start: with <see cref="Open"/>, tells boards reconnecting in a loop.</summary>
    public long Opened => Interlocked.Read(ref opened);

    public void Connected()
    {
        Interlocked.Increment(ref opened);
        Interlocked.Increment(ref open);
    }

    public void Disconnected() => Interlocked.Decrement(ref open);
}
