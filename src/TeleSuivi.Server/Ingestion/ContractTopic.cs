namespace TeleSuivi.Server.Ingestion;

public enum TopicKind
{
    Device,
    Gatt,
    Environment,
}

/// <summary>
/// A topic of the MQTT contract, parsed: <c>telesuivi/v1/devices/{manufacturer}/{deviceId}</c>,
/// <c>telesuivi/v1/devices/gatt/{deviceId}/{uuid16}</c> or <c>telesuivi/v1/environment/{zoneId}</c>.
/// </summary>
public sealed record ContractTopic(TopicKind Kind, string Manufacturer, string DeviceId, string? Characteristic, string? ZoneId)
{
    private const string Prefix = "telesuivi/v1/";

    public static bool TryParse(string topic, out ContractTopic? parsed, out string? error)
    {
        parsed = null;
        error = null;
        if (!topic.StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = $"topic '{topic}' is outside the contract (expected telesuivi/v1/...)";
            return false;
        }

        var parts = topic[Prefix.Length..].Split('/');
        switch (parts)
        {
            case ["devices", "gatt", var device, var uuid] when device.Length > 0 && uuid.Length > 0:
                parsed = new ContractTopic(TopicKind.Gatt, "gatt", device, uuid.ToLowerInvariant(), null);
                return true;
            case ["devices", var manufacturer, var device] when manufacturer.Length > 0 && device.Length > 0 && manufacturer != "gatt":
                parsed = new ContractTopic(TopicKind.Device, manufacturer.ToLowerInvariant(), device, null, null);
                return true;
            case ["environment", var zone] when zone.Length > 0:
                parsed = new ContractTopic(TopicKind.Environment, string.Empty, string.Empty, null, zone);
                return true;
            default:
                error = $"topic '{topic}' does not match telesuivi/v1/devices/{{manufacturer}}/{{deviceId}}, " +
                        "telesuivi/v1/devices/gatt/{deviceId}/{uuid16} or telesuivi/v1/environment/{zoneId}";
                return false;
        }
    }
}
