using System.Globalization;
using System.Text;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Outcomes;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Risk;

namespace TeleSuivi.Server.Export;

/// <summary>
/// Reads a pseudonymised export (<see cref="PseudonymisedExport"/>) back for training: readings become measure keys
/// by the same code-and-unit table as online scoring (<see cref="RiskReadings.MeasureOf"/>); values that are no feature
/// are skipped. A malformed row is an <see cref="InvalidDataException"/> naming the file and line, never a guess.
/// </summary>
public static class ExportReader
{
    /// <param name="through">The end of the export: ages are taken at that date, and labels need its 72 h before it.</param>
    /// <param name="defaults">The ages and severities used for a patient whose export row lacks them, as online scoring does.</param>
    public static PlatformHistory Read(string folder, DateTimeOffset through, TimeSpan utcOffset, RiskOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var patients = Rows(folder, PseudonymisedExport.PatientsFile, 7).Select(r => Patient(r, through, defaults)).ToList();
        var readings = new Dictionary<string, List<MeasureReading>>(StringComparer.Ordinal);
        foreach (var row in Rows(folder, PseudonymisedExport.ReadingsFile, 7))
        {
            if (Reading(row, time: 2, code: 3) is { } reading)
            {
                Add(readings, row.Fields[0], reading);
            }
        }

        var environment = new Dictionary<string, List<MeasureReading>>(StringComparer.Ordinal);
        foreach (var row in Rows(folder, PseudonymisedExport.EnvironmentFile, 6))
        {
            if (Reading(row, time: 1, code: 2) is { } reading)
            {
                Add(environment, row.Fields[0], reading);
            }
        }

        var outcomes = Rows(folder, PseudonymisedExport.OutcomesFile, 7)
            .Select(r => new NurseOutcome(r.Fields[0], r.Fields[1], Time(r, 4), r.Fields[5].Length == 0 ? null : Time(r, 5), r.Fields[6]))
            .ToList();
        return new PlatformHistory(
            patients,
            readings.ToDictionary(x => x.Key, x => (IReadOnlyList<MeasureReading>)x.Value, StringComparer.Ordinal),
            environment.ToDictionary(x => x.Key, x => (IReadOnlyList<MeasureReading>)x.Value, StringComparer.Ordinal),
            outcomes,
            through,
            utcOffset);
    }

    private static void Add(Dictionary<string, List<MeasureReading>> into, string key, MeasureReading reading)
    {
        if (!into.TryGetValue(key, out var list))
        {
            into[key] = list = [];
        }

        list.Add(reading);
    }

    private static ExportedPatient Patient(CsvRow row, DateTimeOffset through, RiskOptions defaults)
    {
        var f = row.Fields;
        var age = f[1].Length == 0 ? defaults.DefaultAge : through.UtcDateTime.Year - Integer(row, 1);
        var conditions = f[4].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(code => ClinicalConditions.BySnomedCode.TryGetValue(code, out var condition) ? condition : (Condition?)null)
            .OfType<Condition>().Distinct().Order().ToList();
        var severity = f[5].Length == 0 ? defaults.DefaultSeverity : Integer(row, 5);
        var sex = string.Equals(f[2], "male", StringComparison.Ordinal) ? Sex.Male : Sex.Female;
        int? priorYear = f[6].Length == 0 ? null : Integer(row, 6);
        return new ExportedPatient(f[0], new PatientFacts(age, sex, conditions, severity, priorYear), f[3]);
    }

    /// <summary>A feature reading from a row's time, code, component, value and unit columns; null when it is no feature.</summary>
    private static MeasureReading? Reading(CsvRow row, int time, int code)
    {
        var f = row.Fields;
        var measure = RiskReadings.MeasureOf(f[code + 1].Length > 0 ? f[code + 1] : f[code], f[code + 3]);
        if (measure is null)
        {
            return null;
        }

        if (!double.TryParse(f[code + 2], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw row.Error($"value '{f[code + 2]}' is not a number");
        }

        var at = Time(row, time);

        // The export keeps when a reading was measured, not when it arrived: training sees each at its measurement time.
        return new MeasureReading(measure, at, value, at);
    }

    private static DateTimeOffset Time(CsvRow row, int column) =>
        DateTimeOffset.TryParse(row.Fields[column], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : throw row.Error($"'{row.Fields[column]}' is not a time");

    private static int Integer(CsvRow row, int column) =>
        int.TryParse(row.Fields[column], NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw row.Error($"'{row.Fields[column]}' is not a whole number");

    private sealed record CsvRow(string File, int Line, string[] Fields)
    {
        public InvalidDataException Error(string what) => new($"{File}, line {Line}: {what}");
    }

    /// <summary>The rows of one file of the export after its header (RFC 4180: quoted fields may hold commas, quotes and line breaks).</summary>
    private static IEnumerable<CsvRow> Rows(string folder, string name, int columns)
    {
        var path = Path.Combine(folder, name);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the export in {folder} has no {name}", path);
        }

        using var reader = new StreamReader(path, Encoding.UTF8);
        var line = 0;
        var header = true;
        while (ReadRecord(reader, ref line) is { } record)
        {
            var fields = CsvLine.Split(record, ',');
            if (fields.Length != columns)
            {
                throw new InvalidDataException($"{path}, line {line}: {fields.Length} fields, expected {columns}");
            }

            if (!header)
            {
                yield return new CsvRow(path, line, fields);
            }

            header = false;
        }
    }

    private static string? ReadRecord(StreamReader reader, ref int line)
    {
        var text = reader.ReadLine();
        if (text is null)
        {
            return null;
        }

        line++;
        while (text.Count(c => c == '"') % 2 == 1 && reader.ReadLine() is { } more)
        {
            line++;
            text += "\n" + more;
        }

        return text;
    }
}
