using System.Collections.Concurrent;

namespace TeleSuivi.Server.Broker;

/// <summary>What the embedded broker refused since start, by action and reason, for <c>/metrics</c>.</summary>
public sealed class BrokerRefusals
{
    /// <summary>The CONNECT named no account the broker knows.</summary>
    public const string UnknownUser = "unknown-user";

    /// <summary>The account exists and the secret is wrong.</summary>
    public const string BadSecret = "bad-secret";

    /// <summary>No username while anonymous clients are not allowed.</summary>
    public const string Anonymous = "anonymous";

    /// <summary>The client id holds the session of another account (the ingest workers' queued readings).</summary>
    public const string SessionOfAnotherAccount = "session-of-another-account";

    /// <summary>A PUBLISH or SUBSCRIBE outside what the account may do.</summary>
    public const string NotAuthorized = "not-authorized";

    /// <summary>A message dropped because its subscriber already had Broker:EmbeddedMaxPendingMessages queued (action "deliver").</summary>
    public const string QueueFull = "queue-full";

    private readonly ConcurrentDictionary<(string Action, string Reason), long> counts = new();

    public void Add(string action, string reason) => counts.AddOrUpdate((action, reason), 1, (_, count) => count + 1);

    public IReadOnlyList<(string Action, string Reason, long Count)> Snapshot() =>
        counts.Select(pair => (pair.Key.Action, pair.Key.Reason, pair.Value))
            .OrderBy(entry => entry.Action, StringComparer.Ordinal).ThenBy(entry => entry.Reason, StringComparer.Ordinal).ToList();
}
