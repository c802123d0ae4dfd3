using System.CommandLine;
using System.Text.Json;
using System.Globalization;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi deadletter list|show|replay</c>, through the running server's <c>/api/deadletters</c>.</summary>
public static class DeadLetterCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var server = ServerOption.Create("The running TeleSuivi", recursive: true);

        var reason = new Option<string?>("--reason") { Description = "Only letters with this reason code (e.g. unknown-device)", HelpName = "CODE" };
        var limit = new Option<int>("--limit") { Description = "How many (default 50)", DefaultValueFactory = _ => 50, HelpName = "N" };
        var all = new Option<bool>("--all") { Description = "Include letters already replayed" };
        var list = new Command("list", "List pending dead letters, oldest first, and the counts by reason.") { reason, limit, all };
        list.SetAction((parse, ct) => RunAsync(ServerOption.Read(parse, server), async http =>
        {
            var counts = await http.GetFromJsonAsync<Dictionary<string, long>>("/api/deadletters/counts", ct) ?? [];
            var query = $"/api/deadletters?limit={parse.GetValue(limit)}&all={parse.GetValue(all).ToString().ToLowerInvariant()}"
                + (parse.GetValue(reason) is { } code ? $"&reason={Uri.EscapeDataString(code)}" : string.Empty);
            var letters = await http.GetFromJsonAsync<List<JsonElement>>(query, Json, ct) ?? [];
            // Plain lines, not a table: the topic and reason must survive narrow terminals and redirection.
            foreach (var letter in letters)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"#{letter.GetProperty("id")}  {letter.GetProperty("receivedAt").GetDateTimeOffset():u}  {letter.GetProperty("reasonCode").GetString()}  {letter.GetProperty("topic").GetString()}"));
                Console.WriteLine($"    {letter.GetProperty("reason").GetString()}");
            }

            Console.WriteLine(counts.Count == 0
                ? "No pending dead letters."
                : "Pending by reason: " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")));
            return ExitCodes.Success;
        }));

        var id = new Argument<long>("id") { Description = "Dead letter id (see list)" };
        var show = new Command("show", "Show one dead letter: topic, reason, payload (text, or base64 when binary).") { id };
        show.SetAction((parse, ct) => RunAsync(ServerOption.Read(parse, server), async http =>
        {
            using var response = await http.GetAsync(new Uri($"/api/deadletters/{parse.GetValue(id)}", UriKind.Relative), ct);
            if (!response.IsSuccessStatusCode)
            {
                await Console.Error.WriteLineAsync($"error: no dead letter {parse.GetValue(id)} ({(int)response.StatusCode})");
                return 1;
            }

            var letter = await response.Content.ReadFromJsonAsync<JsonElement>(Json, ct);
            Console.WriteLine(JsonSerializer.Serialize(letter, Indented));
            return ExitCodes.Success;
        }));

        var ids = new Argument<long[]>("ids") { Description = "Dead letter ids; none = every pending letter (of --reason)", Arity = ArgumentArity.ZeroOrMore };
        var replayReason = new Option<string?>("--reason") { Description = "Only letters with this reason code", HelpName = "CODE" };
        var replay = new Command("replay", "Re-process dead letters with the current profiles and registry; stored ones are marked replayed.") { ids, replayReason };
        replay.SetAction((parse, ct) => RunAsync(ServerOption.Read(parse, server), async http =>
        {
            var chosen = parse.GetValue(ids) ?? [];
            using var response = await http.PostAsJsonAsync(
                "/api/deadletters/replay",
                new { ids = chosen.Length == 0 ? null : chosen, reason = parse.GetValue(replayReason) },
                ct);
            response.EnsureSuccessStatusCode();
            var result = await response.Content.ReadFromJsonAsync<JsonElement>(Json, ct);
            Console.WriteLine($"Replayed {result.GetProperty("replayed")} letter(s) into {result.GetProperty("stored")} observation(s); {result.GetProperty("rejectedAgain")} still rejected.");
            foreach (var still in result.GetProperty("stillRejectedByCode").EnumerateObject())
            {
                Console.WriteLine($"  {still.Name}: {still.Value}");
            }

            return ExitCodes.Success;
        }));

        return new Command("deadletter", "Inspect and replay the messages that could not be stored.") { server, list, show, replay };
    }

    private static async Task<int> RunAsync(Uri server, Func<HttpClient, Task<int>> action)
    {
        using var http = ServerOption.Client(server, TimeSpan.FromMinutes(10));
        try
        {
            return await action(http);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
        {
            await Console.Error.WriteLineAsync($"error: {ServerOption.Refused(server, ex.StatusCode.Value)}");
            return 1;
        }
        catch (HttpRequestException ex)
        {
            await Console.Error.WriteLineAsync($"error: cannot reach TeleSuivi at {server}: {ex.Message}");
            return ExitCodes.StartFailed;
        }
    }
}
