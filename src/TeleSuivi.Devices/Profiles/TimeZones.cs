using System.Collections.Concurrent;

namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// IANA zones by id, looked up once: a zone named by a payload field would otherwise be resolved per reading.
/// Unknown ids are not cached, so payloads cannot grow the cache without bound. Configuration uses it too, so that a
/// wrong id is refused in one way everywhere.
/// </summary>
public static class TimeZones
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
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException or System.Security.SecurityException or UnauthorizedAccessException or IOException or ArgumentException)
        {
            // On Linux an id is a path under /usr/share/zoneinfo: "Europe" names a directory, which .NET reports as a
            // SecurityException (found by fuzzing a payload's zone field); none of these is a zone.
            return null;
        }
    }
}
