using Hl7.Fhir.Model;
using Microsoft.Extensions.Options;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Ingestion;

/// <summary>Observations made from one message, or the precise reason it goes to the dead-letter store.</summary>
/// <param name="ReasonFr">
/// The reason in French when a nurse may read it: the rejections that raise device alerts (a wrong clock, invalid or
/// unreadable readings of a patient's device). The technical detail of an unreadable payload stays in English.
/// </param>
public sealed record NormalizeOutcome(IReadOnlyList<Observation> Observations, string? ReasonCode, string? Reason, string? ReasonFr = null)
{
    public bool Rejected => ReasonCode is not null;

    public static NormalizeOutcome Stored(IReadOnlyList<Observation> observations) => new(observations, null, null);

    public static NormalizeOutcome Reject(string code, string reason, string? reasonFr = null) => new([], code, reason, reasonFr);

    /// <summary>A payload its decoder cannot read (<c>unparseable</c>): the decoder's technical error, said so in French too.</summary>
    public static NormalizeOutcome Unreadable(string error) => new([], RejectionCodes.Unparseable, error, $"message illisible : {error}");
}

/// <summary>
/// Turns one contract message into FHIR Observations: route by topic, decode with the manufacturer's profile or
/// the GATT characteristic, attribute each reading to the patient its device was assigned to at the reading's
/// time, then code, convert and validate.
/// </summary>
/// <remarks>
/// A message with several readings is all-or-explained: its valid readings are stored, and if any reading is
/// rejected the whole message is also dead-lettered with every reason. Replaying it later re-stores the valid
/// readings under the same deterministic ids, which is harmless.
/// </remarks>
public sealed class MessageNormalizer
{
    private readonly ProfileRegistry profiles;
    private readonly DeviceRegistry registry;
    private readonly EnvironmentDecoder environment;
    private readonly ObservationFactory factory;
    private readonly TimeZoneInfo gattZone;
    private readonly int maxPayloadBytes;

    public MessageNormalizer(IOptions<IngestOptions> options, DeviceRegistry registry, EnvironmentDecoder environment)
    {
        var settings = options.Value;
        var directory = settings.ResolveProfilesDirectory();
        try
        {
            profiles = ProfileRegistry.Load(directory);
        }
        catch (ProfileException ex)
        {
            throw new ConfigurationException($"cannot load the manufacturer profiles from {directory}: {ex.Message}", ex);
        }

        gattZone = TimeZones.Find(settings.GattTimeZone)
            ?? throw new ConfigurationException($"Ingest:GattTimeZone '{settings.GattTimeZone}' is not a known time zone (an IANA id such as Europe/Paris)");

        this.registry = registry;
        this.environment = environment;
        maxPayloadBytes = settings.MaxPayloadBytes;
        factory = new ObservationFactory(new ObservationFactoryOptions { MaxFutureSkew = settings.MaxFutureSkew, MaxAge = settings.MaxAge });
    }

    public IReadOnlyList<string> Manufacturers => profiles.Manufacturers;

    public NormalizeOutcome Normalize(IngestMessage message)
    {
        if (!ContractTopic.TryParse(message.Topic, out var topic, out var error))
        {
            return NormalizeOutcome.Reject(RejectionCodes.Topic, error!);
        }

        if (message.Payload.Length > maxPayloadBytes)
        {
            return NormalizeOutcome.Reject(RejectionCodes.TooLarge, $"the payload is {message.Payload.Length:N0} bytes, more than Ingest:MaxPayloadBytes ({maxPayloadBytes:N0}): not decoded");
        }

        if (topic!.Kind == TopicKind.Environment)
        {
            return environment.Normalize(topic.ZoneId!, message.Payload, message.ReceivedAt);
        }

        DecodeOutcome decoded;
        string source;
        if (topic.Kind == TopicKind.Gatt)
        {
            source = $"gatt/{topic.Characteristic}";
            decoded = GattDecoder.Decode(topic.Characteristic!, message.Payload, gattZone);
            if (!decoded.Succeeded)
            {
                return decoded.Error!.StartsWith("unsupported GATT characteristic", StringComparison.Ordinal)
                    ? NormalizeOutcome.Reject(RejectionCodes.UnknownCharacteristic, decoded.Error)
                    : NormalizeOutcome.Unreadable(decoded.Error);
            }
        }
        else
        {
            source = topic.Manufacturer;
            if (!profiles.TryGet(topic.Manufacturer, out var decoder))
            {
                return NormalizeOutcome.Reject(RejectionCodes.UnknownManufacturer, $"unknown manufacturer '{topic.Manufacturer}': no profile in ingest/{topic.Manufacturer}/");
            }

            decoded = decoder.Decode(message.Payload, new DecodeContext(topic.DeviceId, message.ReceivedAt));
            if (!decoded.Succeeded)
            {
                return NormalizeOutcome.Unreadable(decoded.Error!);
            }
        }

        if (decoded.Readings.Count == 0)
        {
            return NormalizeOutcome.Reject(RejectionCodes.Unparseable, $"{source}: the payload holds no reading", $"{source} : le message ne contient aucune mesure");
        }

        var deviceId = registry.CanonicalDeviceId(topic.DeviceId);
        if (deviceId is null)
        {
            return NormalizeOutcome.Reject(RejectionCodes.UnknownDevice, $"device '{topic.DeviceId}' is not registered (import its Device with POST /fhir or telesuivi import)");
        }

        var observations = new List<Observation>(decoded.Readings.Count);
        List<(string Code, string Reason, string? ReasonFr)>? rejections = null;
        foreach (var reading in decoded.Readings)
        {
            var time = reading.Time ?? message.ReceivedAt;
            var patient = registry.ResolvePatient(deviceId, time);
            if (patient is null)
            {
                // A clock reset to 2000 is the reading's real fault: said so, rather than "no patient assigned in 2000".
                if (factory.CheckClock(reading.Measure, time, message.ReceivedAt) is { } clockError)
                {
                    (rejections ??= []).Add((RejectionCodes.Clock, clockError.En, clockError.Fr));
                    continue;
                }

                (rejections ??= []).Add((RejectionCodes.UnassignedDevice, $"device '{deviceId}' was assigned to no patient at {time.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}", null));
                continue;
            }

            var outcome = factory.Create(reading, new ObservationContext(deviceId, patient, message.ReceivedAt, source));
            if (outcome.Observation is { } observation)
            {
                observations.Add(observation);
            }
            else
            {
                (rejections ??= []).Add((outcome.Kind == RejectionKind.Clock ? RejectionCodes.Clock : RejectionCodes.Implausible, outcome.Error!, outcome.ErrorFr));
            }
        }

        if (rejections is null)
        {
            return NormalizeOutcome.Stored(observations);
        }

        var reason = rejections.Count == 1
            ? rejections[0].Reason
            : $"{rejections.Count} of {decoded.Readings.Count} readings rejected: {string.Join("; ", rejections.Select(r => r.Reason))}";
        var reasonFr = rejections.Count == 1
            ? rejections[0].ReasonFr
            : $"{rejections.Count} mesures sur {decoded.Readings.Count} rejetées : {string.Join(" ; ", rejections.Select(r => r.ReasonFr ?? r.Reason))}";
        return new NormalizeOutcome(observations, rejections[0].Code, reason, reasonFr);
    }
}
