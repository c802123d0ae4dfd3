using Microsoft.Data.Sqlite;
using TeleSuivi.Server.Storage;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Storage;

/// <summary>The store contract on the embedded SQLite store, in a temporary file.</summary>
public sealed class SqliteObservationStoreContractTests : ObservationStoreContract
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-sqlite-").FullName;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    protected override IObservationStore CreateStore() => new SqliteObservationStore(Path.Combine(directory, "observations.db"));

    /// <summary>Not a byte of the subject left in the files: not in free space, not in the write-ahead log.</summary>
    protected override async Task AssertNothingStoredOfAsync(string subject)
    {
        SqliteConnection.ClearAllPools();
        var needle = System.Text.Encoding.UTF8.GetBytes(subject);
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var bytes = await File.ReadAllBytesAsync(file, Cancel);
            Assert.True(bytes.AsSpan().IndexOf(needle) < 0, $"{Path.GetFileName(file)} still holds '{subject}'");
        }
    }

    /// <summary>InfluxDB keeps the old point in this case (SCHEMA.md, "Limits of overwriting"); SQLite replaces the numbers.</summary>
    [Fact]
    public async Task WriteAsync_SameIdAtAnotherTimeWithoutAComponent_LeavesOnlyTheNewNumbersInTheTrend()
    {
        var first = BloodPressure("Patient/sqlite-1", Morning, 128, 82, 97);
        var corrected = BloodPressure("Patient/sqlite-1", Morning.AddMinutes(5), 131, 85, 100);
        corrected.Id = first.Id;
        corrected.Component.RemoveAt(2);

        await Store.WriteAsync([first], Cancel);
        await Store.WriteAsync([corrected], Cancel);

        var trend = await Store.ReadTrendAsync("Patient/sqlite-1", BloodPressureCode, Morning, Morning.AddHours(1), TrendResolution.Raw, Cancel);
        Assert.Equal(["8462-4", "8480-6"], trend.Series.Select(s => s.Component));
        Assert.Equal(Morning.AddMinutes(5), Assert.Single(trend.Of("8480-6")!.Points).Time);
        Assert.Equal(85, Assert.Single(trend.Of("8462-4")!.Points).Last);
    }

    [Fact]
    public async Task InitializeAsync_FileOfTheFirstSchema_MigratesItsObservations()
    {
        var path = Path.Combine(directory, "version0.db");
        var pressure = BloodPressure("Patient/old-1", Morning, 128, 82, 97);
        var weight = BodyWeight("Patient/old-1", Morning, 72.5m);
        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync(Cancel);
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE observation (id TEXT PRIMARY KEY, patient TEXT, code TEXT NOT NULL, effective_ms INTEGER NOT NULL, resource TEXT NOT NULL);
                CREATE INDEX observation_patient_code_time ON observation (patient, code, effective_ms);
                """;
            await command.ExecuteNonQueryAsync(Cancel);
            foreach (var observation in new[] { pressure, weight })
            {
                command.CommandText = "INSERT INTO observation VALUES ($id, $patient, $code, $time, $resource)";
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$id", observation.Id);
                command.Parameters.AddWithValue("$patient", observation.Subject!.Reference);
                command.Parameters.AddWithValue("$code", Loinc + "|" + observation.Code.Coding[0].Code);
                command.Parameters.AddWithValue("$time", Morning.ToUnixTimeMilliseconds());
                command.Parameters.AddWithValue("$resource", Json(observation));
                await command.ExecuteNonQueryAsync(Cancel);
            }
        }

        var store = new SqliteObservationStore(path);
        await store.InitializeAsync(Cancel);
        await store.InitializeAsync(Cancel);

        var latest = await store.ReadLatestAsync("Patient/old-1", DateTimeOffset.MinValue, Cancel);
        Assert.Equal([72.5, 128.0], latest.Select(r => r.Components.GetValueOrDefault("8480-6", r.Value ?? 0)));
        Assert.Equal(["Device/scale-1", "Device/bp-1"], latest.Select(r => r.Device));
        Assert.Equal(["kg", null], latest.Select(r => r.Unit));
        var trend = await store.ReadTrendAsync("Patient/old-1", BloodPressureCode, Morning, Morning, TrendResolution.Raw, Cancel);
        Assert.Equal(3, trend.Series.Count);
        Assert.Equal(Json(pressure), Json((await store.FindAsync(pressure.Id!, Cancel))!));
        await using var check = new SqliteConnection($"Data Source={path};Pooling=False");
        await check.OpenAsync(Cancel);
        await using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        Assert.Equal(1L, await version.ExecuteScalarAsync(Cancel));
    }
}
