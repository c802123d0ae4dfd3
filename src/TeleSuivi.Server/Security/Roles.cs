namespace TeleSuivi.Server.Security;

/// <summary>
/// The roles of people and API keys. Nurses and physicians see the patients of their care teams; an admin sees
/// every patient and manages the platform; <see cref="Metrics"/> is for API keys only (a Prometheus scraper), and
/// reaches <c>/metrics</c> and nothing else.
/// </summary>
public static class Roles
{
    public const string Nurse = "nurse";
    public const string Physician = "physician";
    public const string Admin = "admin";
    public const string Metrics = "metrics";

    public static readonly IReadOnlyList<string> People = [Nurse, Physician, Admin];

    public static readonly IReadOnlyList<string> ApiKeys = [Nurse, Physician, Admin, Metrics];

    /// <summary>Roles limited to their teams' patients.</summary>
    public static bool IsTeamScoped(string role) => role is Nurse or Physician;
}

/// <summary>Claim types TeleSuivi adds to the signed-in principal.</summary>
public static class TeleSuiviClaims
{
    /// <summary>One claim per care team (the id of the team's FHIR Organization).</summary>
    public const string Team = "telesuivi:team";

    /// <summary>How the principal signed in: <c>password</c> or <c>apikey</c>.</summary>
    public const string Method = "telesuivi:method";

    /// <summary>The API key's public id (for the audit trail), when signed in with a key.</summary>
    public const string ApiKeyId = "telesuivi:apikey";
}

/// <summary>Authorization policy names.</summary>
public static class Policies
{
    /// <summary>Any person or key that may see patient data (nurse, physician, admin): the default for every route.</summary>
    public const string Clinical = "clinical";

    public const string Admin = "admin";

    /// <summary><c>/metrics</c>: an admin, or an API key with the <c>metrics</c> role.</summary>
    public const string Metrics = "metrics";
}
