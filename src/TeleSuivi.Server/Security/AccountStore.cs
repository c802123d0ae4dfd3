using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;

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
/// Users and API keys in <c>{data}/security.db</c> (SQLite, WAL). The server and the <c>users</c>/<c>apikey</c>
/// commands share the file, so nothing is cached: a disabled user or a revoked key is refused on its next request.
/// Passwords are hashed with ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/> (PBKDF2, salted, versioned).
/// </summary>
public sealed partial class AccountStore
{
    public const string FileName = "security.db";
    public const int MinPasswordLength = 12;
    private const string KeyPrefix = "tsk_";
    private const string UserColumns = "name, role, teams, disabled, failed_logins, locked_until_ms, created_ms";
    private const string KeyColumns = "id, name, role, teams, created_ms, revoked_ms, last_used_ms";

    private static readonly PasswordHasher<string> Hasher = new();
    private readonly string connectionString;

    public AccountStore(string dataDirectory)
    {
        (FilePath, connectionString) = Sql.FileIn(dataDirectory, FileName);
    }

    public string FilePath { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await Sql.ExecuteAsync(connection, null, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS user (
                name TEXT PRIMARY KEY COLLATE NOCASE,
                role TEXT NOT NULL,
                teams TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0,
                failed_logins INTEGER NOT NULL DEFAULT 0,
                locked_until_ms INTEGER,
                created_ms INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS api_key (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                teams TEXT NOT NULL,
                secret_sha256 BLOB NOT NULL,
                created_ms INTEGER NOT NULL,
                revoked_ms INTEGER,
                last_used_ms INTEGER
            );
            """, cancellationToken);
    }

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
        if (!UserName().IsMatch(name))
        {
            throw new AccountException($"user name '{name}' is not valid: 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit");
        }

        var checkedTeams = CheckRoleAndTeams(role, teams, Roles.People);
        CheckPassword(password);
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            await Sql.ExecuteAsync(connection, null, "INSERT INTO user (name, role, teams, password_hash, created_ms) VALUES ($1, $2, $3, $4, $5)", cancellationToken,
                name, role, string.Join('\n', checkedTeams), Hasher.HashPassword(name, password), now.ToUnixTimeMilliseconds());
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            throw new AccountException($"user '{name}' already exists");
        }

        return (await FindUserAsync(name, cancellationToken))!;
    }

    public async Task<IReadOnlyList<UserAccount>> ListUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.QueryAsync(connection, null, $"SELECT {UserColumns} FROM user ORDER BY name", ReadUser, cancellationToken);
    }

    public async Task<UserAccount?> FindUserAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await Sql.QueryAsync(connection, null, $"SELECT {UserColumns} FROM user WHERE name = $1", ReadUser, cancellationToken, name)).FirstOrDefault();
    }

    public async Task<bool> AnyUserAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Sql.ScalarAsync(connection, "SELECT COUNT(*) FROM user", cancellationToken) > 0;
    }

    /// <summary>Disables or re-enables a user; enabling also clears a lockout.</summary>
    public async Task SetDisabledAsync(string name, bool disabled, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var changed = await Sql.ExecuteAsync(connection, null,
            disabled ? "UPDATE user SET disabled = 1 WHERE name = $1" : "UPDATE user SET disabled = 0, failed_logins = 0, locked_until_ms = NULL WHERE name = $1",
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
        var changed = await Sql.ExecuteAsync(connection, null, "UPDATE user SET password_hash = $2, failed_logins = 0, locked_until_ms = NULL WHERE name = $1",
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
        // IMMEDIATE: two wrong passwords at the same moment both count.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var rows = await Sql.QueryAsync(connection, transaction, $"SELECT {UserColumns}, password_hash FROM user WHERE name = $1",
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
            await Sql.ExecuteAsync(connection, transaction, "UPDATE user SET failed_logins = $2, locked_until_ms = $3 WHERE name = $1", cancellationToken,
                account.Name, lockedUntil is null ? failures : 0, lockedUntil?.ToUnixTimeMilliseconds());
            await transaction.CommitAsync(cancellationToken);
            return lockedUntil is null ? new LoginResult(LoginOutcome.Failed, account, null) : new LoginResult(LoginOutcome.LockedOut, account, lockedUntil);
        }

        await Sql.ExecuteAsync(connection, transaction, "UPDATE user SET failed_logins = 0, locked_until_ms = NULL WHERE name = $1", cancellationToken, account.Name);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await Sql.ExecuteAsync(connection, transaction, "UPDATE user SET password_hash = $2 WHERE name = $1", cancellationToken, account.Name, Hasher.HashPassword(account.Name, password));
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

    private static UserAccount ReadUser(SqliteDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        SplitTeams(r.GetString(2)),
        r.GetInt64(3) != 0,
        (int)r.GetInt64(4),
        r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));

    private static ApiKeyRecord ReadKey(SqliteDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        SplitTeams(r.GetString(3)),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
        r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)),
        r.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));

    private static string[] SplitTeams(string teams) => teams.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => Sql.OpenAsync(connectionString, cancellationToken);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    private static partial Regex UserName();

    [GeneratedRegex("^[A-Za-z0-9.-]{1,64}$")]
    private static partial Regex TeamId();
}

/// <summary>The few SQLite helpers the account store and the audit log share (positional parameters $1, $2…).</summary>
internal static class Sql
{
    /// <summary>A SQLite file of the data folder (created if missing), waiting up to 30 s for another process's lock.</summary>
    public static (string Path, string ConnectionString) FileIn(string dataDirectory, string fileName)
    {
        var directory = System.IO.Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, fileName);
        return (path, new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = 30 }.ToString());
    }

    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = Command(connection, transaction, sql, values);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<long> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = Command(connection, null, sql, values);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, CultureInfo.InvariantCulture);
    }

    public static async Task<List<T>> QueryAsync<T>(SqliteConnection connection, SqliteTransaction? transaction, string sql, Func<SqliteDataReader, T> read, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = Command(connection, transaction, sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, object?[] values)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters.AddWithValue("$" + (i + 1).ToString(CultureInfo.InvariantCulture), values[i] ?? DBNull.Value);
        }

        return command;
    }
}
