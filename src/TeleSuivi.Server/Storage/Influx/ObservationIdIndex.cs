using System.Globalization;
using Hl7.Fhir.Model;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// Finding an Observation by id without scanning the database: beside each point of <c>observation</c>, a small point
/// of <c>observation_id</c> at the very same time, tagged with one of 4,096 buckets drawn from the id, whose fields say
/// where the Observation is (patient, code, device). A read by id scans one bucket (1/4,096 of these small points),
/// then reads the one point of <c>observation</c> at that time in that series. See SCHEMA.md, "Read by id".
/// </summary>
internal static class ObservationIdIndex
{
    public const string Measurement = "observation_id";
    public const string BucketTag = "bucket";
    public const int Buckets = 4096;

    /// <summary>Appends the index point of an Observation whose <c>observation</c> point was just written.</summary>
    public static void Write(LineProtocolWriter writer, Observation observation)
    {
        var id = observation.Id!;
        var milliseconds = ObservationKeys.EffectiveMilliseconds(observation);
        writer.Measurement(Measurement).Tag(BucketTag, Bucket(id)).Field(ObservationPoint.IdField, id);
        if (observation.Subject?.Reference is { Length: > 0 } patient)
        {
            writer.Field(ObservationPoint.PatientTag, patient);
        }

        writer.Field(ObservationPoint.CodeTag, ObservationKeys.CodeToken(observation));
        if (observation.Device?.Reference is { Length: > 0 } device)
        {
            writer.Field(ObservationPoint.DeviceTag, device);
        }

        writer.End(ObservationPoint.Timestamp(milliseconds, id));
    }

    /// <summary>Appends an index point for an <c>observation</c> point read back (the backfill of points written before the index existed).</summary>
    public static void Write(LineProtocolWriter writer, string id, string? patient, string? code, string? device, long nanoseconds)
    {
        writer.Measurement(Measurement).Tag(BucketTag, Bucket(id)).Field(ObservationPoint.IdField, id);
        if (!string.IsNullOrEmpty(patient))
        {
            writer.Field(ObservationPoint.PatientTag, patient);
        }

        writer.Field(ObservationPoint.CodeTag, code ?? string.Empty);
        if (!string.IsNullOrEmpty(device))
        {
            writer.Field(ObservationPoint.DeviceTag, device);
        }

        writer.End(nanoseconds);
    }

    /// <summary>Three hex digits from bits 20 to 31 of the id's FNV-1a hash (the low bits already make the time offset).</summary>
    public static string Bucket(string id) =>
        ((ObservationPoint.Fnv1a(id) >> 20) % Buckets).ToString("x3", CultureInfo.InvariantCulture);
}
