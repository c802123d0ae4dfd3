using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using TeleSuivi.Server.Board;
using TeleSuivi.Server.CommandLine;

namespace TeleSuivi.Benchmarks.Board;

/// <summary>
/// Issue 6, "Performance": a board of 1,000 patients and 200 open alerts ready in under 1 s, and the hub delivering
/// 100 alert updates/s to 20 boards with a p99 delay under 200 ms. A plain measured run against the real platform
/// (<see cref="BoardPlatform"/>), not BenchmarkDotNet: the figures are latency percentiles of requests and pushes,
/// which BenchmarkDotNet's per-operation statistics do not give. Clients and server share the process and its cores.
/// </summary>
public static class BoardBenchmark
{
    public const int Patients = 1_000;
    public const int OpenAlerts = 200;
    public const int ReadyTries = 50;
    public const int Boards = 20;
    public const int UpdatesPerSecond = 100;
    public static readonly TimeSpan FanOutDuration = TimeSpan.FromSeconds(15);

    /// <summary>A tmpfs on Linux; the in-memory reference run is skipped where it does not exist.</summary>
    public const string InMemoryFolder = "/dev/shm";

    // Connections, JIT and SQLite caches warm up on these; they are not counted.
    private const int WarmUpTries = 5;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Measures and writes the section; a run that cannot finish says why and leaves BENCHMARKS.md as it is.</summary>
    public static async Task<int> RunAsync(string repositoryRoot, string machine, string commit)
    {
        try
        {
            return await MeasureAndWriteAsync(repositoryRoot, machine, commit);
        }
        catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or IOException or TaskCanceledException)
        {
            Console.Error.WriteLine($"error: the board benchmark stopped: {ex.Message}; BENCHMARKS.md is left as it is");
            return 1;
        }
    }

    private static async Task<int> MeasureAndWriteAsync(string repositoryRoot, string machine, string commit)
    {
        var progress = new ConsoleProgress();
        Percentiles rest, hub;
        FanOut fanOut;
        await using (var platform = await BoardPlatform.StartAsync())
        {
            var alerts = await LoadAsync(platform, progress);
            rest = await MeasureReadyAsync(progress.Stage("GET /api/alerts", ReadyTries, "tries"), () => RestSnapshotAsync(platform));
            hub = await MeasureReadyAsync(progress.Stage("hub connect + GetSnapshot", ReadyTries, "tries"), () => HubSnapshotAsync(platform));
            fanOut = await MeasureFanOutAsync(platform, alerts, progress.Stage("posting notes", TotalUpdates, "updates"));
        }

        // The same fan-out with the data folder in memory: SQLite's commit sync is then free, so the gap between the two
        // runs is what the disk costs, and what remains is the code and the shared cores.
        FanOut? inMemory = null;
        if (Directory.Exists(InMemoryFolder))
        {
            await using var platform = await BoardPlatform.StartAsync(InMemoryFolder);
            var alerts = await LoadAsync(platform, progress);
            inMemory = await MeasureFanOutAsync(platform, alerts, progress.Stage("posting notes (data in memory)", TotalUpdates, "updates"));
        }

        var path = Path.Combine(repositoryRoot, BenchmarksFile.FileName);
        BoardSection.Write(path, rest, hub, fanOut, inMemory, machine, commit);
        Console.WriteLine($"GET /api/alerts: p50 {rest.P50:F1} ms, p99 {rest.P99:F1} ms, max {rest.Max:F1} ms");
        Console.WriteLine($"hub connect + GetSnapshot: p50 {hub.P50:F1} ms, p99 {hub.P99:F1} ms, max {hub.Max:F1} ms");
        Print("fan-out", fanOut);
        if (inMemory is not null)
        {
            Print("fan-out, data in memory", inMemory);
        }

        Console.WriteLine($"board figures written to {path}");
        return 0;
    }

    private static int TotalUpdates => (int)(FanOutDuration.TotalSeconds * UpdatesPerSecond);

    private static void Print(string name, FanOut fanOut) =>
        Console.WriteLine($"{name}: {fanOut.Delivered:N0} of {fanOut.Expected:N0} delivered, p50 {fanOut.Delays.P50:F1} ms, p99 {fanOut.Delays.P99:F1} ms, max {fanOut.Delays.Max:F1} ms, {fanOut.SentPerSecond:F1} updates/s sent; note requests p50 {fanOut.Requests.P50:F1} ms, p99 {fanOut.Requests.P99:F1} ms");

    private static async Task<IReadOnlyList<long>> LoadAsync(BoardPlatform platform, ConsoleProgress progress)
    {
        var patients = await platform.RegisterPatientsAsync(Patients, progress.Stage("registering patients", Patients, "patients"));
        return await platform.RaiseAlertsAsync(patients, OpenAlerts, progress.Stage("raising alerts", OpenAlerts, "alerts"));
    }

    /// <summary>Times <paramref name="snapshot"/> after the warm-up; each try must give the whole ranked board.</summary>
    private static async Task<Percentiles> MeasureReadyAsync(IProgress<int> progress, Func<Task<BoardSnapshot>> snapshot)
    {
        for (var i = 0; i < WarmUpTries; i++)
        {
            CheckComplete(await snapshot());
        }

        var times = new List<double>(ReadyTries);
        for (var i = 0; i < ReadyTries; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var board = await snapshot();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            CheckComplete(board);
            progress.Report(i + 1);
        }

        return Percentiles.Of(times);
    }

    private static async Task<BoardSnapshot> RestSnapshotAsync(BoardPlatform platform) =>
        await platform.Http.GetFromJsonAsync<BoardSnapshot>(new Uri("/api/alerts", UriKind.Relative), Json)
            ?? throw new InvalidOperationException("GET /api/alerts gave no board");

    /// <summary>What a board opening does: a new connection (negotiate, WebSocket, authentication), then the snapshot.</summary>
    private static async Task<BoardSnapshot> HubSnapshotAsync(BoardPlatform platform)
    {
        await using var connection = platform.Hub();
        await connection.StartAsync();
        return await connection.InvokeAsync<BoardSnapshot>(nameof(TriageHub.GetSnapshot), false);
    }

    /// <summary>A board that is not complete or not ranked would make a fast time meaningless: the run stops.</summary>
    private static void CheckComplete(BoardSnapshot board)
    {
        if (board.Alerts.Count != OpenAlerts)
        {
            throw new InvalidOperationException($"the board shows {board.Alerts.Count} alerts, expected the {OpenAlerts} open ones");
        }

        if (board.Alerts.Zip(board.Alerts.Skip(1)).Any(pair => pair.First.Rank < pair.Second.Rank))
        {
            throw new InvalidOperationException("the board is not ranked");
        }
    }

    /// <summary>
    /// <see cref="Boards"/> connected boards; a note is posted on the next alert (round robin) every 1/<see
    /// cref="UpdatesPerSecond"/> s by the clock, whether earlier requests have answered or not, as nurses would. Each
    /// board's delay for an update is from the start of its request to the board's receipt of that alert's version.
    /// </summary>
    private static async Task<FanOut> MeasureFanOutAsync(BoardPlatform platform, IReadOnlyList<long> alerts, IProgress<int> sending)
    {
        var receipts = new List<ConcurrentDictionary<(long Id, long Version), long>>();
        var connections = new List<HubConnection>();
        try
        {
            for (var i = 0; i < Boards; i++)
            {
                var received = new ConcurrentDictionary<(long Id, long Version), long>();
                var connection = platform.Hub();
                connection.On<AlertView>(nameof(ITriageClient.AlertChanged), alert => received.TryAdd((alert.Id, alert.Version), Stopwatch.GetTimestamp()));
                await connection.StartAsync();
                receipts.Add(received);
                connections.Add(connection);
            }

            using var http = platform.Client();
            var total = TotalUpdates;
            var interval = Stopwatch.Frequency / UpdatesPerSecond;
            var updates = new List<Task<Update>>(total);
            var clock = Stopwatch.GetTimestamp();
            for (var i = 0; i < total; i++)
            {
                var due = clock + (i * interval);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                updates.Add(PostNoteAsync(http, alerts[i % alerts.Count], i));
                sending.Report(i + 1);
            }

            var sentPerSecond = total / Stopwatch.GetElapsedTime(clock).TotalSeconds;
            var done = await Task.WhenAll(updates);
            var failed = done.Where(u => u.Error is not null).ToList();

            // Late pushes still count, with their delay; after the deadline an update is counted as lost.
            var deadline = Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency);
            var succeeded = done.Where(u => u.Error is null).ToList();
            while (Stopwatch.GetTimestamp() < deadline && !succeeded.All(u => receipts.All(r => r.ContainsKey((u.AlertId, u.Version)))))
            {
                await Task.Delay(50);
            }

            var delays = new List<double>(succeeded.Count * Boards);
            foreach (var update in succeeded)
            {
                foreach (var received in receipts)
                {
                    if (received.TryGetValue((update.AlertId, update.Version), out var at))
                    {
                        delays.Add(Stopwatch.GetElapsedTime(update.Started, at).TotalMilliseconds);
                    }
                }
            }

            var requests = Percentiles.Of(succeeded.Select(u => Stopwatch.GetElapsedTime(u.Started, u.Answered).TotalMilliseconds).ToList());
            return new FanOut(Percentiles.Of(delays), requests, delays.Count, total * Boards, failed.Count, failed.FirstOrDefault()?.Error, sentPerSecond);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static async Task<Update> PostNoteAsync(HttpClient http, long alertId, int number)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.PostAsJsonAsync(new Uri($"/api/alerts/{alertId}/notes", UriKind.Relative), new { text = $"benchmark note {number}" });
            if (!response.IsSuccessStatusCode)
            {
                return new Update(alertId, 0, started, Stopwatch.GetTimestamp(), $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            var alert = await response.Content.ReadFromJsonAsync<AlertView>(Json);
            return new Update(alertId, alert!.Version, started, Stopwatch.GetTimestamp(), null);
        }
        catch (HttpRequestException ex)
        {
            return new Update(alertId, 0, started, Stopwatch.GetTimestamp(), ex.Message);
        }
    }

    /// <param name="Started">When the request started (<see cref="Stopwatch.GetTimestamp"/>).</param>
    /// <param name="Answered">When its answer was read: the push to the boards happens before the answer.</param>
    private sealed record Update(long AlertId, long Version, long Started, long Answered, string? Error);
}

/// <summary>
/// The figures of the hub fan-out: delays of the deliveries that arrived, how many of the expected did, and the time of
/// the note requests themselves (store write + push + answer), which tells the write path from the fan-out.
/// </summary>
public sealed record FanOut(Percentiles Delays, Percentiles Requests, int Delivered, int Expected, int FailedRequests, string? FirstError, double SentPerSecond);

/// <summary>Nearest-rank percentiles of a set of times, in milliseconds.</summary>
public sealed record Percentiles(int Count, double P50, double P99, double Max)
{
    public static Percentiles Of(IReadOnlyCollection<double> milliseconds)
    {
        if (milliseconds.Count == 0)
        {
            return new Percentiles(0, double.NaN, double.NaN, double.NaN);
        }

        var sorted = milliseconds.Order().ToArray();
        double At(double fraction) => sorted[Math.Max(0, (int)Math.Ceiling(fraction * sorted.Length) - 1)];
        return new Percentiles(sorted.Length, At(0.50), At(0.99), sorted[^1]);
    }
}
