using System.Collections.Concurrent;

namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// IANA zones by id, looked up once: a zone named by a payload field would otherwise be resolved per reading.
/// Unknown ids are not cached, so payloads cannot grow the cache without bound.
/// </summary>
internal static class TimeZones
{
    private static readonly ConcurrentDictionary<string, TimeZoneInfo> Cache = new(StringComparer.Ordinal);

    public static TimeZoneInfo? Find(string id)
    {
        if (Cache.TryGetValue(id, out var zone))
        {
            return zone;
        }

        try
        {
            return Cache.GetOrAdd(id, TimeZoneInfo.FindSystemTimeZoneById(id));
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }
}
