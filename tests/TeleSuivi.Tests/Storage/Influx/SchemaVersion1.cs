using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Server.Storage.Influx;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>
/// The points releases before schema 2 wrote (SCHEMA.md, "Schema 1"): the Observation without what the tags and fields
/// hold, as JSON in the <c>fhir</c> field. Kept here, as those releases wrote it, so that tests can put such points in a
/// database through the raw client and prove the store still reads them.
/// </summary>
internal static class SchemaVersion1
{
    /// <summary>
    /// Creates <paramref name="database"/> and writes the schema-1 points of <paramref name="observations"/> through the
    /// raw client, with their id-index points when <paramref name="withIdIndex"/> (releases before the index had none).
    /// </summary>
    public static async System.Threading.Tasks.Task WriteDatabaseAsync(
        Uri influx, string database, IEnumerable<Observation> observations, bool withIdIndex, CancellationToken cancellationToken)
    {
        using var client = new InfluxClient(new InfluxClientOptions { BaseUri = influx });
        using (await client.ExecuteAsync(null, $"CREATE DATABASE {InfluxQl.QuoteIdentifier(database)}", null, cancellationToken))
        {
        }

        using var points = new LineProtocolWriter();
        foreach (var observation in observations)
        {
            Write(points, observation);
            if (withIdIndex)
            {
                ObservationIdIndex.Write(points, observation);
            }
        }

        await client.WriteAsync(database, points, cancellationToken);
    }

    public static void Write(LineProtocolWriter writer, Observation observation)
    {
        var id = observation.Id!;
        var milliseconds = ObservationKeys.EffectiveMilliseconds(observation);
        var template = ObservationPoint.Template(observation);
        if (ObservationPoint.IsPlain(template.IdElement))
        {
            template.IdElement = null;
        }

        var patient = observation.Subject?.Reference;
        if (ObservationPoint.IsPlainReference(template.Subject))
        {
            template.Subject = null;
        }

        var device = observation.Device?.Reference;
        if (ObservationPoint.IsPlainReference(template.Device))
        {
            template.Device = null;
        }

        if (template.Effective is FhirDateTime effective && ObservationPoint.IsPlain(effective)
            && string.Equals(effective.Value, ObservationPoint.CanonicalDateTime(milliseconds), StringComparison.Ordinal))
        {
            template.Effective = null;
        }

        double? value;
        string? unit = null;
        if (template.Value is Quantity quantity)
        {
            value = ObservationPoint.TakeValue(quantity);
            unit = string.IsNullOrEmpty(quantity.Code) ? quantity.Unit : quantity.Code;
        }
        else
        {
            value = ObservationKeys.ValueOf(template.Value);
        }

        writer.Measurement(ObservationPoint.Measurement)
            .Tag(ObservationPoint.CodeTag, ObservationKeys.CodeToken(observation))
            .Tag(ObservationPoint.DeviceTag, device)
            .Tag(ObservationPoint.PatientTag, patient);

        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var component in template.Component)
        {
            if (ObservationPoint.ComponentKey(component) is { } key && claimed.Add(key)
                && component.Value is Quantity componentQuantity && ObservationPoint.TakeValue(componentQuantity) is { } componentValue)
            {
                writer.Field(key, componentValue);
            }
        }

        if (value is { } number)
        {
            writer.Field(ObservationPoint.ValueField, number);
        }

        if (!string.IsNullOrEmpty(unit))
        {
            writer.Field(ObservationPoint.UnitField, unit);
        }

        writer.Field(ObservationPoint.IdField, id)
            .Field(ObservationPoint.FhirField, ObservationKeys.Serializer.SerializeToString(template))
            .End(ObservationPoint.Timestamp(milliseconds, id));
    }
}
