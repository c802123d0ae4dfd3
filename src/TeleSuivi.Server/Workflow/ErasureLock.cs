using System.Data.Common;

namespace TeleSuivi.Server.Workflow;

/// <summary>
/// The PostgreSQL advisory lock a patient's erasure holds, exclusively, from before it deletes the patient's alerts
/// until the shared registry no longer holds them (<see cref="Risk.RiskAssessmentStore.HoldOffScoresAsync"/>). The
/// writes that must never store anything of an erased patient — a scorer's save, an alert's raise — take it shared
/// first and then check that the registry still holds the patient: whatever node they run on and whatever its
/// registry in memory says, they either commit before the erasure deletes, or see the patient gone. Taken before any
/// table lock, by the erasure as by the writes, so that the two never wait for each other in a circle.
/// </summary>
public static class ErasureLock
{
    // The two keys of the lock (apart from the scoring partitions' locks).
    public const int Space = 0x7e1e_e7a;
    public const int Key = 0;

    /// <summary>Takes the lock shared until the end of <paramref name="transaction"/> (waits while an erasure holds it).</summary>
    public static async Task ShareAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var hold = WorkflowDatabase.Command(connection, transaction, "SELECT pg_advisory_xact_lock_shared(@space, @key)", ("@space", Space), ("@key", Key));
        await hold.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>
    /// Whether the shared registry holds the patient; true when this database holds no registry (a workflow database
    /// of alerts alone cannot tell, and no erasure ran on it).
    /// </summary>
    public static async Task<bool> IsRegisteredAsync(DbConnection connection, DbTransaction transaction, string patientId, CancellationToken cancellationToken)
    {
        await using (var registry = WorkflowDatabase.Command(connection, transaction, "SELECT to_regclass('patient') IS NOT NULL"))
        {
            if (await registry.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return true;
            }
        }

        await using var find = WorkflowDatabase.Command(connection, transaction, "SELECT EXISTS (SELECT 1 FROM patient WHERE id = @id)", ("@id", patientId));
        return await find.ExecuteScalarAsync(cancellationToken) is true;
    }
}
