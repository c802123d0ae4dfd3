using Hl7.Fhir.Model;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

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

        using var store = new SqliteObservationStore(path);
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
        Assert.Equal(5L, await version.ExecuteScalarAsync(Cancel));
    }

    /// <summary>
    /// A file as the version-1 code wrote it (its DDL and rows, kept here rather than as a binary file): the JSON in
    /// <c>observation</c>, the numbers in <c>observation_value</c> clustered by field. Opening it migrates it to the current version.
    /// </summary>
    [Fact]
    public async Task InitializeAsync_FileOfVersion1_MigratesItInPlaceWithRollUps()
    {
        var path = Path.Combine(directory, "version1.db");
        var written = new[]
        {
            HeartRate("Patient/v1-1", Morning, 61),
            HeartRate("Patient/v1-1", Morning.AddMinutes(20), 75),
            HeartRate("Patient/v1-1", Morning.AddMinutes(20), 70, device: "Device/oximeter-2"),
            HeartRate("Patient/v1-1", Morning.AddHours(1), 64),
            BloodPressure("Patient/v1-1", Morning.AddMinutes(5), 128, 82, 97),
        };
        await WriteVersion1FileAsync(path, written);

        var log = new RecordingLogger();
        using var store = new SqliteObservationStore(path, log);
        await store.InitializeAsync(Cancel);
        await store.InitializeAsync(Cancel);

        Assert.Equal(6, log.Messages.Count);
        Assert.Contains("from schema 1 to 5: 5 Observations", log.Messages[0], StringComparison.Ordinal);
        Assert.EndsWith("5 of 5 Observations copied", log.Messages[1], StringComparison.Ordinal);
        Assert.StartsWith("Migrated the SQLite store", log.Messages[3], StringComparison.Ordinal);
        Assert.Contains("moving the numbers of 5 Observations into their rows", log.Messages[4], StringComparison.Ordinal);
        foreach (var observation in written)
        {
            Assert.Equal(Json(observation), Json((await store.FindAsync(observation.Id!, Cancel))!));
        }

        var window = (From: Morning.AddHours(-8), Through: Morning.AddHours(16));
        var hourly = await store.ReadTrendAsync("Patient/v1-1", HeartRateCode, window.From, window.Through, TrendResolution.Hour, Cancel);
        var points = Assert.Single(hourly.Series).Points;
        Assert.Equal([3L, 1L], points.Select(p => p.Count));
        Assert.Equal((61 + 75 + 70) / 3.0, points[0].Mean, 9);
        Assert.Equal([61.0, 75.0], [points[0].Min, points[0].Max]);
        var lastOfTheHour = string.CompareOrdinal(written[1].Id, written[2].Id) > 0 ? 75.0 : 70.0;
        Assert.Equal(lastOfTheHour, points[0].Last);
        var pressure = await store.ReadTrendAsync("Patient/v1-1", BloodPressureCode, window.From, window.Through, TrendResolution.Day, Cancel);
        Assert.Equal(128, pressure.Of("8480-6")!.Points.Single().Mean);
        var page = await store.SearchAsync(new ObservationSearch("Patient/v1-1", [], window.From, window.Through, false, null, 10), Cancel);
        Assert.Equal(5, page.Total);
        Assert.Equal(written.Select(TimeOf).Order(), page.Matches.Select(m => TimeOf(m.Observation)));

        await store.WriteAsync([written[0]], Cancel);
        Assert.Equal(5, (await store.SearchAsync(new ObservationSearch("Patient/v1-1", [], window.From, window.Through, false, null, 10), Cancel)).Total);
        await using var check = new SqliteConnection($"Data Source={path};Pooling=False");
        await check.OpenAsync(Cancel);
        await using var command = check.CreateCommand();
        command.CommandText = "SELECT (SELECT user_version FROM pragma_user_version) || ' ' || (SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name))";
        Assert.Equal("5 observation,observation_hourly,observation_id,observation_log,store_probe,store_state", await command.ExecuteScalarAsync(Cancel));
    }

    /// <summary>
    /// A file as version 2 wrote it: every log row with its whole FHIR JSON and its numbers as <c>field TAB value</c>
    /// lines, here all still pending (acknowledged, not folded), one of them rewritten by a later row.
    /// </summary>
    [Fact]
    public async Task InitializeAsync_FileOfVersion2_MigratesItsLogAndFoldsIt()
    {
        var path = Path.Combine(directory, "version2.db");
        var pressure = BloodPressure("Patient/v2-1", Morning, 128, 82, 97);
        var first = HeartRate("Patient/v2-1", Morning.AddMinutes(1), 61);
        var corrected = HeartRate("Patient/v2-1", Morning.AddMinutes(1), 66);
        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync(Cancel);
            await using var command = connection.CreateCommand();
            command.CommandText = Version2Ddl;
            await command.ExecuteNonQueryAsync(Cancel);
            var seq = 0;
            foreach (var (observation, fields) in new[] { (pressure, "c:8480-6\t128\nc:8462-4\t82\nc:8478-0\t97\n"), (first, "value\t61\n"), (corrected, "value\t66\n") })
            {
                command.CommandText = "INSERT INTO observation_log VALUES ($seq, $id, $patient, $code, $time, $device, $unit, $fields, $resource)";
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$seq", ++seq);
                command.Parameters.AddWithValue("$id", observation.Id);
                command.Parameters.AddWithValue("$patient", observation.Subject!.Reference);
                command.Parameters.AddWithValue("$code", Loinc + "|" + observation.Code.Coding[0].Code);
                command.Parameters.AddWithValue("$time", TimeOf(observation).ToUnixTimeMilliseconds());
                command.Parameters.AddWithValue("$device", observation.Device!.Reference);
                command.Parameters.AddWithValue("$unit", observation.Value is Quantity q ? q.Code : DBNull.Value);
                command.Parameters.AddWithValue("$fields", fields);
                command.Parameters.AddWithValue("$resource", Json(observation));
                await command.ExecuteNonQueryAsync(Cancel);
            }
        }

        var log = new RecordingLogger();
        using var store = new SqliteObservationStore(path, log);
        await store.InitializeAsync(Cancel);
        await store.InitializeAsync(Cancel);
        await store.FoldAllAsync(Cancel);

        Assert.Contains("from schema 2 to 5: 3 Observations", log.Messages[0], StringComparison.Ordinal);
        Assert.Equal(Json(pressure), Json((await store.FindAsync(pressure.Id!, Cancel))!));
        Assert.Equal(Json(corrected), Json((await store.FindAsync(first.Id!, Cancel))!));
        var latest = await store.ReadLatestAsync("Patient/v2-1", DateTimeOffset.MinValue, Cancel);
        Assert.Equal([128.0, 66.0], latest.Select(r => r.Components.GetValueOrDefault("8480-6", r.Value ?? 0)));
        var hourly = await store.ReadTrendAsync("Patient/v2-1", BloodPressureCode, Morning.AddHours(-1), Morning.AddHours(1), TrendResolution.Hour, Cancel);
        Assert.Equal([82.0], hourly.Of("8462-4")!.Points.Select(p => p.Last));
        await store.WriteAsync([pressure], Cancel);
        var page = await store.SearchAsync(new ObservationSearch("Patient/v2-1", [], Morning, Morning.AddHours(1), false, null, 10), Cancel);
        Assert.Equal([Json(pressure), Json(corrected)], page.Matches.Select(m => Json(m.Observation)));
        Assert.Equal(2, page.Total);
        await using var check = new SqliteConnection($"Data Source={path};Pooling=False");
        await check.OpenAsync(Cancel);
        await using var version = check.CreateCommand();
        version.CommandText = "SELECT (SELECT user_version FROM pragma_user_version) || ' ' || (SELECT count(*) FROM sqlite_master WHERE name = 'observation_log_v2')";
        Assert.Equal("5 0", await version.ExecuteScalarAsync(Cancel));
    }

    /// <summary>The tables of version 2, as its code created them.</summary>
    private const string Version2Ddl = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE observation_log (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, patient TEXT NOT NULL, code TEXT NOT NULL, effective_ms INTEGER NOT NULL,
            device TEXT, unit TEXT, fields TEXT NOT NULL, resource TEXT NOT NULL);
        CREATE TABLE observation (patient TEXT NOT NULL, code TEXT NOT NULL, effective_ms INTEGER NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (patient, code, effective_ms, id)) WITHOUT ROWID;
        CREATE TABLE observation_id (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE observation_value (patient TEXT NOT NULL, code TEXT NOT NULL, effective_ms INTEGER NOT NULL, id TEXT NOT NULL, field TEXT NOT NULL,
            value REAL NOT NULL, PRIMARY KEY (patient, code, effective_ms, id, field)) WITHOUT ROWID;
        CREATE TABLE observation_hourly (patient TEXT NOT NULL, code TEXT NOT NULL, hour_ms INTEGER NOT NULL, field TEXT NOT NULL, n INTEGER NOT NULL,
            total REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL, last_ms INTEGER NOT NULL, last_id TEXT, last_value REAL,
            PRIMARY KEY (patient, code, hour_ms, field)) WITHOUT ROWID;
        CREATE TABLE store_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE store_probe (id INTEGER PRIMARY KEY, written_at TEXT NOT NULL);
        PRAGMA user_version = 2;
        """;

    /// <summary>
    /// Readings as ingestion makes them (a time with Z, issued, identifier, source and profile) share one shape per vital
    /// and device kind: each row holds only its varying parts, and each comes back exactly.
    /// </summary>
    [Fact]
    public async Task WriteAsync_IngestedReadings_StoresOneShapePerVitalAndNoJsonPerRow()
    {
        var factory = new ObservationFactory();
        var readings = (from patient in (string[])["shape-1", "shape-2"]
                        from minute in Enumerable.Range(0, 5)
                        let time = Morning.AddMinutes(minute).AddMilliseconds(minute * 7)
                        from reading in new[]
                        {
                            new DecodedReading("heart-rate", time, [new DecodedValue("heart-rate", 60 + minute, "/min")]),
                            new DecodedReading("blood-pressure", time, [new DecodedValue("systolic-pressure", 120 + minute, "mm[Hg]"), new DecodedValue("diastolic-pressure", 80, "mm[Hg]")]),
                        }
                        select factory.Create(reading, new ObservationContext($"dev-{patient}", patient, time.AddSeconds(3), "gatt/2a35")).Observation!).ToList();

        await Store.WriteAsync(readings, Cancel);
        var pending = await ShapeStateAsync();
        await SqliteStore.FoldAllAsync(Cancel);

        foreach (var observation in readings)
        {
            Assert.Equal(Json(observation), Json((await Store.FindAsync(observation.Id!, Cancel))!));
        }

        Assert.Equal((Shapes: 2L, OwnJson: 0L), pending);
        Assert.Equal(pending, await ShapeStateAsync());
    }

    /// <summary>What does not fit a shape and typed parts keeps its own JSON in its row, and comes back exactly.</summary>
    [Theory]
    [InlineData("extension on the number", true)]
    [InlineData("text value", true)]
    [InlineData("two components with one code", true)]
    [InlineData("time in another zone", true)]
    [InlineData("issued in another zone", true)]
    [InlineData("two identifiers", true)]
    [InlineData("extension on the quantity", false)]
    [InlineData("no value", false)]
    [InlineData("components", false)]
    public async Task WriteAsync_VaryingPartsOutsideTheColumns_KeepsItsOwnJson(string unusual, bool ownJson)
    {
        var observation = unusual switch
        {
            "extension on the number" => With(BodyWeight("Patient/own-1", Morning, 70m), o => ((Quantity)o.Value!).ValueElement!.Extension.Add(new Extension("urn:x", new FhirBoolean(true)))),
            "extension on the quantity" => With(BodyWeight("Patient/own-1", Morning, 70m), o => o.Value!.Extension.Add(new Extension("urn:x", new FhirBoolean(true)))),
            "text value" => With(BodyWeight("Patient/own-1", Morning, 70m), o => o.Value = new FhirString("a text")),
            "two components with one code" => With(BloodPressure("Patient/own-1", Morning, 120, 80, 93), o =>
                o.Component.Add(new Observation.ComponentComponent { Code = o.Component[0].Code, Value = new Quantity(121, "mm[Hg]") })),
            "time in another zone" => With(BodyWeight("Patient/own-1", Morning, 70m), o => o.Effective = new FhirDateTime("2026-01-15T09:00:00.123+01:00")),
            "issued in another zone" => With(BodyWeight("Patient/own-1", Morning, 70m), o => o.IssuedElement = new Instant(Morning.ToOffset(TimeSpan.FromHours(2)))),
            "two identifiers" => With(BodyWeight("Patient/own-1", Morning, 70m), o => o.Identifier.Add(new Identifier("urn:other", "second"))),
            "no value" => With(BodyWeight("Patient/own-1", Morning, 70m), o => o.Value = null),
            _ => BloodPressure("Patient/own-1", Morning, 120, 80, 93),
        };

        await Store.WriteAsync([observation], Cancel);

        Assert.Equal(Json(observation), Json((await Store.FindAsync(observation.Id!, Cancel))!));
        Assert.Equal(ownJson ? 1L : 0L, (await ShapeStateAsync()).OwnJson);
    }

    /// <summary>How many shapes are stored, and how many log rows keep their own JSON.</summary>
    private async Task<(long Shapes, long OwnJson)> ShapeStateAsync()
    {
        await using var connection = await OpenStoreFilesAsync("observations.db");
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT (SELECT count(*) FROM log.observation_shape),
                   (SELECT count(*) FROM (SELECT seq FROM main.observation_log WHERE resource IS NOT NULL UNION SELECT seq FROM log.observation_log WHERE resource IS NOT NULL))
            """;
        await using var reader = await command.ExecuteReaderAsync(Cancel);
        await reader.ReadAsync(Cancel);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Hourly and daily buckets read from the roll-ups, cut at both ends of the window, against the same readings aggregated from the raw trend.</summary>
    [Theory]
    [InlineData(TrendResolution.Hour)]
    [InlineData(TrendResolution.Day)]
    public async Task ReadTrendAsync_WindowCuttingHoursAfterRewrites_AgreesWithTheRawReadings(TrendResolution resolution)
    {
        var readings = Enumerable.Range(0, 3 * 24 * 6).Select(i => HeartRate("Patient/rollup-1", Morning.AddMinutes(10 * i), 50 + (i * 7 % 41))).ToList();

        // Folded in two parts that share an hour (the second merges into the roll-up the first made), so that the
        // corrections below replace folded rows.
        await Store.WriteAsync(readings[..100], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);
        await Store.WriteAsync(readings[100..], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        // Corrections: a value changed in place, and a reading moved to another hour (both hours' roll-ups must follow).
        var changed = HeartRate("Patient/rollup-1", Morning.AddMinutes(30), 140);
        var moved = HeartRate("Patient/rollup-1", Morning.AddMinutes(600), 20);
        moved.Id = readings[100].Id;
        await Store.WriteAsync([changed, moved], Cancel);

        await SqliteStore.FoldAllAsync(Cancel);
        var actual = await AssertRollUpsAgreeWithRawAsync("Patient/rollup-1", Morning.AddMinutes(17), Morning.AddDays(2).AddMinutes(43), resolution);
        Assert.Contains(actual, p => p.Max == 140);
        Assert.Contains(actual, p => p.Min == 20);
    }

    /// <summary>
    /// One fold of new readings mixed with an id written twice, a replay and corrections of folded readings: the new
    /// ones go in bulk, the others row by row, and the result is as if each had been folded in turn.
    /// </summary>
    [Fact]
    public async Task FoldAllAsync_NewReadingsMixedWithRepeatsAndCorrections_AgreesWithTheRawReadings()
    {
        const string patient = "Patient/mixed-1";
        var readings = Enumerable.Range(0, 120).Select(i => HeartRate(patient, Morning.AddMinutes(10 * i), 50 + (i * 7 % 41))).ToList();
        await Store.WriteAsync(readings[..60], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        var replay = HeartRate(patient, Morning.AddMinutes(30), 50 + 21);
        var corrected = HeartRate(patient, Morning.AddMinutes(50), 150);
        var moved = HeartRate(patient, Morning.AddMinutes(1_205), 21);
        moved.Id = readings[7].Id;
        var twiceFirst = HeartRate(patient, Morning.AddMinutes(1_203), 40);
        var twiceThen = HeartRate(patient, Morning.AddMinutes(1_203), 45);
        await Store.WriteAsync([.. readings[60..90], replay, twiceFirst, corrected, .. readings[90..], moved, twiceThen], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        var raw = await Store.ReadAsync(patient, HeartRateCode, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 1_000, Cancel);
        Assert.Equal(121, raw.Count);
        Assert.Equal(121, raw.Select(o => o.Id).Distinct().Count());
        Assert.Equal(150m, ((Quantity)raw.Single(o => o.Id == corrected.Id).Value!).Value);
        Assert.Equal(45m, ((Quantity)raw.Single(o => o.Id == twiceThen.Id).Value!).Value);
        Assert.Equal(Json(moved), Json(raw.Single(o => o.Id == moved.Id)));
        Assert.Equal(Json(readings[3]), Json(raw.Single(o => o.Id == replay.Id)));
        await AssertRollUpsAgreeWithRawAsync(patient, Morning.AddMinutes(-60), Morning.AddDays(1), TrendResolution.Hour);
    }

    /// <summary>
    /// The last reading of an hour is the latest time, then the greatest id, wherever the readings tied at that time were
    /// folded: the greater id in an earlier chunk, in a later chunk, or both in one.
    /// </summary>
    [Fact]
    public async Task FoldAllAsync_ReadingsTiedAtTheLatestTimeOfAnHour_LastIsTheGreatestIdWhicheverChunkHeldIt()
    {
        const string patient = "Patient/tied-1";
        var hour = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        Observation At(int hours, int minutes, string device, decimal value) => HeartRate(patient, hour.AddHours(hours).AddMinutes(minutes), value, $"Device/{device}");
        await Store.WriteAsync([At(0, 50, "zz", 61), At(1, 50, "aa", 62), At(2, 10, "mm", 63)], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);
        await Store.WriteAsync([At(0, 50, "aa", 71), At(0, 20, "aa", 72), At(1, 50, "zz", 73), At(2, 50, "aa", 74), At(2, 50, "zz", 75)], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        var buckets = await AssertRollUpsAgreeWithRawAsync(patient, hour, hour.AddHours(3), TrendResolution.Hour);

        Assert.Equal([61.0, 73.0, 75.0], buckets.Select(b => b.Last));
    }

    /// <summary>Asserts that the roll-ups' buckets are the raw readings aggregated; returns the buckets.</summary>
    private async Task<IReadOnlyList<TrendPoint>> AssertRollUpsAgreeWithRawAsync(string patient, DateTimeOffset from, DateTimeOffset through, TrendResolution resolution)
    {
        var trend = await Store.ReadTrendAsync(patient, HeartRateCode, from, through, resolution, Cancel);
        var raw = await Store.ReadTrendAsync(patient, HeartRateCode, from, through, TrendResolution.Raw, Cancel);

        var width = resolution.Milliseconds();
        var expected = raw.Series.Single().Points
            .GroupBy(p => p.Time.ToUnixTimeMilliseconds() - (p.Time.ToUnixTimeMilliseconds() % width))
            .Select(g => (Time: DateTimeOffset.FromUnixTimeMilliseconds(g.Key), Count: (long)g.Count(), Mean: g.Average(p => p.Mean), Min: g.Min(p => p.Min), Max: g.Max(p => p.Max), Last: g.Last().Last))
            .ToList();
        var actual = trend.Series.Single().Points;
        Assert.Equal(expected.Select(e => (e.Time, e.Count, e.Min, e.Max, e.Last)), actual.Select(p => (p.Time, p.Count, p.Min, p.Max, p.Last)));
        Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First.Mean, pair.Second.Mean, 9));
        return actual;
    }

    [Fact]
    public async Task WriteAsync_FoldThresholdReached_FoldsTheLogInTheBackground()
    {
        var batches = Enumerable.Range(0, SqliteObservationStore.FoldThreshold + 1)
            .Select(i => HeartRate("Patient/fold-" + (i % 50), Morning.AddMinutes(i / 50), 60 + (i % 30), device: "Device/oximeter-" + (i % 50)))
            .Chunk(500)
            .ToList();
        foreach (var batch in batches)
        {
            await Store.WriteAsync(batch, Cancel);
        }

        var folded = await Poll.UntilAsync(FoldStateAsync, f => f.Folded == f.Logged, TimeSpan.FromSeconds(30), "the background fold");
        Assert.Equal(SqliteObservationStore.FoldThreshold + 1, folded.Logged);
        Assert.Equal(folded.Folded, folded.Rows);
        Assert.Equal(folded.Folded, folded.HourlyCount);
        var trend = await Store.ReadTrendAsync("Patient/fold-7", HeartRateCode, Morning, Morning.AddDays(1), TrendResolution.Hour, Cancel);
        Assert.Equal(batches.Sum(b => b.Count(o => o.Subject!.Reference == "Patient/fold-7")), trend.Series.Single().Points.Sum(p => p.Count));
    }

    [Fact]
    public async Task ReadAsync_AcknowledgedWriteNotFolded_SeesItInEveryRead()
    {
        await SqliteStore.FoldAllAsync(Cancel);
        var pressure = BloodPressure("Patient/pending-1", Morning, 128, 82, 97);
        var rate = HeartRate("Patient/pending-1", Morning.AddMinutes(1), 64);

        await Store.WriteAsync([pressure, rate], Cancel);

        var state = await FoldStateAsync();
        Assert.True(state.Folded < state.Logged, $"folded {state.Folded} of {state.Logged}: the test needs them pending");
        Assert.Equal(Json(pressure), Json((await Store.FindAsync(pressure.Id!, Cancel))!));
        Assert.Equal([BloodPressureCode, HeartRateCode], (await Store.ReadCodesAsync("Patient/pending-1", Cancel)).Order(StringComparer.Ordinal));
        var page = await Store.SearchAsync(new ObservationSearch("Patient/pending-1", [], Morning, Morning.AddHours(1), false, null, 10), Cancel);
        Assert.Equal([Json(pressure), Json(rate)], page.Matches.Select(m => Json(m.Observation)));
        Assert.Equal(2, page.Total);
        var latest = await Store.ReadLatestAsync(null, Morning.AddDays(-1), Cancel);
        Assert.Equal([128.0, 64.0], latest.Where(r => r.Subject == "Patient/pending-1").Select(r => r.Components.GetValueOrDefault("8480-6", r.Value ?? 0)));
        var hourly = await Store.ReadTrendAsync("Patient/pending-1", HeartRateCode, Morning.AddHours(-2), Morning.AddHours(2), TrendResolution.Hour, Cancel);
        Assert.Equal(64, Assert.Single(Assert.Single(hourly.Series).Points).Last);
        var day = DateOnly.FromDateTime(Morning.UtcDateTime);
        var completeness = await Store.ReadCompletenessAsync("Patient/pending-1", day, day, new Dictionary<string, int> { [HeartRateCode] = 4 }, null, Cancel);
        Assert.Equal(1, Assert.Single(Assert.Single(completeness).Codes).Received);
    }

    [Fact]
    public async Task ReadAsync_SameIdFoldedThenPending_LatestWins()
    {
        var first = HeartRate("Patient/latest-1", Morning, 61);
        var corrected = HeartRate("Patient/latest-1", Morning.AddMinutes(2), 90);
        corrected.Id = first.Id;
        var pendingTwice = HeartRate("Patient/latest-1", Morning.AddMinutes(30), 70);
        var pendingCorrection = HeartRate("Patient/latest-1", Morning.AddMinutes(30), 72);
        pendingCorrection.Id = pendingTwice.Id;
        await Store.WriteAsync([first], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        await Store.WriteAsync([corrected, pendingTwice], Cancel);
        await Store.WriteAsync([pendingCorrection, first.DeepCopy()], Cancel);
        await Store.WriteAsync([corrected], Cancel);

        var state = await FoldStateAsync();
        Assert.True(state.Folded < state.Logged, $"folded {state.Folded} of {state.Logged}: the test needs them pending");
        var page = await Store.SearchAsync(new ObservationSearch("Patient/latest-1", [], Morning, Morning.AddHours(1), false, null, 10), Cancel);
        Assert.Equal([Json(corrected), Json(pendingCorrection)], page.Matches.Select(m => Json(m.Observation)));
        Assert.Equal(2, page.Total);
        Assert.Equal(Json(corrected), Json((await Store.FindAsync(first.Id!, Cancel))!));
        var raw = await Store.ReadTrendAsync("Patient/latest-1", HeartRateCode, Morning, Morning.AddHours(1), TrendResolution.Raw, Cancel);
        Assert.Equal([90.0, 72.0], raw.Series.Single().Points.Select(p => p.Last));
        var hourly = await Store.ReadTrendAsync("Patient/latest-1", HeartRateCode, Morning.AddHours(-1), Morning.AddHours(2), TrendResolution.Hour, Cancel);
        Assert.Equal([2L], hourly.Series.Single().Points.Select(p => p.Count));
    }

    /// <summary>Part of the readings folded, part pending, a pending one corrected, a folded one sent again: every read gives the same answer before and after the rest is folded.</summary>
    [Fact]
    public async Task ReadAsync_FoldedAndPendingMixed_AnswersAsAfterTheFold()
    {
        var readings = Enumerable.Range(0, 2 * 24 * 6).Select(i => HeartRate("Patient/mixed-1", Morning.AddMinutes(10 * i), 50 + (i * 7 % 41))).ToList();
        var pressures = Enumerable.Range(0, 20).Select(i => BloodPressure("Patient/mixed-1", Morning.AddMinutes(73 * i), 120 + i, 80, 95)).ToList();
        await Store.WriteAsync([.. readings.Take(150), .. pressures.Take(10)], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);
        await Store.WriteAsync([.. readings.Skip(150), .. pressures.Skip(10), readings[10].DeepCopy()], Cancel);
        var moved = HeartRate("Patient/mixed-1", Morning.AddMinutes(605), 20);
        moved.Id = readings[200].Id;
        await Store.WriteAsync([moved], Cancel);

        var state = await FoldStateAsync();
        Assert.True(state.Folded < state.Logged, $"folded {state.Folded} of {state.Logged}: the test needs them pending");
        var before = await ReadEverythingAsync("Patient/mixed-1");
        await SqliteStore.FoldAllAsync(Cancel);
        var after = await ReadEverythingAsync("Patient/mixed-1");

        Assert.Equal(after, before);
        Assert.Contains("min=20", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_AfterAFoldDroppedTheLastRowAsADuplicate_FoldsTheNextReadings()
    {
        var first = HeartRate("Patient/dup-1", Morning, 61);
        await Store.WriteAsync([first], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);
        await Store.WriteAsync([first.DeepCopy()], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        var next = HeartRate("Patient/dup-1", Morning.AddMinutes(1), 62);
        await Store.WriteAsync([next], Cancel);
        await SqliteStore.FoldAllAsync(Cancel);

        var state = await FoldStateAsync();
        Assert.Equal((2L, state.Logged), (state.Rows, state.Folded));
        Assert.Equal(2, (await Store.SearchAsync(new ObservationSearch("Patient/dup-1", [], Morning, Morning.AddHours(1), false, null, 10), Cancel)).Total);
    }

    private SqliteObservationStore SqliteStore => (SqliteObservationStore)Store;

    /// <summary>Every read of one subject, printed: a search page by page in both orders, trends at every resolution, the latest and the completeness.</summary>
    private async Task<string> ReadEverythingAsync(string subject)
    {
        var text = new System.Text.StringBuilder();
        foreach (var descending in new[] { false, true })
        {
            ObservationCursor? after = null;
            do
            {
                var page = await Store.SearchAsync(new ObservationSearch(subject, [], Morning.AddDays(-1), Morning.AddDays(3), descending, after, 7), Cancel);
                text.Append("page total=").Append(page.Total).AppendLine();
                foreach (var match in page.Matches)
                {
                    text.AppendLine(Json(match.Observation));
                }

                after = page.Matches.Count == 7 ? page.Matches[^1].Cursor : null;
            }
            while (after is not null);
        }

        foreach (var code in await Store.ReadCodesAsync(subject, Cancel))
        {
            foreach (var resolution in Enum.GetValues<TrendResolution>())
            {
                var trend = await Store.ReadTrendAsync(subject, code, Morning.AddMinutes(17), Morning.AddDays(1).AddMinutes(43), resolution, Cancel);
                foreach (var series in trend.Series)
                {
                    foreach (var p in series.Points)
                    {
                        text.AppendLine(System.FormattableString.Invariant($"{code} {resolution} {series.Component} {p.Time:O} n={p.Count} mean={p.Mean:R} min={p.Min} max={p.Max} last={p.Last}"));
                    }
                }
            }
        }

        foreach (var reading in await Store.ReadLatestAsync(subject, DateTimeOffset.MinValue, Cancel))
        {
            text.AppendLine(System.FormattableString.Invariant($"latest {reading.Code} {reading.Time:O} {reading.ObservationId} {reading.Value} {string.Join(',', reading.Components)}"));
        }

        var day = DateOnly.FromDateTime(Morning.UtcDateTime);
        var expected = new Dictionary<string, int> { [HeartRateCode] = 144, [BloodPressureCode] = 4 };
        foreach (var report in await Store.ReadCompletenessAsync(subject, day, day.AddDays(2), expected, null, Cancel))
        {
            text.AppendLine(System.FormattableString.Invariant($"{report.Day} {string.Join(',', report.Codes.Select(c => $"{c.Code}={c.Received}"))}"));
        }

        return text.ToString();
    }

    /// <summary>
    /// A crash after a fold committed the main file and before it deleted those rows from the log file: the rows are in
    /// both files. Started again, the store reads and folds each reading once, and the next fold clears the log.
    /// </summary>
    [Fact]
    public async Task FoldAllAsync_CrashBeforeTheLogRowsWereDeleted_FoldsEachReadingOnce()
    {
        var path = Path.Combine(directory, "crash.db");
        var readings = Enumerable.Range(0, 30).Select(i => HeartRate("Patient/crash-1", Morning.AddMinutes(i), 60 + i)).ToList();
        using (var first = new SqliteObservationStore(path))
        {
            await first.InitializeAsync(Cancel);
            await first.WriteAsync(readings[..20], Cancel);
            await first.FoldAllAsync(Cancel);
        }

        SqliteConnection.ClearAllPools();
        await using (var crash = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await crash.OpenAsync(Cancel);
            await using var command = crash.CreateCommand();
            command.CommandText = "ATTACH DATABASE $log AS log; INSERT INTO log.observation_log SELECT * FROM main.observation_log; SELECT count(*) FROM log.observation_log";
            command.Parameters.AddWithValue("$log", path + "-log");
            Assert.Equal(20L, await command.ExecuteScalarAsync(Cancel));
        }

        using var store = new SqliteObservationStore(path);
        await store.InitializeAsync(Cancel);
        var window = new ObservationSearch("Patient/crash-1", [], Morning, Morning.AddHours(1), false, null, 100);
        Assert.Equal(20, (await store.SearchAsync(window, Cancel)).Total);
        await store.WriteAsync(readings[20..], Cancel);
        await store.FoldAllAsync(Cancel);

        var page = await store.SearchAsync(window, Cancel);
        Assert.Equal(30, page.Total);
        Assert.Equal(readings.Select(Json), page.Matches.Select(m => Json(m.Observation)));
        var hourly = await store.ReadTrendAsync("Patient/crash-1", HeartRateCode, Morning, Morning.AddHours(1), TrendResolution.Hour, Cancel);
        Assert.Equal([30L], hourly.Series.Single().Points.Select(p => p.Count));
        SqliteConnection.ClearAllPools();
        await using var check = await OpenStoreFilesAsync("crash.db");
        await using var count = check.CreateCommand();
        count.CommandText = "SELECT (SELECT count(*) FROM log.observation_log) || ' ' || (SELECT count(*) FROM main.observation) || ' ' || (SELECT count(*) FROM main.observation_log)";
        Assert.Equal("0 30 30", await count.ExecuteScalarAsync(Cancel));
    }

    /// <summary>
    /// Two ids whose first 16 hex digits agree share one 64-bit key in <c>observation_id</c>: folded or pending, rewritten
    /// or erased, each stays an Observation of its own.
    /// </summary>
    [Fact]
    public async Task WriteAsync_IdsSharingTheirIndexKey_StayTwoObservationsFoldedPendingRewrittenAndErased()
    {
        var first = HeartRate("Patient/key-1", Morning, 60);
        first.Id = "0123456789abcdef0000000000000000";
        var second = HeartRate("Patient/key-2", Morning.AddMinutes(1), 61);
        second.Id = "0123456789abcdef1111111111111111";
        var secondCorrected = HeartRate("Patient/key-2", Morning.AddMinutes(1), 66);
        secondCorrected.Id = second.Id;
        var sqlite = (SqliteObservationStore)Store;

        await Store.WriteAsync([first], Cancel);
        await sqlite.FoldAllAsync(Cancel);
        await Store.WriteAsync([second], Cancel);
        Assert.Equal(Json(first), Json((await Store.FindAsync(first.Id, Cancel))!));
        Assert.Equal(Json(second), Json((await Store.FindAsync(second.Id, Cancel))!));
        await sqlite.FoldAllAsync(Cancel);
        Assert.Equal(Json(first), Json((await Store.FindAsync(first.Id, Cancel))!));
        Assert.Equal(Json(second), Json((await Store.FindAsync(second.Id, Cancel))!));

        // A replay of the first and a correction of the second: the second's key leads to both folded rows.
        await Store.WriteAsync([first, secondCorrected], Cancel);
        Assert.Equal(Json(secondCorrected), Json((await Store.FindAsync(second.Id, Cancel))!));
        await sqlite.FoldAllAsync(Cancel);
        Assert.Equal(Json(first), Json((await Store.FindAsync(first.Id, Cancel))!));
        Assert.Equal(Json(secondCorrected), Json((await Store.FindAsync(second.Id, Cancel))!));
        var trend = await Store.ReadTrendAsync("Patient/key-2", HeartRateCode, Morning, Morning.AddHours(1), TrendResolution.Hour, Cancel);
        Assert.Equal([(1L, 66.0)], trend.Of(null)!.Points.Select(p => (p.Count, p.Last)));
        Assert.Equal(1, (await Store.SearchAsync(new ObservationSearch("Patient/key-1", [], Morning, Morning.AddHours(1), false, null, 10), Cancel)).Total);

        await Store.EraseSubjectAsync("Patient/key-1", Cancel);
        Assert.Null(await Store.FindAsync(first.Id, Cancel));
        Assert.Equal(Json(secondCorrected), Json((await Store.FindAsync(second.Id, Cancel))!));
        SqliteConnection.ClearAllPools();
        await using var check = await OpenStoreFilesAsync("observations.db");
        await using var count = check.CreateCommand();
        count.CommandText = "SELECT group_concat(key || ':' || seq) FROM observation_id";
        var entry = Assert.IsType<string>(await count.ExecuteScalarAsync(Cancel));
        Assert.StartsWith("81985529216486895:", entry, StringComparison.Ordinal);
    }

    /// <summary>
    /// A file of version 4 (ids indexed by their text, no <c>id_key</c> in the log rows, each number in a row of
    /// <c>observation_value</c>) with folded and pending readings: opening it indexes the folded ids by their key, keys
    /// the pending rows, moves the numbers into the readings' rows, and every reading, trend, rewrite and replay behaves
    /// as before.
    /// </summary>
    [Fact]
    public async Task InitializeAsync_FileOfVersion4_IndexesItsIdsByTheirKey()
    {
        var path = Path.Combine(directory, "version4.db");
        var folded = new[] { HeartRate("Patient/v4-1", Morning, 61), HeartRate("Patient/v4-1", Morning.AddMinutes(1), 62), BloodPressure("Patient/v4-1", Morning, 128, 82, 97) };
        var corrected = HeartRate("Patient/v4-1", Morning.AddMinutes(1), 68);
        var pending = new[] { corrected, HeartRate("Patient/v4-1", Morning.AddMinutes(2), 63) };
        await WriteFoldedThenPendingAsync(path, folded, pending);

        // Back to version 4's layout.
        await RunOnStoreFilesAsync(path, """
            ALTER TABLE main.observation_log DROP COLUMN id_key;
            ALTER TABLE log.observation_log DROP COLUMN id_key;
            DROP TABLE main.observation_id;
            CREATE TABLE main.observation_id (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO main.observation_id SELECT id, seq FROM main.observation;
            CREATE TABLE main.observation_value (patient TEXT NOT NULL, code TEXT NOT NULL, effective_ms INTEGER NOT NULL, id TEXT NOT NULL,
                field TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (patient, code, effective_ms, id, field)) WITHOUT ROWID;
            INSERT INTO main.observation_value SELECT patient, code, effective_ms, id, 'value', value FROM main.observation WHERE value IS NOT NULL
                UNION ALL SELECT o.patient, o.code, o.effective_ms, o.id, j.key, j.value FROM main.observation o, json_each(o.components) j;
            ALTER TABLE main.observation DROP COLUMN value;
            ALTER TABLE main.observation DROP COLUMN components;
            PRAGMA main.user_version = 4;
            """);

        var log = new RecordingLogger();
        using var store = new SqliteObservationStore(path, log);
        await store.InitializeAsync(Cancel);

        Assert.Contains("to schema 5: indexing the ids of 3 Observations", log.Messages[0], StringComparison.Ordinal);
        Assert.Contains("to schema 5: moving the numbers of 3 Observations into their rows", log.Messages[2], StringComparison.Ordinal);
        var window = new ObservationSearch("Patient/v4-1", [], Morning, Morning.AddHours(1), false, null, 10);
        string[] expected = [.. new[] { folded[0], folded[2], corrected, pending[1] }.Select(Json)];
        Assert.Equal(expected.Order(), (await store.SearchAsync(window, Cancel)).Matches.Select(m => Json(m.Observation)).Order());
        await store.FoldAllAsync(Cancel);
        await store.WriteAsync([folded[0]], Cancel);
        await store.FoldAllAsync(Cancel);
        var page = await store.SearchAsync(window, Cancel);
        Assert.Equal(4, page.Total);
        Assert.Equal(expected.Order(), page.Matches.Select(m => Json(m.Observation)).Order());
        Assert.Equal(Json(corrected), Json((await store.FindAsync(corrected.Id!, Cancel))!));
        var rate = await store.ReadTrendAsync("Patient/v4-1", HeartRateCode, Morning, Morning.AddHours(1), TrendResolution.Minute, Cancel);
        Assert.Equal([61.0, 68.0, 63.0], rate.Of(null)!.Points.Select(p => p.Last));
        var pressure = (await store.ReadLatestAsync("Patient/v4-1", DateTimeOffset.MinValue, Cancel)).Single(r => r.Code == BloodPressureCode);
        Assert.Equal((128.0, 82.0, 97.0), (pressure.Components["8480-6"], pressure.Components["8462-4"], pressure.Components["8478-0"]));
        SqliteConnection.ClearAllPools();
        await using var check = await OpenStoreFilesAsync("version4.db");
        await using var count = check.CreateCommand();
        count.CommandText = """
            SELECT (SELECT user_version FROM pragma_user_version) || ' ' || (SELECT group_concat(name) FROM pragma_table_info('observation_id'))
                || ' ' || (SELECT count(*) FROM main.observation_id) || ' ' || (SELECT count(*) FROM main.observation_log WHERE seq > 3 AND id_key IS NULL)
            """;
        Assert.Equal("5 key,seq 4 0", await count.ExecuteScalarAsync(Cancel));
    }

    /// <summary>
    /// A file of version 3 (one file: the shapes and the acknowledged, unfolded rows in it) opened by this version: its
    /// pending rows and shapes move to the log file, readable before and after the fold.
    /// </summary>
    [Fact]
    public async Task InitializeAsync_FileOfVersion3WithPendingRows_MovesThemToTheLogFile()
    {
        var path = Path.Combine(directory, "version3.db");
        var folded = HeartRate("Patient/v3-1", Morning, 61);
        var pending = new[] { HeartRate("Patient/v3-1", Morning.AddMinutes(1), 62), BloodPressure("Patient/v3-1", Morning.AddMinutes(2), 128, 82, 97) };
        await WriteFoldedThenPendingAsync(path, [folded], pending);

        // Back to version 3's layout: one file, the shapes and pending rows in it.
        await RunOnStoreFilesAsync(path, """
            CREATE TABLE main.observation_shape (id INTEGER PRIMARY KEY, resource TEXT NOT NULL);
            INSERT INTO main.observation_shape SELECT * FROM log.observation_shape;
            INSERT INTO main.observation_log SELECT * FROM log.observation_log;
            PRAGMA main.user_version = 3;
            """);

        File.Delete(path + "-log");
        File.Delete(path + "-log-wal");
        File.Delete(path + "-log-shm");
        using var store = new SqliteObservationStore(path);
        await store.InitializeAsync(Cancel);

        var window = new ObservationSearch("Patient/v3-1", [], Morning, Morning.AddHours(1), false, null, 10);
        string[] expected = [Json(folded), .. pending.Select(Json)];
        Assert.Equal(expected, (await store.SearchAsync(window, Cancel)).Matches.Select(m => Json(m.Observation)));
        await store.FoldAllAsync(Cancel);
        Assert.Equal(expected, (await store.SearchAsync(window, Cancel)).Matches.Select(m => Json(m.Observation)));
        SqliteConnection.ClearAllPools();
        await using var check = await OpenStoreFilesAsync("version3.db");
        await using var count = check.CreateCommand();
        count.CommandText = """
            SELECT (SELECT user_version FROM pragma_user_version) || ' ' || (SELECT count(*) FROM main.sqlite_master WHERE name = 'observation_shape')
                || ' ' || (SELECT count(*) FROM log.observation_shape) || ' ' || (SELECT count(*) FROM main.observation) || ' ' || (SELECT count(*) FROM log.observation_log)
            """;
        Assert.Equal("5 0 2 3 0", await count.ExecuteScalarAsync(Cancel));
    }

    /// <summary>An append needs the log file's lock only: a writer holding the main file (a long fold, a retention run) does not delay the acknowledgement.</summary>
    [Fact]
    public async Task WriteAsync_MainFileLockedByAnotherWriter_IsAcknowledgedAndReadable()
    {
        await Store.WriteAsync([HeartRate("Patient/lock-1", Morning, 60)], Cancel);
        await using var blocker = new SqliteConnection($"Data Source={Path.Combine(directory, "observations.db")};Pooling=False");
        await blocker.OpenAsync(Cancel);
        await using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE; INSERT INTO store_probe (id, written_at) VALUES (2, 'blocking')";
            await begin.ExecuteNonQueryAsync(Cancel);
        }

        var reading = HeartRate("Patient/lock-1", Morning.AddMinutes(1), 61);
        var write = Store.WriteAsync([reading], Cancel);
        Assert.Same(write, await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(10), Cancel)));
        await write;
        Assert.Equal(Json(reading), Json((await Store.FindAsync(reading.Id!, Cancel))!));
        await using (var rollback = blocker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync(Cancel);
        }
    }

    /// <summary>
    /// Group commit: batches that arrive while another is being appended are appended together, in one transaction and
    /// one sync, and each is acknowledged only once that commit is durable. The log file is held by another writer while
    /// the first batch waits for it and the others queue behind, so the others must share the second commit.
    /// </summary>
    [Fact]
    public async Task WriteAsync_BatchesArrivingDuringAnAppend_ShareOneCommitAndAreEachStoredOnce()
    {
        var batches = Enumerable.Range(0, 16)
            .Select(b => (IReadOnlyList<Observation>)[.. Enumerable.Range(0, 25).Select(i => HeartRate($"Patient/group-{b}", Morning.AddMinutes(i), 60 + i, $"Device/group-{b}"))])
            .ToList();
        var commitsBefore = SqliteStore.AppendCommits;

        var writes = await WhileTheLogIsLockedAsync(batches[0], batches[1..]);
        await Task.WhenAll(writes);

        Assert.Equal(2, SqliteStore.AppendCommits - commitsBefore);
        foreach (var batch in batches)
        {
            var stored = await Store.ReadAsync(batch[0].Subject!.Reference!, null, Morning.AddDays(-1), Morning.AddDays(1), 1_000, Cancel);
            Assert.Equal(batch.Select(o => o.Id).Order(StringComparer.Ordinal), stored.Select(o => o.Id).Order(StringComparer.Ordinal));
        }
    }

    /// <summary>
    /// A batch the store refuses (a reading without an id: the StoreWriter then finds it and dead-letters it) fails at
    /// once, while batches wait for an append in progress, without joining them; they are appended together afterwards.
    /// </summary>
    [Fact]
    public async Task WriteAsync_RefusedBatchWhileOthersWait_FailsAtOnceAloneAndTheOthersShareTheNextCommit()
    {
        var good = Enumerable.Range(0, 8)
            .Select(b => (IReadOnlyList<Observation>)[HeartRate($"Patient/refused-group-{b}", Morning, 70 + b, $"Device/refused-group-{b}")])
            .ToList();
        var nameless = HeartRate("Patient/refused-group-bad", Morning, 99, "Device/refused-group-bad");
        nameless.Id = null;
        IReadOnlyList<Observation> refused = [HeartRate("Patient/refused-group-bad", Morning.AddMinutes(1), 98, "Device/refused-group-bad"), nameless];
        var commitsBefore = SqliteStore.AppendCommits;

        var writes = await WhileTheLogIsLockedAsync(good[0], good[1..], whileLocked: () => Assert.ThrowsAsync<ArgumentException>(() => Store.WriteAsync(refused, Cancel)));
        await Task.WhenAll(writes);

        foreach (var batch in good)
        {
            Assert.NotNull(await Store.FindAsync(batch[0].Id!, Cancel));
        }

        Assert.Null(await Store.FindAsync(refused[0].Id!, Cancel));
        Assert.Equal(2, SqliteStore.AppendCommits - commitsBefore);
    }

    /// <summary>
    /// Holds the log file's write lock from another connection, starts the write of <paramref name="first"/>, which
    /// takes the store's gate and waits for the lock, then those of <paramref name="rest"/>, which queue behind it, runs
    /// <paramref name="whileLocked"/> once all are queued, and lets them through. Returns the writes in that order.
    /// </summary>
    private async Task<List<Task>> WhileTheLogIsLockedAsync(IReadOnlyList<Observation> first, IReadOnlyList<IReadOnlyList<Observation>> rest, Func<Task>? whileLocked = null)
    {
        await using var blocker = new SqliteConnection($"Data Source={Path.Combine(directory, "observations.db-log")};Pooling=False");
        await blocker.OpenAsync(Cancel);
        await using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE; DELETE FROM observation_log WHERE 0";
            await begin.ExecuteNonQueryAsync(Cancel);
        }

        var writes = new List<Task> { Task.Run(() => Store.WriteAsync(first, Cancel), Cancel) };
        await Poll.UntilAsync(() => Task.FromResult((SqliteStore.AppendsInFlight, SqliteStore.QueuedAppends)), n => n == (1, 0), TimeSpan.FromSeconds(20), "the first batch appending");
        writes.AddRange(rest.Select(batch => Task.Run(() => Store.WriteAsync(batch, Cancel), Cancel)));
        await Poll.UntilAsync(() => Task.FromResult(SqliteStore.QueuedAppends), n => n == rest.Count, TimeSpan.FromSeconds(20), "the other batches queued");
        if (whileLocked is not null)
        {
            await whileLocked();
        }

        await using (var rollback = blocker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync(Cancel);
        }

        return writes;
    }

    /// <summary>The folded mark, the last seq of the log, the rows folded into <c>observation</c> and the readings counted by the roll-ups.</summary>
    private async Task<(long Folded, long Logged, long Rows, long HourlyCount)> FoldStateAsync()
    {
        await using var connection = await OpenStoreFilesAsync("observations.db");
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT coalesce((SELECT value FROM store_state WHERE name = 'folded_seq'), 0),
                max(coalesce((SELECT max(seq) FROM main.observation_log), 0), coalesce((SELECT max(seq) FROM log.observation_log), 0)),
                (SELECT count(*) FROM observation), coalesce((SELECT sum(n) FROM observation_hourly WHERE field = 'value'), 0)
            """;
        await using var reader = await command.ExecuteReaderAsync(Cancel);
        await reader.ReadAsync(Cancel);
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    /// <summary>A store's main file, read-only, with its log file attached as <c>log</c> (README "Storage").</summary>
    /// <summary>Writes <paramref name="folded"/> and folds them, then <paramref name="pending"/>, and closes the store.</summary>
    private static async Task WriteFoldedThenPendingAsync(string path, Observation[] folded, Observation[] pending)
    {
        using var writer = new SqliteObservationStore(path);
        await writer.InitializeAsync(Cancel);
        await writer.WriteAsync(folded, Cancel);
        await writer.FoldAllAsync(Cancel);
        await writer.WriteAsync(pending, Cancel);
    }

    /// <summary>Runs <paramref name="sql"/> on the store's main file with its log file attached as <c>log</c> (to write the layout of an earlier version).</summary>
    private static async Task RunOnStoreFilesAsync(string path, string sql)
    {
        SqliteConnection.ClearAllPools();
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync(Cancel);
        await using var command = connection.CreateCommand();
        command.CommandText = $"ATTACH DATABASE $log AS log; {sql}; DETACH DATABASE log;";
        command.Parameters.AddWithValue("$log", path + "-log");
        await command.ExecuteNonQueryAsync(Cancel);
    }

    private async Task<SqliteConnection> OpenStoreFilesAsync(string name)
    {
        var path = Path.Combine(directory, name);
        var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(Cancel);
        await using var attach = connection.CreateCommand();
        attach.CommandText = "ATTACH DATABASE $log AS log";
        attach.Parameters.AddWithValue("$log", path + "-log");
        await attach.ExecuteNonQueryAsync(Cancel);
        return connection;
    }

    /// <summary>Keeps the formatted messages a store logs.</summary>
    private sealed class RecordingLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }

    private static DateTimeOffset TimeOf(Observation observation) => ((FhirDateTime)observation.Effective!).ToDateTimeOffset(TimeSpan.Zero);

    /// <summary>The tables and a few rows exactly as version 1 of <see cref="SqliteObservationStore"/> created and wrote them.</summary>
    private static async Task WriteVersion1FileAsync(string path, IEnumerable<Observation> observations)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync(Cancel);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE observation (id TEXT PRIMARY KEY, patient TEXT, code TEXT NOT NULL, effective_ms INTEGER NOT NULL, resource TEXT NOT NULL, device TEXT, unit TEXT);
            CREATE TABLE store_probe (id INTEGER PRIMARY KEY, written_at TEXT NOT NULL);
            CREATE INDEX observation_patient_code_time_id ON observation (patient, code, effective_ms, id);
            CREATE INDEX observation_patient_time_id ON observation (patient, effective_ms, id);
            CREATE TABLE observation_value (
                patient TEXT NOT NULL, code TEXT NOT NULL, field TEXT NOT NULL, effective_ms INTEGER NOT NULL, id TEXT NOT NULL, value REAL NOT NULL,
                PRIMARY KEY (patient, code, field, effective_ms, id)
            ) WITHOUT ROWID;
            CREATE INDEX observation_value_id ON observation_value (id);
            PRAGMA user_version = 1;
            """;
        await command.ExecuteNonQueryAsync(Cancel);
        foreach (var observation in observations)
        {
            var code = Loinc + "|" + observation.Code.Coding[0].Code;
            var time = TimeOf(observation).ToUnixTimeMilliseconds();
            command.CommandText = "INSERT INTO observation VALUES ($id, $patient, $code, $time, $resource, $device, $unit)";
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$id", observation.Id);
            command.Parameters.AddWithValue("$patient", observation.Subject!.Reference);
            command.Parameters.AddWithValue("$code", code);
            command.Parameters.AddWithValue("$time", time);
            command.Parameters.AddWithValue("$resource", Json(observation));
            command.Parameters.AddWithValue("$device", observation.Device!.Reference);
            command.Parameters.AddWithValue("$unit", observation.Value is Quantity q ? q.Code : DBNull.Value);
            await command.ExecuteNonQueryAsync(Cancel);
            var fields = observation.Value is Quantity { Value: { } value }
                ? [("value", (double)value)]
                : observation.Component.Select(c => ("c:" + c.Code.Coding[0].Code, (double)((Quantity)c.Value!).Value!.Value)).ToList();
            foreach (var (field, number) in fields)
            {
                command.CommandText = "INSERT INTO observation_value VALUES ($patient, $code, $field, $time, $id, $value)";
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$patient", observation.Subject.Reference);
                command.Parameters.AddWithValue("$code", code);
                command.Parameters.AddWithValue("$field", field);
                command.Parameters.AddWithValue("$time", time);
                command.Parameters.AddWithValue("$id", observation.Id);
                command.Parameters.AddWithValue("$value", number);
                await command.ExecuteNonQueryAsync(Cancel);
            }
        }
    }
}
