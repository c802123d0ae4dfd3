using System.Data.Common;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Tests.Alerts;

/// <summary>
/// A real workflow database whose next <see cref="FailingCommits"/> commits happen and then throw, as a PostgreSQL
/// connection dropped just after COMMIT does: the data is durable, the caller is told it failed. The test bed
/// disposes the inner database.
/// </summary>
public sealed class CommitReportedFailedDatabase(WorkflowDatabase inner) : WorkflowDatabase
{
    private int failingCommits;

    public int FailingCommits
    {
        get => Volatile.Read(ref failingCommits);
        set => Volatile.Write(ref failingCommits, value);
    }

    public override WorkflowDialect Dialect => inner.Dialect;

    public override string Location => inner.Location;

    public override async Task CommitAsync(DbTransaction transaction, CancellationToken cancellationToken)
    {
        await inner.CommitAsync(transaction, cancellationToken);
        if (Interlocked.Decrement(ref failingCommits) >= 0)
        {
            throw new InvalidOperationException("connection lost after COMMIT (forced by the test)");
        }
    }

    public override Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

    public override Task<DbTransaction> BeginWriteAsync(DbConnection connection, string table, CancellationToken cancellationToken) =>
        inner.BeginWriteAsync(connection, table, cancellationToken);

    public override Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) => inner.BeginReadAsync(connection, cancellationToken);

    public override Task CreateSchemaAsync(string ddl, CancellationToken cancellationToken) => inner.CreateSchemaAsync(ddl, cancellationToken);

    public override Task PrepareEraseAsync(DbConnection connection, CancellationToken cancellationToken) => inner.PrepareEraseAsync(connection, cancellationToken);

    public override Task ReclaimErasedAsync(DbConnection connection, IReadOnlyList<string> tables, CancellationToken cancellationToken) =>
        inner.ReclaimErasedAsync(connection, tables, cancellationToken);
}
