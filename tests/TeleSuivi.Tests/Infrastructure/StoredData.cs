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
    /// The store appends every write to observation_log in its log file and folds it into the main file later (README,
    /// "Storage"): an id written twice may have two rows until then, the later one being the Observation. A row may be
    /// in both files for a moment (folded, not yet deleted from the log): the same row, taken once.
    /// </summary>
    private const string AllRows = "(SELECT * FROM main.observation_log UNION SELECT * FROM log.observation_log)";

    private const string LatestOfEachId = $"SELECT max(seq) FROM {AllRows} GROUP BY id";

    /// <summary>Opens the main file read-only with its log file attached (both are the store: README, "Storage").</summary>
    private static async Task<SqliteConnection?> OpenAsync(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "telesuivi.db");
        if (!File.Exists(path) || !File.Exists(path + "-log"))
        {
            return null;
        }

        var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var attach = connection.CreateCommand();
        attach.CommandText = "ATTACH DATABASE $log AS log";
        attach.Parameters.AddWithValue("$log", path + "-log");
        await attach.ExecuteNonQueryAsync();
        return connection;
    }

    public static async Task<IReadOnlyList<Observation>> ObservationsAsync(string dataDirectory, string? subject = null)
    {
        await using var connection = await OpenAsync(dataDirectory);
        if (connection is null)
        {
            return [];
        }

        await using var command = connection.CreateCommand();
        // Each row is its own FHIR JSON or a shape and the parts that vary (README "Storage"), rebuilt as the store does.
        var select = $"SELECT {SqliteObservationStore.LogResource} FROM {AllRows} l {SqliteObservationStore.ShapeJoin} WHERE l.seq IN ({LatestOfEachId})";
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
        await using var connection = await OpenAsync(dataDirectory);
        if (connection is null)
        {
            return 0;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(DISTINCT patient) FROM {AllRows} WHERE patient LIKE 'Patient/%'";
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
