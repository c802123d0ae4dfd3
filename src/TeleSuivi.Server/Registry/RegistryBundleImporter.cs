using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Server.Registry;

/// <summary>An import refused as a whole, with one message per problem (a transaction applies all or nothing).</summary>
public sealed class RegistryImportException(IReadOnlyList<string> problems)
    : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>What an import did, entry by entry, in the order of the Bundle.</summary>
public sealed record RegistryImportResult(IReadOnlyList<(string ResourceType, string Id)> Entries, int Patients, int Devices, int Assignments);

/// <summary>
/// Imports patients, devices and assignments from a FHIR R4 transaction (or batch/collection) Bundle:
/// <c>Patient</c>; <c>Device</c> (with <c>Device.patient</c>: assigned from then on); <c>DeviceUseStatement</c>
/// (<c>device</c>, <c>subject</c>, <c>timingPeriod</c>: assigned for that period).
/// </summary>
public sealed class RegistryBundleImporter(DeviceRegistry registry, TimeProvider time)
{
    /// <summary>Extension on Patient that sets the environment zone when it is not the postal code.</summary>
    public const string ZoneExtensionUrl = "https://telesuivi.org/fhir/StructureDefinition/zone";

    private static readonly FhirJsonDeserializer Deserializer = new(new DeserializerSettings().UsingMode(DeserializationMode.Strict));
    private static readonly FhirJsonSerializer Serializer = new();

    public static Bundle Parse(string json)
    {
        try
        {
            RefuseEmptyPropertyNames(json);
            return Deserializer.Deserialize<Bundle>(json);
        }
        catch (DeserializationFailedException ex)
        {
            throw new RegistryImportException(ex.Exceptions.Select(e => e.Message).Take(20).ToList());
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new RegistryImportException([$"not valid JSON: {ex.Message}"]);
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or ArgumentException or InvalidCastException or FormatException or OverflowException or NullReferenceException)
        {
            // The Firely parser has failed on client input with its own exception before (an empty property name gave
            // IndexOutOfRangeException): whatever it chokes on is a Bundle it cannot read, the client's to fix, not a 500.
            throw new RegistryImportException([$"the FHIR R4 JSON parser could not read this Bundle ({ex.GetType().Name}: {ex.Message}); check it against the FHIR R4 JSON format"]);
        }
    }

    /// <summary>
    /// FHIR JSON has no unnamed elements, and Firely's parser crashes on one (<c>"": …</c>) instead of reporting it: refused
    /// here first, with its line, as any other malformed Bundle.
    /// </summary>
    private static void RefuseEmptyPropertyNames(string json)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(json);
        var reader = new System.Text.Json.Utf8JsonReader(utf8, new System.Text.Json.JsonReaderOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Disallow });
        while (reader.Read())
        {
            if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.ValueSpan.IsEmpty)
            {
                var line = 1 + utf8.AsSpan(0, (int)reader.TokenStartIndex).Count((byte)'\n');
                throw new RegistryImportException([$"line {line}: a property with an empty name (\"\"); every element of FHIR JSON is named"]);
            }
        }
    }

    public System.Threading.Tasks.Task<RegistryImportResult> ImportAsync(string json, CancellationToken cancellationToken) =>
        ImportAsync(Parse(json), cancellationToken);

    public async System.Threading.Tasks.Task<RegistryImportResult> ImportAsync(Bundle bundle, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        if (bundle.Type is not (Bundle.BundleType.Transaction or Bundle.BundleType.Batch or Bundle.BundleType.Collection))
        {
            problems.Add($"Bundle.type is '{bundle.Type?.ToString() ?? "missing"}': expected transaction, batch or collection");
        }

        // Entries without an id get one now; references to their fullUrl (urn:uuid:...) are rewritten to it.
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<(Resource Resource, string Id)>();
        for (var index = 0; index < bundle.Entry.Count; index++)
        {
            var entry = bundle.Entry[index];
            if (entry.Resource is not (Patient or Device or DeviceUseStatement))
            {
                problems.Add($"entry[{index}]: {entry.Resource?.TypeName ?? "no resource"} is not accepted (Patient, Device, DeviceUseStatement)");
                continue;
            }

            var id = entry.Resource.Id ?? IdFromRequestUrl(entry.Request?.Url, entry.Resource.TypeName) ?? Guid.NewGuid().ToString("N");
            if (!Hl7.Fhir.Model.Id.IsValidValue(id))
            {
                problems.Add($"entry[{index}]: '{id}' is not a valid FHIR id");
                continue;
            }

            entry.Resource.Id = id;
            if (entry.FullUrl is { Length: > 0 } fullUrl)
            {
                ids[fullUrl] = $"{entry.Resource.TypeName}/{id}";
            }

            entries.Add((entry.Resource, id));
        }

        var known = entries.Select(e => $"{e.Resource.TypeName}/{e.Id}").ToHashSet(StringComparer.Ordinal);
        string? Resolve(ResourceReference? reference, string expectedType, string where)
        {
            if (reference?.Reference is not { Length: > 0 } text)
            {
                return null;
            }

            var target = ids.GetValueOrDefault(text, text);
            var parts = target.Split('/');
            if (parts.Length < 2 || parts[^2] != expectedType)
            {
                problems.Add($"{where}: reference '{text}' is not a {expectedType}");
                return null;
            }

            var id = parts[^1];
            if (!known.Contains($"{expectedType}/{id}") && !(expectedType == "Patient" ? registry.FindPatient(id) is not null : registry.FindDevice(id) is not null))
            {
                problems.Add($"{where}: {expectedType}/{id} is neither in this Bundle nor registered");
                return null;
            }

            return id;
        }

        var patients = new List<RegisteredPatient>();
        var devices = new List<RegisteredDevice>();
        var assignments = new List<Assignment>();
        foreach (var (resource, id) in entries)
        {
            switch (resource)
            {
                case Patient patient:
                    RiskFactProblems(patient, $"Patient/{id}", problems);
                    patients.Add(new RegisteredPatient(id, ZoneOf(patient), Serializer.SerializeToString(patient)) { Teams = TeamsOf(patient, $"Patient/{id}", problems) });
                    break;
                case Device device:
                    var aliases = device.Identifier.Select(i => i.Value).Append(device.SerialNumber)
                        .Where(value => !string.IsNullOrWhiteSpace(value) && value != id).Distinct(StringComparer.Ordinal).ToList();
                    devices.Add(new RegisteredDevice(id, aliases!, Serializer.SerializeToString(device)));
                    if (Resolve(device.Patient, "Patient", $"Device/{id}.patient") is { } owner)
                    {
                        assignments.Add(new Assignment(id, owner, DateTimeOffset.UnixEpoch, null, "Device.patient"));
                    }

                    break;
                case DeviceUseStatement use when use.Status != DeviceUseStatement.DeviceUseStatementStatus.EnteredInError:
                    var where = $"DeviceUseStatement/{id}";
                    var deviceId = Resolve(use.Device, "Device", $"{where}.device");
                    var patientId = Resolve(use.Subject, "Patient", $"{where}.subject");
                    if (deviceId is null || patientId is null)
                    {
                        if (use.Device?.Reference is null || use.Subject?.Reference is null)
                        {
                            problems.Add($"{where}: device and subject are required");
                        }

                        break;
                    }

                    var (start, end, error) = PeriodOf(use);
                    if (error is not null)
                    {
                        problems.Add($"{where}: {error}");
                        break;
                    }

                    assignments.Add(new Assignment(deviceId, patientId, start, end, where));
                    break;
            }
        }

        if (problems.Count > 0)
        {
            throw new RegistryImportException(problems);
        }

        await registry.ApplyAsync(new RegistryChanges(patients, devices, assignments), cancellationToken);
        return new RegistryImportResult(entries.Select(e => (e.Resource.TypeName, e.Id)).ToList(), patients.Count, devices.Count, assignments.Count);
    }

    private (DateTimeOffset Start, DateTimeOffset? End, string? Error) PeriodOf(DeviceUseStatement use)
    {
        switch (use.Timing)
        {
            case Period period:
                if (period.StartElement is null || !period.StartElement.TryToDateTimeOffset(out var start))
                {
                    return (default, null, "timingPeriod.start is required (when the device was given to the patient)");
                }

                DateTimeOffset? end = null;
                if (period.EndElement is not null)
                {
                    if (!period.EndElement.TryToDateTimeOffset(out var value))
                    {
                        return (default, null, $"timingPeriod.end '{period.End}' is not a date-time");
                    }

                    end = value;
                }

                return end <= start ? (default, null, "timingPeriod.end is before its start") : (start, end, null);
            case FhirDateTime dateTime when dateTime.TryToDateTimeOffset(out var from):
                return (from, null, null);
            case null:
                return (use.RecordedOnElement?.TryToDateTimeOffset(out var recorded) == true ? recorded : time.GetUtcNow(), null, null);
            default:
                return (default, null, $"timing[x] of type {use.Timing.TypeName} is not supported: use timingPeriod");
        }
    }

    /// <summary>
    /// The care teams of a patient: each <c>generalPractitioner</c> that references an <c>Organization</c> (the team;
    /// the Organization itself need not be sent). Practitioner references are kept in the resource but give no access.
    /// </summary>
    private static List<string> TeamsOf(Patient patient, string where, List<string> problems)
    {
        var teams = new List<string>();
        foreach (var reference in patient.GeneralPractitioner)
        {
            var parts = (reference.Reference ?? string.Empty).Split('/');
            if (parts.Length < 2 || parts[^2] != "Organization")
            {
                continue;
            }

            if (!Hl7.Fhir.Model.Id.IsValidValue(parts[^1]))
            {
                problems.Add($"{where}.generalPractitioner: '{reference.Reference}' does not end with a valid Organization id");
                continue;
            }

            teams.Add(parts[^1]);
        }

        return teams.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The risk model's facts on a Patient (<see cref="Alerts.PatientInfo"/>) must be whole numbers in their range: a
    /// severity of 7 or a history of "three" would otherwise be dropped without a word and scored as unrecorded.
    /// </summary>
    private static void RiskFactProblems(Patient patient, string where, List<string> problems)
    {
        void Check(string url, int min, int max, string meaning)
        {
            foreach (var extension in patient.Extension.Where(e => e.Url == url))
            {
                if (extension.Value is not Integer { Value: int value } || value < min || value > max)
                {
                    problems.Add($"{where}: extension {url} must be a valueInteger from {min} to {max} ({meaning}), not {extension.Value?.TypeName ?? "empty"} '{extension.Value}'");
                }
            }
        }

        Check(Alerts.PatientInfo.SeverityExtensionUrl, Alerts.PatientInfo.MinSeverity, Alerts.PatientInfo.MaxSeverity, "GOLD grade for COPD, NYHA class for heart failure");
        Check(Alerts.PatientInfo.PriorYearExacerbationsExtensionUrl, 0, Alerts.PatientInfo.MaxPriorYearExacerbations, "exacerbations in the 12 months before enrolment");
    }

    private static string? ZoneOf(Patient patient)
    {
        if (patient.GetExtensionValue<FhirString>(ZoneExtensionUrl)?.Value is { Length: > 0 } zone)
        {
            return zone;
        }

        var address = patient.Address.FirstOrDefault(a => a.Use == Address.AddressUse.Home) ?? patient.Address.FirstOrDefault();
        return string.IsNullOrWhiteSpace(address?.PostalCode) ? null : address.PostalCode.Trim();
    }

    private static string? IdFromRequestUrl(string? url, string resourceType)
    {
        if (url is null)
        {
            return null;
        }

        var parts = url.Split('?')[0].Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2 && parts[0] == resourceType ? parts[1] : null;
    }
}
