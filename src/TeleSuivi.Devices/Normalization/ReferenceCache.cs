namespace TeleSuivi.Devices.Normalization;

/// <summary>
/// The reference strings of the last device, patient and source seen on this thread: the readings of one message
/// share them, and a string is immutable, so Observations may share it too.
/// </summary>
internal static class ReferenceCache
{
    [ThreadStatic]
    private static string? device;
    [ThreadStatic]
    private static string? deviceReference;
    [ThreadStatic]
    private static string? patient;
    [ThreadStatic]
    private static string? patientReference;
    [ThreadStatic]
    private static string? source;
    [ThreadStatic]
    private static string? sourceUri;

    public static string Device(string id) => Prefixed(id, "Device/", ref device, ref deviceReference);

    public static string Patient(string id) => Prefixed(id, "Patient/", ref patient, ref patientReference);

    public static string Source(string name) => Prefixed(name, ObservationFactory.SourcePrefix, ref source, ref sourceUri);

    private static string Prefixed(string value, string prefix, ref string? lastValue, ref string? lastResult)
    {
        if (lastResult is not null && string.Equals(lastValue, value, StringComparison.Ordinal))
        {
            return lastResult;
        }

        var result = prefix + value;
        lastValue = value;
        lastResult = result;
        return result;
    }
}
