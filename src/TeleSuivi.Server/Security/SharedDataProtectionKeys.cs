using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Server.Security;

/// <summary>
/// The keys that encrypt the session cookie, in the PostgreSQL database the nodes share (table
/// <c>data_protection_key</c>) when <see cref="WorkflowOptions.PostgreSql"/> is set: a nurse signed in through one web
/// node stays signed in when the load balancer sends the next request to another. Whoever reads the table can forge a
/// session: the database's access rules must keep it to the service account, as the folder's mode does for one node.
/// </summary>
public sealed class SharedDataProtectionKeys(WorkflowDatabase database) : IXmlRepository
{
    internal const string Schema = "CREATE TABLE IF NOT EXISTS data_protection_key (name TEXT PRIMARY KEY, xml TEXT NOT NULL)";
    private int schemaReady;

    // IXmlRepository is synchronous; the key manager calls it at start and when a key is made (every 90 days), then caches.
    public IReadOnlyCollection<XElement> GetAllElements() => RunAsync(async connection =>
        (IReadOnlyCollection<XElement>)(await Sql.QueryAsync(connection, null, "SELECT xml FROM data_protection_key ORDER BY name", reader => XElement.Parse(reader.GetString(0)), CancellationToken.None)));

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        RunAsync(connection => Sql.ExecuteAsync(connection, null, "INSERT INTO data_protection_key (name, xml) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET xml = excluded.xml", CancellationToken.None,
            friendlyName, element.ToString(SaveOptions.DisableFormatting)));
    }

    private T RunAsync<T>(Func<System.Data.Common.DbConnection, Task<T>> work) => Task.Run(async () =>
    {
        if (Interlocked.CompareExchange(ref schemaReady, 1, 0) == 0)
        {
            await database.CreateSchemaAsync(Schema, CancellationToken.None);
        }

        await using var connection = await database.OpenAsync(CancellationToken.None);
        return await work(connection);
    }).GetAwaiter().GetResult();
}
