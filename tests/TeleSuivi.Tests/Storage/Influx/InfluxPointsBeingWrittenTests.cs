using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Devices.Profiles;
using TeleSuivi.Tests.Infrastructure;
using static TeleSuivi.Tests.Storage.SampleObservations;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>
/// Reads that meet a point influxd is still storing (SCHEMA.md, "Points being written"). influxd 1.x stores a point's
/// fields one by one and reads each with its own cursor, so a query racing a write can return a row with only some of
/// the point's fields, or a reading whose shape point is not visible yet. Such a race cannot be timed from outside, so
/// these tests write the row as influxd shows it mid-write (the store's own line less some fields, through the raw
/// /write), let the read meet it, then write the rest, as influxd would finish storing it.
/// </summary>
public sealed class InfluxPointsBeingWrittenTests(ExternalServices services)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>
    /// "shape": the symptom of a full run (a FHIR read answered 500, "no 'fhir' nor 'shape' field"). The others were
    /// served as if whole before: a blood pressure without its diastolic value, without its issued time.
    /// </summary>
    [Theory]
    [InlineData("shape")]
    [InlineData("c:8462-4")]
    [InlineData("issued")]
    [InlineData("id")]
    [InlineData("style")]
    public async Task SearchAsync_PointWithSomeOfItsFieldsVisible_ReadsAgainUntilItIsWhole(string notYetVisible)
    {
        var database = ExternalServices.NewDatabaseName();
        var (first, second) = TwoReadings();
        using var store = await StoreAsync(database);
        await store.WriteAsync([first], Cancel);
        await WriteLinesAsync(database, Without(ReadingLine(second), notYetVisible));

        var read = store.ReadAsync(first.Subject!.Reference!, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel);
        await Poll.UntilAsync(() => store.ReadsOfPointsBeingWritten >= 1 || read.IsCompleted, Deadline, "the read to meet the point being written");
        await store.WriteAsync([second], Cancel);

        Assert.Equal(new[] { first, second }.Select(Json), (await read).Select(Json));
        Assert.True(store.ReadsOfPointsBeingWritten >= 1);
        Assert.Equal(0, store.IncompletePoints);
    }

    [Fact]
    public async Task FindAsync_ReadingWhoseShapePointIsNotVisibleYet_ReadsAgainUntilItIs()
    {
        var database = ExternalServices.NewDatabaseName();
        var (reading, _) = TwoReadings();
        var lines = StoreLines(reading);
        using var store = await StoreAsync(database);
        await WriteLinesAsync(database, ReadingLine(reading), IndexLine(reading));

        var found = store.FindAsync(reading.Id!, Cancel);
        await Poll.UntilAsync(() => store.ReadsOfPointsBeingWritten >= 1 || found.IsCompleted, Deadline, "the read to meet the reading without its shape");
        await WriteLinesAsync(database, lines.Single(l => l.StartsWith(ShapePoints.Measurement + ",", StringComparison.Ordinal)));

        Assert.Equal(Json(reading), Json((await found)!));
        Assert.Equal(0, store.IncompletePoints);
    }

    [Fact]
    public async Task SearchAsync_PointStillWithoutItsShapeAfterTheWait_FailsNamingWhatItLacksAndCountsIt()
    {
        var database = ExternalServices.NewDatabaseName();
        var (reading, _) = TwoReadings();
        using var store = await StoreAsync(database);
        store.BeingWrittenDeadline = TimeSpan.FromMilliseconds(300);
        await WriteLinesAsync(database, Without(ReadingLine(reading), "shape"));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadAsync(reading.Subject!.Reference!, null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel));

        Assert.Contains("no 'fhir' nor 'shape' field after 0.3 s", error.Message, StringComparison.Ordinal);
        Assert.Contains(reading.Id!, error.Message, StringComparison.Ordinal);
        Assert.Contains("not a write in progress", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.IncompletePoints);
        Assert.True(store.ReadsOfPointsBeingWritten >= 1);
    }

    [Fact]
    public async Task SearchAsync_PointWithNoFieldOfTheSchema_FailsAtOnceAsNotWrittenByTeleSuivi()
    {
        var database = ExternalServices.NewDatabaseName();
        using var store = await StoreAsync(database);
        await WriteLinesAsync(database, $"observation,code=http://loinc.org|8310-5,patient=Patient/foreign temperature=37.2 {Morning.ToUnixTimeMilliseconds() * 1_000_000}");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadAsync("Patient/foreign", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10, Cancel));

        Assert.Contains("no 'fhir' nor 'shape' field: it was not written by TeleSuivi", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.ReadsOfPointsBeingWritten);
        Assert.Equal(0, store.IncompletePoints);
    }

    [Fact]
    public void Write_ReadingWithAShape_KeepsTheNumberOfItsFieldsInStyle()
    {
        var (reading, _) = TwoReadings();

        var line = ReadingLine(reading);

        var fields = line.Split(' ')[1].Split(',');
        var style = long.Parse(fields.Single(f => f.StartsWith("style=", StringComparison.Ordinal))["style=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(fields.Length, style >> ObservationPoint.FieldCountShift);
        Assert.Equal(17, style & ((1 << ObservationPoint.FieldCountShift) - 1));
    }

    /// <summary>
    /// The race itself, not timed: one writer storing readings of one series one request at a time while a reader pages
    /// through the latest of them, as the reliability tests' ledger does during a stream. With the read path of before,
    /// a run of this length met half-stored points (a read failed, or returned a reading without some of its numbers);
    /// whether one run meets one is chance, so the deterministic tests above are the proof, this one the exercise.
    /// </summary>
    [Fact]
    public async Task SearchAsync_WhileItsSeriesIsWrittenOneReadingAtATime_ReturnsOnlyWholeObservations()
    {
        var database = ExternalServices.NewDatabaseName();
        using var store = await StoreAsync(database, productionWait: true);
        var start = new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero);
        var written = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        stop.CancelAfter(TimeSpan.FromSeconds(6));
        var writer = Task.Run(
            async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var reading = BloodPressure("Patient/race-1", start.AddSeconds(i), 100 + (i % 60), 60 + (i % 30), 80 + (i % 20));
                    reading.Issued = start.AddSeconds(i + 1);
                    written[reading.Id!] = Json(reading);
                    await store.WriteAsync([reading], Cancel);
                }
            },
            Cancel);

        var reads = 0;
        var compared = 0;
        while (!writer.IsCompleted)
        {
            var page = await store.SearchAsync(new ObservationSearch("Patient/race-1", [], DateTimeOffset.MinValue, DateTimeOffset.MaxValue, true, null, 5), Cancel);
            reads++;
            foreach (var match in page.Matches)
            {
                Assert.Equal(written[match.Observation.Id!], Json(match.Observation));
                compared++;
            }
        }

        await writer;
        TestContext.Current.TestOutputHelper?.WriteLine($"{written.Count} readings written, {reads} reads, {compared} Observations compared, {store.ReadsOfPointsBeingWritten} read(s) made again");
        Assert.True(compared > 100, $"{compared} Observations compared");
        Assert.Equal(0, store.IncompletePoints);
    }

    /// <summary>Two blood pressure readings as the ingestion makes them (shape, components, issued, natural-key identifier).</summary>
    private static (Observation First, Observation Second) TwoReadings()
    {
        var pressures = IngestExamples.Run("withings/examples/bp-batch.json").Observations.Where(o => o.Component.Count > 0).ToList();
        Assert.Equal(2, pressures.Count);
        return (pressures[0], pressures[1]);
    }

    /// <summary>What the store sends for one Observation: its shape point, its point, its index point.</summary>
    private static List<string> StoreLines(Observation observation)
    {
        using var writer = new LineProtocolWriter();
        ObservationPoint.Write(writer, observation, new ShapePoints(NullLogger.Instance), []);
        ObservationIdIndex.Write(writer, observation);
        return [.. writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    private static string ReadingLine(Observation observation) =>
        StoreLines(observation).Single(l => l.StartsWith(ObservationPoint.Measurement + ",", StringComparison.Ordinal));

    private static string IndexLine(Observation observation) =>
        StoreLines(observation).Single(l => l.StartsWith(ObservationIdIndex.Measurement + ",", StringComparison.Ordinal));

    /// <summary>The line without one field: the point as a query sees it before influxd stored that field (no comma in these fields' values).</summary>
    private static string Without(string line, string field)
    {
        var parts = line.Split(' ');
        Assert.Equal(3, parts.Length);
        var fields = parts[1].Split(',');
        var kept = fields.Where(f => !f.StartsWith(field + "=", StringComparison.Ordinal)).ToList();
        Assert.Equal(fields.Length - 1, kept.Count);
        return $"{parts[0]} {string.Join(',', kept)} {parts[2]}";
    }

    private async Task WriteLinesAsync(string database, params string[] lines)
    {
        using var http = new HttpClient { BaseAddress = services.InfluxUrl };
        using var body = new StringContent(string.Join('\n', lines), Encoding.UTF8, "text/plain");
        using var response = await http.PostAsync($"write?db={database}&precision=ns", body, Cancel);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    /// <param name="productionWait">Keep the store's own wait for a point being written, instead of the tests' deadline.</param>
    private async Task<InfluxObservationStore> StoreAsync(string database, bool productionWait = false)
    {
        var options = new StoreOptions { Url = services.InfluxStoreUrl(database) };
        var store = new InfluxObservationStore(options.ResolveAddress(), options);
        if (!productionWait)
        {
            store.BeingWrittenDeadline = Deadline;
        }

        await store.InitializeAsync(Cancel);
        return store;
    }
}
