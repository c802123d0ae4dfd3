using Hl7.Fhir.Model;
using TeleSuivi.Server.DeadLetters;

namespace TeleSuivi.Server.Ingestion;

/// <summary>Observations made from one message, or the precise reason it goes to the dead-letter store.</summary>
public sealed record NormalizeOutcome(IReadOnlyList<Observation> Observations, string? ReasonCode, string? Reason)
{
    public bool Rejected => ReasonCode is not null;

    public static NormalizeOutcome Stored(IReadOnlyList<Observation> observations) => new(observations, null, null);

    public static NormalizeOutcome Reject(string code, string reason) => new([], code, reason);
}

/// <summary>Turns one contract message into FHIR Observations: route by topic, decode, validate, attribute.</summary>
public sealed class MessageNormalizer
{
    public NormalizeOutcome Normalize(IngestMessage message)
    {
        if (!ContractTopic.TryParse(message.Topic, out var topic, out var error))
        {
            return NormalizeOutcome.Reject(RejectionCodes.Topic, error!);
        }

        return topic!.Kind switch
        {
            TopicKind.Environment => NormalizeOutcome.Reject(RejectionCodes.Unparseable, $"no environment decoder is installed for zone '{topic.ZoneId}'"),
            TopicKind.Gatt => NormalizeOutcome.Reject(RejectionCodes.UnknownCharacteristic, $"unknown GATT characteristic 0x{topic.Characteristic}"),
            _ => NormalizeOutcome.Reject(RejectionCodes.UnknownManufacturer, $"unknown manufacturer '{topic.Manufacturer}': no profile in ingest/{topic.Manufacturer}/"),
        };
    }
}
