using System.Data.Common;

namespace TeleSuivi.Server.Workflow;

/// <summary>
/// The PostgreSQL advisory lock a patient's erasure holds, exclusively, from before it deletes the patient's alerts
/// until the shared registry no longer holds them (<see cref="HoldAsync"/>). The writes that must never store anything
/// of an erased patient — a scorer's save, an alert's raise — take it shared first (<see cref="ShareAsync"/>) and then
/// check that the registry still holds the patient: whatever node they run on and whatever its registry in memory
/// says, they either commit before the erasure deletes, or see the patient gone. Taken before any table lock, by the
/// erasure as by the writes, so that the two never wait for each other in a circle.
/// </summary>
public static class ErasureLock
{
    // The two keys of the lock (apart from the scoring partitions' locks).
    public const int Space = 0x7e1e_e7a;
    public const int Key = 0;

    /// <summary>
    /// For an erasure on PostgreSQL, from before it deletes the patient's alerts and assessments until the registry no
    /// longer holds them: the scorers' saves and the alerts' raises on every node wait meanwhile, then see the patient
    /// gone. What was saved or raised before is deleted by the erasure; nothing can be after. Released when disposed,
    /// or when the erasure's session ends (a process killed half-way holds nothing). Nothing to hold with SQLite.
    /// </summary>
    public static async Task<IAsyncDisposable> HoldAsync(WorkflowDatabase database, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        if (database.Dialect != WorkflowDialect.PostgreSql)
        {
            return NoHold.Instance;
        }

        var connection = await database.OpenAsync(cancellationToken);
        try
        {
            await using var hold = WorkflowDatabase.Command(connection, null, "SELECT pg_advisory_lock(@space, @key)", ("@space", Space), ("@key", Key));
            await hold.ExecuteScalarAsync(cancellationToken);
            return new Hold(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Takes the lock shared until the end of <paramref name="transaction"/> (waits while an erasure holds it).</summary>
    public static async Task ShareAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var hold = WorkflowDatabase.Command(connection, transaction, "SELECT pg_advisory_xact_lock_shared(@space, @key)", ("@space", Space), ("@key", Key));
        await hold.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Whether the shared registry holds the patient (see <see cref="RegisteredAsync"/>).</summary>
    public static async Task<bool> IsRegisteredAsync(DbConnection connection, DbTransaction transaction, string patientId, CancellationToken cancellationToken) =>
        (await RegisteredAsync(connection, transaction, [patientId], cancellationToken)).Count > 0;

    /// <summary>
    /// Those of <paramref name="patientIds"/> the shared registry holds; all of them when this database holds no
    /// registry (a workflow database of alerts and scores alone cannot tell, and no erasure ran on it).
    /// </summary>
    public static async Task<HashSet<string>> RegisteredAsync(DbConnection connection, DbTransaction transaction, string[] patientIds, CancellationToken cancellationToken)
    {
        await using (var registry = WorkflowDatabase.Command(connection, transaction, "SELECT to_regclass('patient') IS NOT NULL"))
        {
            if (await registry.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return new HashSet<string>(patientIds, StringComparer.Ordinal);
            }
        }

        var registered = new HashSet<string>(StringComparer.Ordinal);
        await using var find = WorkflowDatabase.Command(connection, transaction, "SELECT id FROM patient WHERE id = ANY(@ids)", ("@ids", patientIds));
        await using var reader = await find.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            registered.Add(reader.GetString(0));
        }

        return registered;
    }

    private sealed class NoHold : IAsyncDisposable
    {
        public static readonly NoHold Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Hold(DbConnection connection) : IAsyncDisposable
    {
        private int released;

        /// <summary>Releases once: the erasure lets the writes go as soon as the registry is done, and its <c>using</c> ends later.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref released, 1) == 1)
            {
                return;
            }

            try
            {
                await using var release = WorkflowDatabase.Command(connection, null, "SELECT pg_advisory_unlock(@space, @key)", ("@space", Space), ("@key", Key));
                await release.ExecuteScalarAsync(CancellationToken.None);
            }
            finally
            {
                // The connection goes back to the pool: never with the lock (a failed unlock means a broken session, which PostgreSQL ends).
                await connection.DisposeAsync();
            }
        }
    }
}
