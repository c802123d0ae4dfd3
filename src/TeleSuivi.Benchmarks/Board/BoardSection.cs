using System.Globalization;
using System.Text;

namespace TeleSuivi.Benchmarks.Board;

/// <summary>The "Triage board" section of BENCHMARKS.md: one row per target of issue 6 with the figures and pass or fail.</summary>
public static class BoardSection
{
    public const double ReadyTargetMilliseconds = 1_000;
    public const double FanOutTargetMilliseconds = 200;

    private const string Begin = "<!-- triage-board:begin (written by src/TeleSuivi.Benchmarks) -->";
    private const string End = "<!-- triage-board:end -->";

    private static readonly string Template = string.Create(CultureInfo.InvariantCulture,
        $"""
        ## Triage board

        Issue 6 asks for a board of **{BoardBenchmark.Patients:N0} patients and {BoardBenchmark.OpenAlerts} open alerts ready in under 1 s**, and
        the hub delivering **{BoardBenchmark.UpdatesPerSecond} alert updates/s to {BoardBenchmark.Boards} connected boards with a p99 delay under 200 ms**.
        `src/TeleSuivi.Benchmarks/Board/` starts the real platform in the benchmark process (`PlatformHost.Build`, SQLite
        in a temporary folder, embedded broker), registers the patients with FHIR transaction Bundles (care team north),
        raises the alerts on its AlertStore, then measures as an admin board:

        - board ready: the time to a complete ranked board (all {BoardBenchmark.OpenAlerts} alerts, checked), over {BoardBenchmark.ReadyTries} tries after
          5 warm-up ones, by `GET /api/alerts` on an open HTTP connection and by what a board tab opening does: a new
          .NET SignalR connection (negotiate, WebSocket, API key) and `GetSnapshot`;
        - fan-out: {BoardBenchmark.Boards} .NET SignalR boards connected while a note is posted (`POST /api/alerts/{"{id}"}/notes`) on the
          alerts in turn every 10 ms for {BoardBenchmark.FanOutDuration.TotalSeconds:0} s, open loop; each board's delay for an update runs from the start
          of its request to the receipt of that alert's version in `AlertChanged` (the request's SQLite write is inside it);
        - the same fan-out again on a second platform whose data folder is in memory ({BoardBenchmark.InMemoryFolder}), as a
          reference not judged: the difference is what the disk's commit syncs cost.

        Clients and server share the process and the cores of the machine (its load is in the machine column).

        {Begin}
        {End}

        """);

    /// <param name="inMemory">The same fan-out with the data folder in memory (a reference, not judged), when it ran.</param>
    public static void Write(string path, Percentiles rest, Percentiles hub, FanOut fanOut, FanOut? inMemory, string machine, string commit)
    {
        ArgumentNullException.ThrowIfNull(rest);
        ArgumentNullException.ThrowIfNull(hub);
        ArgumentNullException.ThrowIfNull(fanOut);
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
        if (!text.Contains(Begin, StringComparison.Ordinal))
        {
            text = text.TrimEnd() + "\n\n" + Template;
        }

        var date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var table = new StringBuilder();
        table.Append("| target | p50 | p99 | max | result | date | machine | commit |\n");
        table.Append("| --- | ---: | ---: | ---: | --- | --- | --- | --- |\n");
        Row(table, "Board ready by `GET /api/alerts` < 1 s", rest, Verdict(rest.P99 < ReadyTargetMilliseconds, $"p99 of {rest.Count} tries"), date, machine, commit);
        Row(table, "Board ready by new hub connection + `GetSnapshot` < 1 s", hub, Verdict(hub.P99 < ReadyTargetMilliseconds, $"p99 of {hub.Count} tries"), date, machine, commit);
        var target = $"Hub: {BoardBenchmark.UpdatesPerSecond} updates/s to {BoardBenchmark.Boards} boards, p99 delay < 200 ms";
        Row(table, target, fanOut.Delays, Verdict(Met(fanOut), Describe(fanOut)), date, machine, commit);
        if (inMemory is not null)
        {
            Row(table, $"Reference: the same with the data folder in memory ({BoardBenchmark.InMemoryFolder}, no disk sync)", inMemory.Delays,
                "not judged; " + Describe(inMemory), date, machine, commit);
        }

        var start = text.IndexOf(Begin, StringComparison.Ordinal) + Begin.Length;
        var stop = text.IndexOf(End, start, StringComparison.Ordinal);
        File.WriteAllText(path, string.Concat(text.AsSpan(0, start), "\n", table.ToString(), text.AsSpan(stop)));
    }

    private static bool Met(FanOut fanOut) =>
        fanOut.Delivered == fanOut.Expected && fanOut.FailedRequests == 0 && fanOut.Delays.P99 < FanOutTargetMilliseconds;

    private static string Describe(FanOut fanOut)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{fanOut.Delivered:N0} of {fanOut.Expected:N0} deliveries, {fanOut.SentPerSecond:F1} updates/s sent, {fanOut.FailedRequests} failed requests; the note requests themselves: p50 {fanOut.Requests.P50:F1} ms, p99 {fanOut.Requests.P99:F1} ms");
        return fanOut.FirstError is null ? text : text + $" (first: {fanOut.FirstError.ReplaceLineEndings(" ").Replace("|", "/", StringComparison.Ordinal)})";
    }

    private static string Verdict(bool met, string detail) => (met ? "met" : "**not met**") + "; " + detail;

    private static void Row(StringBuilder table, string target, Percentiles figures, string result, string date, string machine, string commit) =>
        table.Append(CultureInfo.InvariantCulture,
            $"| {target} | {figures.P50:F1} ms | {figures.P99:F1} ms | {figures.Max:F1} ms | {result} | {date} | {machine} | {commit} |\n");
}
