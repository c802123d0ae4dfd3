namespace TeleSuivi.Server.Hosting;

/// <summary>What one process does in a deployment of several (<c>Node:Roles</c>, <c>TELESUIVI_NODE__ROLES</c>).</summary>
[Flags]
public enum NodeRoles
{
    /// <summary>Takes readings from the broker (shared subscription), normalises, stores them and raises alerts.</summary>
    Ingest = 1,

    /// <summary>Serves the board, the hub, the patient pages and the alert API to people.</summary>
    Web = 2,

    All = Ingest | Web,
}

public static class NodeRoleSettings
{
    public const string Key = "Node:Roles";

    /// <summary>
    /// Reads <c>Node:Roles</c>: a comma-separated list of <c>ingest</c> and <c>web</c>, or <c>all</c>; not set: all
    /// (one process runs everything, as on a single machine).
    /// </summary>
    public static NodeRoles Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var text = configuration[Key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return NodeRoles.All;
        }

        var roles = (NodeRoles)0;
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            roles |= name.ToLowerInvariant() switch
            {
                "ingest" => NodeRoles.Ingest,
                "web" => NodeRoles.Web,
                "all" => NodeRoles.All,
                _ => throw new ConfigurationException($"{Key} '{text}' is not valid: '{name}' is not a role (expected ingest, web, or both separated by a comma, or all)"),
            };
        }

        return roles == 0
            ? throw new ConfigurationException($"{Key} '{text}' names no role (expected ingest, web, or both separated by a comma, or all)")
            : roles;
    }
}
