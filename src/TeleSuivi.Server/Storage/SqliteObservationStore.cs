using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage.Influx;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Server.Storage;

/// <summary>
/// The embedded observation store: one SQLite file in WAL mode, the Observation kept as FHIR JSON beside
/// the columns it is searched by.
/// </summary>
public sealed class SqliteObservationStore(string path) : IObservationStore
{
    private static readonly FhirJsonSerializer Serializer = new();

    private readonly string connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    public string Display => $"sqlite:{path}";

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var directory = Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            await using var connection = await OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS observation (
                    id TEXT PRIMARY KEY,
                    patient TEXT,
                    code TEXT NOT NULL,
                    effective_ms INTEGER NOT NULL,
                    resource TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS observation_patient_code_time ON observation (patient, code, effective_ms);
                CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, written_at TEXT NOT NULL);
                """;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot open the SQLite store {path}: {ex.Message}", ex);
        }
    }

    public async Task WriteAsync(IReadOnlyList<Observation> observations, CancellationToken cancellationToken)
    {
        if (observations.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO observation (id, patient, code, effective_ms, resource) VALUES ($id, $patient, $code, $time, $resource)
            ON CONFLICT (id) DO UPDATE SET patient = excluded.patient, code = excluded.code,
                effective_ms = excluded.effective_ms, resource = excluded.resource
            """;
        var id = command.Parameters.Add("$id", SqliteType.Text);
        var patient = command.Parameters.Add("$patient", SqliteType.Text);
        var code = command.Parameters.Add("$code", SqliteType.Text);
        var time = command.Parameters.Add("$time", SqliteType.Integer);
        var resource = command.Parameters.Add("$resource", SqliteType.Text);
        foreach (var observation in observations)
        {
            id.Value = observation.Id ?? throw new ArgumentException("an Observation must have an id to be stored", nameof(observations));
            patient.Value = (object?)observation.Subject?.Reference ?? DBNull.Value;
            code.Value = ObservationKeys.CodeToken(observation);
            time.Value = ObservationKeys.EffectiveMilliseconds(observation);
            resource.Value = Serializer.SerializeToString(observation);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task CheckWritableAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR REPLACE INTO store_probe (id, written_at) VALUES (1, $now); SELECT written_at FROM store_probe WHERE id = 1";
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        command.Parameters.AddWithValue("$now", now);
        var readBack = (string?)await command.ExecuteScalarAsync(cancellationToken);
        if (readBack != now)
        {
            throw new InvalidOperationException($"the SQLite store {path} did not return the probe it was given");
        }
    }

    public async Task<IReadOnlyList<Observation>> ReadAsync(
        string patientReference,
        string? code,
        DateTimeOffset from,
        DateTimeOffset through,
        int limit,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(patientReference);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = code is null
            ? "SELECT resource FROM observation WHERE patient = $patient AND effective_ms BETWEEN $from AND $to ORDER BY effective_ms, id LIMIT $limit"
            : "SELECT resource FROM observation WHERE patient = $patient AND code = $code AND effective_ms BETWEEN $from AND $to ORDER BY effective_ms, id LIMIT $limit";
        command.Parameters.AddWithValue("$patient", patientReference);
        if (code is not null)
        {
            command.Parameters.AddWithValue("$code", code);
        }

        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$to", through.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$limit", limit);
        var observations = new List<Observation>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            observations.Add(ObservationKeys.Parse(reader.GetString(0)));
        }

        return observations;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
