namespace TeleSuivi.Server.DeadLetters;

/// <summary>
/// Why a message was dead-lettered, as a short stable code (for counting, metrics and selective replay); the
/// dead letter also keeps the precise human-readable reason.
/// </summary>
public static class RejectionCodes
{
    /// <summary>The topic is outside the MQTT contract.</summary>
    public const string Topic = "topic";

    /// <summary>No profile in <c>ingest/</c> for the manufacturer of the topic.</summary>
    public const string UnknownManufacturer = "unknown-manufacturer";

    /// <summary>A GATT characteristic the platform does not decode.</summary>
    public const string UnknownCharacteristic = "unknown-characteristic";

    /// <summary>The payload cannot be decoded with the manufacturer's profile (syntax, missing field, unmapped code).</summary>
    public const string Unparseable = "unparseable";

    /// <summary>A physiologically impossible value, or a unit that cannot be converted.</summary>
    public const string Implausible = "implausible";

    /// <summary>Timestamp in the future or too old.</summary>
    public const string Clock = "clock";

    /// <summary>The device is not in the registry.</summary>
    public const string UnknownDevice = "unknown-device";

    /// <summary>The device is registered but was assigned to no patient at the reading's time.</summary>
    public const string UnassignedDevice = "unassigned-device";

    /// <summary>The store refused the data itself (e.g. a field type conflict): retrying would not help.</summary>
    public const string StoreRejected = "store-rejected";

    /// <summary>The payload is larger than Ingest:MaxPayloadBytes: not decoded, so that one message cannot exhaust memory.</summary>
    public const string TooLarge = "too-large";

    /// <summary>A decoder failed with an unexpected error: a bug of the platform, kept to replay once it is fixed.</summary>
    public const string DecoderFault = "decoder-fault";

    /// <summary>Codes that a registry import can cure: their letters are replayed when devices are registered.</summary>
    public static readonly IReadOnlySet<string> CuredByRegistration = new HashSet<string>(StringComparer.Ordinal) { UnknownDevice, UnassignedDevice };
}
