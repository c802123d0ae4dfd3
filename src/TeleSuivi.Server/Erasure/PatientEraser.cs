using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;

namespace TeleSuivi.Server.Erasure;

/// <summary>What an erasure will touch, shown before it is confirmed.</summary>
public sealed record ErasurePlan(string PatientId, bool Registered, IReadOnlyList<string> Devices, IReadOnlyList<string> Codes);

/// <summary>What an erasure removed, store by store.</summary>
public sealed record ErasureReport(
    string PatientId,
    long Observations,
    long SpooledObservations,
    long SpooledMessages,
    long DeadLetters,
    int Alerts,
    int RiskAssessments,
    int ScoringWakeUps,
    bool PatientRecord,
    int Assignments,
    IReadOnlyList<string> DevicesUnassigned,
    IReadOnlyList<string> Unsearchable);

/// <summary>The patient is neither registered nor the subject of any stored Observation.</summary>
public sealed class UnknownPatientException(string message) : Exception(message);

/// <summary>
/// The right to erasure (GDPR art. 17): removes a patient's data from every store of a data folder. In this order,
/// so that an erasure cut short can simply be run again (the patient stays registered until the end):
/// the spool (nothing of theirs is replayed later), the observation store, the dead letters that concern them or
/// their devices, their pending scoring wake-up (several nodes: <see cref="ScaleOut.ScoringPartitions"/>), their
/// alerts (with the nurses' actions and the physician's thresholds), their risk assessments, and last the registry
/// (the patient, their assignments; their devices stay registered, unassigned).
/// Runs with the server of this data folder stopped (<see cref="Hosting.DataFolderLock"/>). With several nodes the
/// other workers keep running: from before the alerts go until the registry no longer holds the patient, no node can
/// raise an alert or save a risk assessment of theirs (<see cref="Workflow.ErasureLock"/>), and after, both find the
/// patient gone.
/// </summary>
public sealed partial class PatientEraser(
    IObservationStore store,
    DeadLetterStore deadLetters,
    ObservationSpool spool,
    DeviceRegistry registry,
    Alerts.AlertStore alerts,
    Risk.RiskAssessmentStore risks,
    Workflow.WorkflowDatabase workflowDatabase,
    IOptions<Workflow.WorkflowOptions> workflow,
    ILogger<PatientEraser> logger)
{
    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>A FHIR id (R4: up to 64 letters, digits, '-' and '.'), optionally written as <c>Patient/{id}</c>.</summary>
    public static string ParsePatientId(string text)
    {
        var id = text.Trim();
        if (id.StartsWith("Patient/", StringComparison.Ordinal))
        {
            id = id["Patient/".Length..];
        }

        return FhirId().IsMatch(id)
            ? id
            : throw new ArgumentException($"'{text}' is not a patient id: expected up to 64 letters, digits, '-' or '.' (a FHIR id), optionally as Patient/ID");
    }

    /// <summary>What the erasure of this patient would touch; throws <see cref="UnknownPatientException"/> for an unknown one.</summary>
    public async Task<ErasurePlan> PlanAsync(string patientId, CancellationToken cancellationToken)
    {
        var registered = registry.FindPatient(patientId) is not null;
        var codes = await store.ReadCodesAsync(Subject(patientId), cancellationToken);
        if (!registered && codes.Count == 0)
        {
            throw new UnknownPatientException(
                $"no patient '{patientId}': not registered, and no observation of Patient/{patientId} in {store.Display} (check the id, and that --store and --data are those of the server that holds the patient)");
        }

        return new ErasurePlan(patientId, registered, DevicesOf(patientId), codes);
    }

    public async Task<ErasureReport> EraseAsync(string patientId, string requestedBy, CancellationToken cancellationToken)
    {
        await PlanAsync(patientId, cancellationToken);
        var subject = Subject(patientId);

        var spooled = await spool.EraseSubjectAsync(subject, cancellationToken);
        var observations = await store.EraseSubjectAsync(subject, cancellationToken);
        var letters = await deadLetters.EraseAsync(await LettersOfAsync(patientId, cancellationToken), cancellationToken);
        var wakeUps = await ScaleOut.ScoringPartitions.ErasePatientAsync(workflow.Value, patientId, cancellationToken);
        await alerts.InitializeAsync(cancellationToken);
        await risks.InitializeAsync(cancellationToken);

        // Several nodes: from here until the registry no longer holds the patient, no node raises an alert or saves a
        // score of theirs (Workflow.ErasureLock); after, every node finds them gone.
        await using var erasureHeld = await Workflow.ErasureLock.HoldAsync(workflowDatabase, cancellationToken);
        var alertCount = await alerts.ErasePatientAsync(patientId, cancellationToken);
        var riskCount = await risks.ErasePatientAsync(patientId, cancellationToken);

        var unassigned = new List<RegisteredDevice>();
        foreach (var device in registry.Devices)
        {
            var resource = FhirJsonDeserializer.OSTRICH.Deserialize<Device>(device.Resource);
            if (resource.Patient?.Reference is { } owner && (owner == subject || owner.EndsWith("/" + subject, StringComparison.Ordinal)))
            {
                resource.Patient = null;
                unassigned.Add(new RegisteredDevice(device.Id, device.Aliases, Serializer.SerializeToString(resource)));
            }
        }

        var devices = DevicesOf(patientId);
        var patientRecord = registry.FindPatient(patientId) is not null;
        var assignments = await registry.ErasePatientAsync(patientId, unassigned, cancellationToken);
        await erasureHeld.DisposeAsync();
        var report = new ErasureReport(
            patientId, observations, spooled.Observations, spooled.Messages, letters, alertCount, riskCount, wakeUps, patientRecord, assignments, devices, spooled.Unsearchable);

        // The record of the erasure itself: who, when, what, counted; never what was erased.
        LogErased(patientId, requestedBy, DateTimeOffset.UtcNow, store.Display, observations, spooled.Observations, spooled.Messages, letters,
            wakeUps, patientRecord, assignments, devices.Count, spooled.Unsearchable.Count);
        return report;
    }

    /// <summary>The devices ever assigned to the patient (by <c>DeviceUseStatement</c> or <c>Device.patient</c>).</summary>
    private List<string> DevicesOf(string patientId) =>
        registry.AllAssignments.Where(a => a.PatientId == patientId).Select(a => a.DeviceId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The dead letters that concern the patient: those whose reason names them, and the messages of their devices
    /// (by id or alias in the topic) received while no other patient had the device: a device passed on to someone
    /// else keeps that person's letters.
    /// </summary>
    private async Task<List<long>> LettersOfAsync(string patientId, CancellationToken cancellationToken)
    {
        var subject = Subject(patientId);
        var assignments = registry.AllAssignments;
        var devices = assignments.Where(a => a.PatientId == patientId).Select(a => a.DeviceId).ToHashSet(StringComparer.Ordinal);
        var ids = new List<long>();
        for (long after = 0; ;)
        {
            var page = await deadLetters.ListAsync(new DeadLetterQuery { IncludeReplayed = true, AfterId = after, Limit = 1000 }, cancellationToken);
            if (page.Count == 0)
            {
                return ids;
            }

            foreach (var letter in page)
            {
                if (ConcernsPatient(letter, subject, devices, assignments, patientId))
                {
                    ids.Add(letter.Id);
                }
            }

            after = page[^1].Id;
        }
    }

    private bool ConcernsPatient(DeadLetter letter, string subject, HashSet<string> devices, IReadOnlyList<Assignment> assignments, string patientId)
    {
        if (letter.Reason.Contains(subject, StringComparison.Ordinal))
        {
            return true;
        }

        if (!ContractTopic.TryParse(letter.Topic, out var topic, out _) || topic is null || topic.Kind == TopicKind.Environment)
        {
            return false;
        }

        var device = registry.CanonicalDeviceId(topic.DeviceId) ?? topic.DeviceId;
        return devices.Contains(device)
            && !assignments.Any(a => a.DeviceId == device && a.PatientId != patientId && a.Covers(letter.ReceivedAt));
    }

    private static string Subject(string patientId) => "Patient/" + patientId;

    [GeneratedRegex(@"^[A-Za-z0-9\-\.]{1,64}$")]
    private static partial Regex FhirId();

    [LoggerMessage(Level = LogLevel.Warning, EventName = "PatientErased",
        Message = "Erased patient {PatientId} at the request of {RequestedBy} at {ErasedAt:O} (right to erasure): {Observations} observation(s) from {Store}, {SpooledObservations} spooled observation(s) in {SpooledMessages} message(s), {DeadLetters} dead letter(s), {WakeUps} pending scoring wake-up(s), patient record {PatientRecord}, {Assignments} assignment(s), {Devices} device(s) unassigned and kept; {Unsearchable} spool file(s) could not be searched entirely")]
    private partial void LogErased(string patientId, string requestedBy, DateTimeOffset erasedAt, string store, long observations, long spooledObservations, long spooledMessages,
        long deadLetters, int wakeUps, bool patientRecord, int assignments, int devices, int unsearchable);
}
