using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TeleSuivi.Server.Audit;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Server.CommandLine;

/// <summary><c>telesuivi audit verify|list</c>: checks the audit trail's hash chain, and reads it.</summary>
public static class AuditCommand
{
    /// <summary>Exit code of <c>audit verify</c> when the chain is broken.</summary>
    public const int Tampered = 4;

    public static Command Create()
    {
        var data = LocalDataCommands.DataOption();

        var verify = new Command("verify", $"Recompute the hash chain of every row: exit 0 when intact, {Tampered} naming the first row that was edited, deleted, inserted or reordered.");
        verify.SetAction(async (parse, ct) =>
        {
            using var audit = await LocalDataCommands.OpenAuditAsync(parse, data, ct);
            var total = await audit.CountAsync(ct);
            var clock = Stopwatch.StartNew();
            var progress = new ImmediateProgress<long>(done =>
            {
                var width = 30;
                var filled = total == 0 ? width : (int)(done * width / total);
                Console.Error.Write(FormattableString.Invariant($"\r[{new string('#', Math.Min(filled, width))}{new string('.', Math.Max(0, width - filled))}] {done:N0}/{total:N0} rows {clock.Elapsed.TotalSeconds:F0} s"));
            });
            var result = await audit.VerifyAsync(progress, ct);
            await Console.Error.WriteLineAsync();
            if (!result.Intact)
            {
                await Console.Error.WriteLineAsync($"error: the audit trail {audit.FilePath} is broken at row {result.BrokenSeq}: {result.Problem}");
                await Console.Error.WriteLineAsync($"       rows 1..{result.Rows} verify (hash of row {result.Rows}: {result.HeadHash})");
                return Tampered;
            }

            Console.WriteLine($"The audit trail is intact: {result.Rows:N0} row(s); hash of the last row {result.HeadHash}.");
            Console.WriteLine("Keep that hash elsewhere: a later verify that does not reach it means rows were cut from the end.");
            return ExitCodes.Success;
        });

        var patient = new Option<string?>("--patient") { Description = "Only rows about this patient id", HelpName = "ID" };
        var user = new Option<string?>("--user") { Description = "Only rows of this actor (a user name, apikey:ID or cli:ACCOUNT)", HelpName = "NAME" };
        var from = new Option<string?>("--from") { Description = "From this date or date-time (ISO 8601, UTC unless an offset is given)", HelpName = "TIME" };
        var to = new Option<string?>("--to") { Description = "Before this date or date-time", HelpName = "TIME" };
        var limit = new Option<int>("--limit") { Description = "At most this many rows (default 100)", DefaultValueFactory = _ => 100, HelpName = "N" };
        var list = new Command("list", "List audit rows, oldest first: time, actor, role, action, patient, outcome, source, request.") { patient, user, from, to, limit };
        list.SetAction(async (parse, ct) =>
        {
            var problems = new List<string>();
            var fromTime = AuditEndpoints.ParseTime("--from", parse.GetValue(from), problems);
            var toTime = AuditEndpoints.ParseTime("--to", parse.GetValue(to), problems);
            if (problems.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {string.Join("; ", problems)}");
                return ExitCodes.Usage;
            }

            using var audit = await LocalDataCommands.OpenAuditAsync(parse, data, ct);
            var rows = await audit.ListAsync(new AuditQuery(parse.GetValue(patient), parse.GetValue(user), fromTime, toTime, 0, Math.Max(1, parse.GetValue(limit))), ct);
            foreach (var row in rows)
            {
                var e = row.Entry;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"#{row.Seq} {row.Time:yyyy-MM-ddTHH:mm:ss.fffZ} {e.Actor} ({e.Role}) {e.Action} patient={e.Patient ?? "-"} {e.Outcome} from {e.Source}  {e.Resource}{(e.Detail is null ? string.Empty : "  " + e.Detail)}"));
            }

            await audit.AppendAsync(LocalDataCommands.Entry("audit.query", parse.GetValue(patient) is { } p ? $"patient/{p}" : null, "ok", $"{rows.Count} row(s)"), ct);
            Console.WriteLine($"{rows.Count} row(s)");
            return ExitCodes.Success;
        });

        return new Command("audit", "Check and read the audit trail (who saw or did what, about which patient, from where).") { data, verify, list };
    }
}
