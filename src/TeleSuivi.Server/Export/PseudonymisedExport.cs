using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Export;

/// <summary>
/// Stable pseudonyms from a keyed hash: <c>HMAC-SHA256(key, kind + ":" + id)</c>, 16 bytes in hex. The same key
/// gives the same pseudonym in every export (a model can follow a patient over several exports); without the key
/// a pseudonym cannot be linked back to an id, even by hashing every possible id.
/// </summary>
public sealed class Pseudonymiser(byte[] key)
{
    public const int KeyLength = 32;

    public string Of(string kind, string id) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(kind + ":" + id)), 0, 16);

    /// <summary>The key in <paramref name="path"/>, created (32 random bytes, owner-only) when the file does not exist.</summary>
    public static Pseudonymiser FromKeyFile(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var file = new FileStream(path, options);
            file.Write(RandomNumberGenerator.GetBytes(KeyLength));
        }

        var key = File.ReadAllBytes(path);
        return key.Length >= KeyLength
            ? new Pseudonymiser(key)
            : throw new ConfigurationException($"pseudonym key {path} holds {key.Length} bytes: at least {KeyLength} are needed (delete it to make a new one, which changes every pseudonym)");
    }
}

/// <summary>What an export wrote.</summary>
public sealed record ExportReport(int Patients, long Readings, int Outcomes, long EnvironmentReadings = 0);

/// <summary>
/// The data a model is trained on, without direct identifiers (README, "Pseudonymised export"): patients.csv
/// (pseudonym, birth year, sex, zone, conditions, severity of the primary condition, exacerbations of the year before enrolment), readings.csv (pseudonym, device
/// pseudonym, time, code, component, value, unit), environment.csv (the readings of the patients' zones: zone, time,
/// code, value, unit) and outcomes.csv (the alerts nurses resolved: pseudonym, kind, subject, severity, opened,
/// closed, outcome). Names, addresses, telecom, identifiers, device serials and free text (notes, reasons) never leave.
/// </summary>
public sealed class PseudonymisedExport(DeviceRegistry registry, IObservationStore store, AlertStore alerts, Pseudonymiser pseudonyms)
{
    public const string PatientsFile = "patients.csv";
    public const string ReadingsFile = "readings.csv";
    public const string EnvironmentFile = "environment.csv";
    public const string OutcomesFile = "outcomes.csv";

    private const int PageSize = 5_000;
    private static readonly FhirJsonDeserializer Deserializer = new(new DeserializerSettings().UsingMode(DeserializationMode.Ostrich));

    public async Task<ExportReport> WriteAsync(string folder, DateTimeOffset from, DateTimeOffset through, IProgress<(int Done, int Total)>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var patients = registry.Patients.OrderBy(p => p.Id, StringComparer.Ordinal).ToList();
        long readings = 0;
        await using (var patientFile = Create(folder, PatientsFile, "patient,birth_year,sex,zone,conditions,severity,prior_year_exacerbations"))
        await using (var readingFile = Create(folder, ReadingsFile, "patient,device,time,code,component,value,unit"))
        {
            for (var i = 0; i < patients.Count; i++)
            {
                var registered = patients[i];
                var pseudonym = pseudonyms.Of("patient", registered.Id);
                await patientFile.WriteLineAsync(PatientRow(pseudonym, registered));
                readings += await WriteReadingsAsync(readingFile, $"Patient/{registered.Id}", ReadingPrefix(pseudonym), from, through, cancellationToken);
                progress?.Report((i + 1, patients.Count));
            }
        }

        // The zones' outdoor environment, which the model's environment features are computed from: a zone is already
        // in patients.csv, and its air and weather say nothing more about anyone.
        long environment = 0;
        await using (var environmentFile = Create(folder, EnvironmentFile, "zone,time,code,component,value,unit"))
        {
            foreach (var zone in patients.Select(p => p.Zone).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                environment += await WriteReadingsAsync(environmentFile, $"Location/{zone}", _ => Row(zone), from, through, cancellationToken);
            }
        }

        var outcomes = 0;
        await using (var outcomeFile = Create(folder, OutcomesFile, "patient,kind,subject,severity,opened,closed,outcome"))
        {
            await alerts.InitializeAsync(cancellationToken);
            foreach (var alert in await alerts.ListAsync(new AlertQuery { IncludeClosed = true, From = from }, cancellationToken))
            {
                if (alert.Outcome is null || alert.OpenedAt > through)
                {
                    continue;
                }

                await outcomeFile.WriteLineAsync(Row(pseudonyms.Of("patient", alert.PatientId), alert.Kind, alert.Subject,
                    alert.Severity.ToString().ToLowerInvariant(), Time(alert.OpenedAt), alert.ClosedAt is { } closed ? Time(closed) : string.Empty, alert.Outcome));
                outcomes++;
            }
        }

        return new ExportReport(patients.Count, readings, outcomes, environment);
    }

    private static string PatientRow(string pseudonym, RegisteredPatient registered)
    {
        Patient? patient = null;
        try
        {
            patient = Deserializer.Deserialize<Patient>(registered.Resource);
        }
        catch (DeserializationFailedException)
        {
            // A resource the registry accepted but that no longer reads: the row keeps what the registry itself knows.
        }

        // The year only: a full birth date is, with the zone, enough to single out many people.
        var birthYear = patient?.BirthDate is { Length: >= 4 } birthDate ? birthDate[..4] : string.Empty;
        var sex = patient?.Gender?.ToString().ToLowerInvariant() ?? string.Empty;
        var conditions = patient is null ? string.Empty : string.Join(' ', ClinicalConditions.Of(patient).Select(ClinicalConditions.SnomedCodeOf));
        var severity = patient is not null && PatientInfo.SeverityOf(patient) is { } grade ? grade.ToString(CultureInfo.InvariantCulture) : string.Empty;
        var priorYear = patient is not null && PatientInfo.PriorYearExacerbationsOf(patient) is { } prior ? prior.ToString(CultureInfo.InvariantCulture) : string.Empty;
        return Row(pseudonym, birthYear, sex, registered.Zone ?? string.Empty, conditions, severity, priorYear);
    }

    /// <summary>The columns a patient's reading starts with: the patient's and the device's pseudonyms.</summary>
    private Func<Observation, string> ReadingPrefix(string pseudonym) =>
        observation => Row(pseudonym, observation.Device?.Reference is { } reference ? pseudonyms.Of("device", reference.Split('/')[^1]) : string.Empty);

    private async Task<long> WriteReadingsAsync(StreamWriter file, string subject, Func<Observation, string> prefix, DateTimeOffset from, DateTimeOffset through, CancellationToken cancellationToken)
    {
        long count = 0;
        ObservationCursor? after = null;
        while (true)
        {
            var page = await store.SearchAsync(new ObservationSearch(subject, [], from, through, Descending: false, after, PageSize), cancellationToken);
            foreach (var match in page.Matches)
            {
                count += await WriteObservationAsync(file, prefix(match.Observation), match.Observation);
            }

            if (page.Matches.Count < PageSize)
            {
                return count;
            }

            after = page.Matches[^1].Cursor;
        }
    }

    private static async Task<int> WriteObservationAsync(StreamWriter file, string prefix, Observation observation)
    {
        var time = observation.Effective switch
        {
            FhirDateTime dateTime => dateTime.ToDateTimeOffset(TimeSpan.Zero),
            Period { StartElement: { } start } => start.ToDateTimeOffset(TimeSpan.Zero),
            _ => (DateTimeOffset?)null,
        };
        var coding = observation.Code.Coding.FirstOrDefault();
        if (time is null || coding is null)
        {
            return 0;
        }

        var code = $"{coding.System}|{coding.Code}";
        var rows = 0;
        if (ValueOf(observation.Value) is { } value)
        {
            await file.WriteLineAsync(prefix + "," + Row(Time(time.Value), code, string.Empty, value.Value, value.Unit));
            rows++;
        }

        foreach (var component in observation.Component)
        {
            if (ValueOf(component.Value) is { } part && component.Code.Coding.FirstOrDefault() is { } componentCoding)
            {
                await file.WriteLineAsync(prefix + "," + Row(Time(time.Value), code, $"{componentCoding.System}|{componentCoding.Code}", part.Value, part.Unit));
                rows++;
            }
        }

        return rows;
    }

    private static (string Value, string Unit)? ValueOf(DataType? value) => value switch
    {
        Quantity { Value: { } number } quantity => (number.ToString(CultureInfo.InvariantCulture), quantity.Code ?? quantity.Unit ?? string.Empty),
        FhirBoolean { Value: { } flag } => (flag ? "1" : "0", "1"),
        Integer { Value: { } whole } => (whole.ToString(CultureInfo.InvariantCulture), "1"),
        CodeableConcept concept when concept.Coding.FirstOrDefault() is { } coding => ($"{coding.System}|{coding.Code}", string.Empty),
        _ => null,
    };

    private static StreamWriter Create(string folder, string name, string header)
    {
        var writer = new StreamWriter(Path.Combine(folder, name), append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        writer.WriteLine(header);
        return writer;
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A CSV line (RFC 4180): fields with a comma, a quote or a line break are quoted.</summary>
    private static string Row(params string[] fields) =>
        string.Join(',', fields.Select(field => field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field));
}
