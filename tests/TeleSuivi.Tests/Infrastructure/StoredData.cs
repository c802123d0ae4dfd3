using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>Reads what a <c>telesuivi</c> process wrote to its embedded SQLite files, as an auditor would.</summary>
public static class StoredData
{
    private static readonly FhirJsonSerializer Serializer = new();

    private static readonly FhirJsonDeserializer Parser = new(new DeserializerSettings().UsingMode(DeserializationMode.Strict));

    /// <summary>
    /// The store appends every write to observation_log and folds it into its search tables later (README, "Storage"):
    /// an id written twice may have two rows until then, the later one being the Observation.
    /// </summary>
    private const string LatestOfEachId = "SELECT max(seq) FROM observation_log GROUP BY id";

    public static async Task<IReadOnlyList<Observation>> ObservationsAsync(string dataDirectory, string? subject = null)
    {
        var path = Path.Combine(dataDirectory, "telesuivi.db");
        if (!File.Exists(path))
        {
            return [];
        }

        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        // Each row is its own FHIR JSON or a shape and the parts that vary (README "Storage"), rebuilt as the store does.
        var select = $"SELECT {SqliteObservationStore.LogResource} FROM observation_log l {SqliteObservationStore.ShapeJoin} WHERE l.seq IN ({LatestOfEachId})";
        command.CommandText = subject is null
            ? $"{select} ORDER BY l.effective_ms"
            : $"{select} AND l.patient = $subject ORDER BY l.effective_ms";
        command.Parameters.AddWithValue("$subject", (object?)subject ?? DBNull.Value);
        var observations = new List<Observation>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                observations.Add(Parser.Deserialize<Observation>(Serializer.SerializeToString(SqliteObservationStore.ReadResource(reader, 0))));
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 1)
        {
            // The table does not exist yet: the host has not initialised its store.
        }

        return observations;
    }

    /// <summary>How many patients (subjects Patient/...) have at least one Observation: cheap enough to poll.</summary>
    public static async Task<long> PatientsWithObservationsAsync(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "telesuivi.db");
        if (!File.Exists(path))
        {
            return 0;
        }

        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(DISTINCT patient) FROM observation_log WHERE patient LIKE 'Patient/%'";
        try
        {
            return (long)(await command.ExecuteScalarAsync() ?? 0L);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 1)
        {
            return 0;
        }
    }

    /// <summary>The dead letters of a running host, through its API.</summary>
    public static async Task<IReadOnlyList<JsonElement>> DeadLettersAsync(Uri host, bool includeReplayed = false)
    {
        using var http = TeleSuiviProcess.CreateClient(host);
        var json = await http.GetStringAsync(new Uri($"/api/deadletters?limit=1000&all={includeReplayed.ToString().ToLowerInvariant()}", UriKind.Relative));
        return JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }
}
