using Hl7.Fhir.Model;

namespace TeleSuivi.Server.Ingestion;

/// <summary>Observations made from one message, or the precise reason it goes to the dead-letter store.</summary>
public sealed record NormalizeOutcome(IReadOnlyList<Observation> Observations, string? Error)
{
    public static NormalizeOutcome Rejected(string reason) => new([], reason);
}

/// <summary>Turns one contract message into FHIR Observations: route by topic, decode, validate, attribute.</summary>
public sealed class MessageNormalizer
{
    public NormalizeOutcome Normalize(IngestMessage message)
    {
        if (!ContractTopic.TryParse(message.Topic, out var topic, out var error))
        {
            return NormalizeOutcome.Rejected(error!);
        }

        return topic!.Kind switch
        {
            TopicKind.Environment => NormalizeOutcome.Rejected($"no environment decoder is installed for zone '{topic.ZoneId}'"),
            TopicKind.Gatt => NormalizeOutcome.Rejected($"unknown GATT characteristic 0x{topic.Characteristic}"),
            _ => NormalizeOutcome.Rejected($"unknown manufacturer '{topic.Manufacturer}': no profile in ingest/{topic.Manufacturer}/"),
        };
    }
}
