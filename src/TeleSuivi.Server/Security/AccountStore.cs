using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Security;

/// <summary>A person who signs in: a role, the care teams whose patients they see, and the sign-in state.</summary>
public sealed record UserAccount(
    string Name,
    string Role,
    IReadOnlyList<string> Teams,
    bool Disabled,
    int FailedLogins,
    DateTimeOffset? LockedUntil,
    DateTimeOffset CreatedAt);

/// <summary>A machine client's key: shown once at creation, kept as a SHA-256 of its secret.</summary>
public sealed record ApiKeyRecord(
    string Id,
    string Name,
    string Role,
    IReadOnlyList<string> Teams,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt);

public enum LoginOutcome
{
    Succeeded,
    Failed,
    LockedOut,
    Disabled,
}

public sealed record LoginResult(LoginOutcome Outcome, UserAccount? Account, DateTimeOffset? LockedUntil);

/// <summary>A request to change accounts that the store refuses, with the reason for the operator.</summary>
public sealed class AccountException(string message) : Exception(message);

/// <summary>
/// Users and API keys in <c>{data}/security.db</c> (SQLite, WAL), or in the PostgreSQL database every node shares
/// (<see cref="WorkflowOptions.PostgreSql"/>). The server and the <c>users</c>/<c>apikey</c> commands share it, so
/// nothing is cached: a disabled user or a revoked key is refused on its next request, on every node.
/// Passwords are hashed with ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/> (PBKDF2, salted, versioned).
/// </summary>
public sealed partial class AccountStore
{
    public const string FileName = "security.db";
    public const int MinPasswordLength = 12;
    private const string KeyPrefix = "tsk_";
    private const string UserColumns = "name, role, teams, disabled, failed_logins, locked_until_ms, created_ms";
    private const string KeyColumns = "id, name, role, teams, created_ms, revoked_ms, last_used_ms";

    // "user" is quoted: a reserved word in PostgreSQL. Names compare without case (lower(), ASCII by UserName()).
    private const string UserTable = "\"user\"";

    private static readonly PasswordHasher<string> Hasher = new();
    private readonly WorkflowDatabase database;

    /// <summary>The single-node store: <c>{dataDirectory}/security.db</c>.</summary>
    public AccountStore(string dataDirectory)
        : this(WorkflowDatabase.Create(new WorkflowOptions(), dataDirectory, FileName))
    {
    }

    public AccountStore(WorkflowDatabase database) => this.database = database;

    /// <summary>Where the accounts are (the SQLite file, or the PostgreSQL host and database).</summary>
    public string FilePath => database.Location;

    // Names are unique whatever their case on both engines (the unique index on lower(name)); older SQLite files
    // declared the same with COLLATE NOCASE on the key.
    public Task InitializeAsync(CancellationToken cancellationToken) => database.CreateSchemaAsync($$"""
        CREATE TABLE IF NOT EXISTS "user" (
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            teams TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            disabled BIGINT NOT NULL DEFAULT 0,
            failed_logins BIGINT NOT NULL DEFAULT 0,
            locked_until_ms BIGINT,
            created_ms BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS user_name ON "user" (lower(name));
        CREATE TABLE IF NOT EXISTS api_key (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            teams TEXT NOT NULL,
            secret_sha256 {{database.Pick("BLOB", "BYTEA")}} NOT NULL,
            created_ms BIGINT NOT NULL,
            revoked_ms BIGINT,
            last_used_ms BIGINT
        );
        """, cancellationToken);

    /// <summary>A password to print once: 20 characters from an alphabet without look-alikes.</summary>
    public static string GeneratePassword() =>
        RandomNumberGenerator.GetString("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20);

    public static void CheckPassword(string password)
    {
        if (password.Length < MinPasswordLength)
        {
            throw new AccountException($"the password must have at least {MinPasswordLength} characters");
        }
    }

    public static IReadOnlyList<string> CheckRoleAndTeams(string role, IReadOnlyCollection<string> teams, IReadOnlyList<string> allowedRoles)
    {
        if (!allowedRoles.Contains(role))
        {
            throw new AccountException($"role '{role}' is not one of {string.Join(", ", allowedRoles)}");
        }

        foreach (var team in teams)
        {
            if (!TeamId().IsMatch(team))
            {
                throw new AccountException($"team '{team}' is not a valid id (the id of the team's FHIR Organization: letters, digits, '-' and '.', at most 64)");
            }
        }

        if (Roles.IsTeamScoped(role) && teams.Count == 0)
        {
            throw new AccountException($"a {role} belongs to at least one care team (--team): otherwise they would see no patient");
        }

        if (!Roles.IsTeamScoped(role) && teams.Count > 0)
        {
            throw new AccountException($"role '{role}' is not limited to teams: leave out --team");
        }

        return teams.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    public async Task<UserAccount> AddUserAsync(string name, string role, IReadOnlyCollection<string> teams, string password, DateTimeOffset now, CancellationToken cancellationToken)
    {
        return await AddUserIfAbsentAsync(name, role, teams, password, now, cancellationToken)
            ?? throw new AccountException($"user '{name}' already exists");
    }

    /// <summary>
    /// Adds the user unless one of that name exists (then null). Safe when several nodes start at once and each
    /// creates the same bootstrap users: exactly one insert wins, the others see null.
    /// </summary>
    public async Task<UserAccount?> AddUserIfAbsentAsync(string name, string role, IReadOnlyCollection<string> teams, string password, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!UserName().IsMatch(name))
        {
            throw new AccountException($"user name '{name}' is not valid: 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit");
        }

        var checkedTeams = CheckRoleAndTeams(role, teams, Roles.People);
        CheckPassword(password);
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            // ON CONFLICT DO NOTHING: both engines skip the row when the (case-insensitive) name is taken.
            var added = await Sql.ExecuteAsync(connection, null, $"INSERT INTO {UserTable} (name, role, teams, password_hash, created_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", cancellationToken,
                name, role, string.Join('\n', checkedTeams), Hasher.HashPassword(name, password), now.ToUnixTimeMilliseconds());
            return added == 0 ? null : await FindUserAsync(name, cancellationToken);
        }
        catch (DbException ex) when (WorkflowDatabase.IsUniqueViolation(ex))
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<UserAccount>> ListUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.QueryAsync(connection, null, $"SELECT {UserColumns} FROM {UserTable} ORDER BY name", ReadUser, cancellationToken);
    }

    public async Task<UserAccount?> FindUserAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await Sql.QueryAsync(connection, null, $"SELECT {UserColumns} FROM {UserTable} WHERE lower(name) = lower($1)", ReadUser, cancellationToken, name)).FirstOrDefault();
    }

    public async Task<bool> AnyUserAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.ScalarAsync(connection, null, $"SELECT COUNT(*) FROM {UserTable}", cancellationToken) > 0;
    }

    /// <summary>Disables or re-enables a user; enabling also clears a lockout.</summary>
    public async Task SetDisabledAsync(string name, bool disabled, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var changed = await Sql.ExecuteAsync(connection, null,
            disabled ? $"UPDATE {UserTable} SET disabled = 1 WHERE lower(name) = lower($1)" : $"UPDATE {UserTable} SET disabled = 0, failed_logins = 0, locked_until_ms = NULL WHERE lower(name) = lower($1)",
            cancellationToken, name);
        if (changed == 0)
        {
            throw new AccountException($"no user '{name}'");
        }
    }

    /// <summary>Sets a new password and clears a lockout.</summary>
    public async Task SetPasswordAsync(string name, string password, CancellationToken cancellationToken)
    {
        CheckPassword(password);
        await using var connection = await OpenAsync(cancellationToken);
        var changed = await Sql.ExecuteAsync(connection, null, $"UPDATE {UserTable} SET password_hash = $2, failed_logins = 0, locked_until_ms = NULL WHERE lower(name) = lower($1)",
            cancellationToken, name, Hasher.HashPassword(name, password));
        if (changed == 0)
        {
            throw new AccountException($"no user '{name}'");
        }
    }

    /// <summary>
    /// Checks a password. <paramref name="maxFailures"/> wrong passwords in a row lock the account for
    /// <paramref name="lockout"/>; while locked even the right password is refused. An unknown name costs the same
    /// hashing time as a known one, so timing does not tell which names exist.
    /// </summary>
    public async Task<LoginResult> CheckPasswordAsync(string name, string password, int maxFailures, TimeSpan lockout, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // A write transaction (SQLite IMMEDIATE, PostgreSQL table lock): two wrong passwords at the same moment, on
        // any nodes, both count.
        await using var transaction = await database.BeginWriteAsync(connection, UserTable, cancellationToken);
        var rows = await Sql.QueryAsync(connection, transaction, $"SELECT {UserColumns}, password_hash FROM {UserTable} WHERE lower(name) = lower($1)",
            r => (Account: ReadUser(r), Hash: r.GetString(7)), cancellationToken, name);
        if (rows.Count == 0)
        {
            Hasher.VerifyHashedPassword(name, DummyHash, password);
            return new LoginResult(LoginOutcome.Failed, null, null);
        }

        var (account, hash) = rows[0];
        if (account.Disabled)
        {
            return new LoginResult(LoginOutcome.Disabled, account, null);
        }

        if (account.LockedUntil > now)
        {
            return new LoginResult(LoginOutcome.LockedOut, account, account.LockedUntil);
        }

        var verdict = Hasher.VerifyHashedPassword(account.Name, hash, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            var failures = account.FailedLogins + 1;
            DateTimeOffset? lockedUntil = failures >= maxFailures ? now + lockout : null;
            await Sql.ExecuteAsync(connection, transaction, $"UPDATE {UserTable} SET failed_logins = $2, locked_until_ms = $3 WHERE name = $1", cancellationToken,
                account.Name, lockedUntil is null ? failures : 0, lockedUntil?.ToUnixTimeMilliseconds());
            await transaction.CommitAsync(cancellationToken);
            return lockedUntil is null ? new LoginResult(LoginOutcome.Failed, account, null) : new LoginResult(LoginOutcome.LockedOut, account, lockedUntil);
        }

        await Sql.ExecuteAsync(connection, transaction, $"UPDATE {UserTable} SET failed_logins = 0, locked_until_ms = NULL WHERE name = $1", cancellationToken, account.Name);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await Sql.ExecuteAsync(connection, transaction, $"UPDATE {UserTable} SET password_hash = $2 WHERE name = $1", cancellationToken, account.Name, Hasher.HashPassword(account.Name, password));
        }

        await transaction.CommitAsync(cancellationToken);
        return new LoginResult(LoginOutcome.Succeeded, account with { FailedLogins = 0, LockedUntil = null }, null);
    }

    /// <summary>Creates a key; the returned secret is the only copy (only its SHA-256 is kept).</summary>
    public async Task<(ApiKeyRecord Key, string Secret)> CreateApiKeyAsync(string name, string role, IReadOnlyCollection<string> teams, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100)
        {
            throw new AccountException("an API key needs a name of 1 to 100 characters (who uses it, e.g. 'ehr-north')");
        }

        var checkedTeams = CheckRoleAndTeams(role, teams, Roles.ApiKeys);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await using var connection = await OpenAsync(cancellationToken);
        await Sql.ExecuteAsync(connection, null, "INSERT INTO api_key (id, name, role, teams, secret_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6)", cancellationToken,
            id, name, role, string.Join('\n', checkedTeams), SHA256.HashData(Encoding.UTF8.GetBytes(secret)), now.ToUnixTimeMilliseconds());
        return (new ApiKeyRecord(id, name, role, checkedTeams, now, null, null), $"{KeyPrefix}{id}_{secret}");
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.QueryAsync(connection, null, $"SELECT {KeyColumns} FROM api_key ORDER BY created_ms, id", ReadKey, cancellationToken);
    }

    public async Task RevokeApiKeyAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        if (await Sql.ExecuteAsync(connection, null, "UPDATE api_key SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1", cancellationToken, id, now.ToUnixTimeMilliseconds()) == 0)
        {
            throw new AccountException($"no API key '{id}' (see telesuivi apikey list)");
        }
    }

    /// <summary>The live key a bearer token names, or null (malformed, unknown, wrong secret, revoked).</summary>
    public async Task<ApiKeyRecord?> AuthenticateApiKeyAsync(string token, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var parts = token.Split('_');
        if (parts is not [_, var id, var secret] || !token.StartsWith(KeyPrefix, StringComparison.Ordinal) || id.Length != 12 || secret.Length != 64)
        {
            return null;
        }

        await using var connection = await OpenAsync(cancellationToken);
        var rows = await Sql.QueryAsync(connection, null, $"SELECT {KeyColumns}, secret_sha256 FROM api_key WHERE id = $1",
            r => (Key: ReadKey(r), Hash: (byte[])r.GetValue(7)), cancellationToken, id);
        if (rows is not [var (key, hash)] || !CryptographicOperations.FixedTimeEquals(hash, SHA256.HashData(Encoding.UTF8.GetBytes(secret))) || key.RevokedAt is not null)
        {
            return null;
        }

        // Written at most once a minute per key: a busy EHR must not turn every read into a write.
        if (key.LastUsedAt is null || now - key.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await Sql.ExecuteAsync(connection, null, "UPDATE api_key SET last_used_ms = $2 WHERE id = $1", cancellationToken, id, now.ToUnixTimeMilliseconds());
        }

        return key;
    }

    private static readonly string DummyHash = Hasher.HashPassword("-", "not a password of anyone");

    private static UserAccount ReadUser(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        SplitTeams(r.GetString(2)),
        r.GetInt64(3) != 0,
        (int)r.GetInt64(4),
        r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));

    private static ApiKeyRecord ReadKey(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        SplitTeams(r.GetString(3)),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
        r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        r.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));

    private static string[] SplitTeams(string teams) => teams.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenAsync(cancellationToken);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    private static partial Regex UserName();

    [GeneratedRegex("^[A-Za-z0-9.-]{1,64}$")]
    private static partial Regex TeamId();
}

