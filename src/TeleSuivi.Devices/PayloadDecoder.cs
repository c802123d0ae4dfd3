namespace TeleSuivi.Devices;

/// <summary>What a decoder knows about the message besides its bytes.</summary>
/// <param name="DeviceId">The device id from the MQTT topic.</param>
/// <param name="ReceivedAt">When the platform received the message; readings without a time of their own take it.</param>
public readonly record struct DecodeContext(string DeviceId, DateTimeOffset ReceivedAt);

/// <summary>
/// Turns one payload of one source (a manufacturer profile from <c>ingest/</c>, or a Bluetooth GATT characteristic)
/// into readings in the device's own units, or the precise reason it cannot. Implementations are stateless and
/// thread-safe: one instance serves every ingest worker.
/// </summary>
public interface IPayloadDecoder
{
    /// <summary>The source this decoder reads, e.g. "withings" or "gatt/2a35"; it prefixes every error message.</summary>
    string Name { get; }

    DecodeOutcome Decode(ReadOnlyMemory<byte> payload, DecodeContext context);
}
