using Hl7.Fhir.Model;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.Storage.Influx;
using TeleSuivi.Tests.Devices.Profiles;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>
/// The <c>fhir</c> field written from cached fragments must be byte for byte the field the serializer writes, for the
/// Observations of every manufacturer example (ingest/), so that points read back exactly as before.
/// </summary>
public sealed class TemplateJsonCacheTests
{
    [Fact]
    public void WriteField_EveryExampleReadingAfterAnotherOfTheSameShape_WrittenFromTheCacheExactlyAsSerialised()
    {
        var readings = 0;
        var hits = 0L;
        foreach (var example in IngestExamples.Payloads().Where(p => !IngestExamples.IsInvalid(p)))
        {
            foreach (var observation in IngestExamples.Run(example).Observations)
            {
                var next = NextReadingOf(observation);
                var serialised = Line(next, new TemplateJsonCache());

                var warm = new TemplateJsonCache();
                Line(observation, warm);
                var cached = Line(next, warm);

                Assert.Equal(serialised, cached);
                readings++;
                hits += warm.Hits;
            }
        }

        // A few examples change shape from one reading to the next (a value JSON must keep, "72.50", stays in the
        // template): those are serialised, the rest come from the cache.
        Assert.True(readings > 50, $"{readings} example readings");
        Assert.True(hits >= readings * 9 / 10, $"{hits} of {readings} readings written from the cache");
    }

    [Fact]
    public void WriteField_TemplateDiffersBeyondTimeAndIdentifier_SerialisedAgainNotTakenFromTheCache()
    {
        var observation = IngestExamples.Run("withings/examples/bp-batch.json").Observations[0];
        var annotated = NextReadingOf(observation);
        annotated.Note = [new Annotation { Text = new Markdown("device status: battery-low") }];
        var cache = new TemplateJsonCache();

        Line(observation, cache);
        var written = Line(annotated, cache);

        Assert.Equal(0, cache.Hits);
        Assert.Contains("battery-low", written, StringComparison.Ordinal);
        Assert.Equal(Line(annotated, new TemplateJsonCache()), written);
    }

    /// <summary>The same device's next reading: another id, time, received time, identifier and value.</summary>
    private static Observation NextReadingOf(Observation observation)
    {
        var next = (Observation)observation.DeepCopy();
        next.Id += "1";
        next.IssuedElement = new Instant(observation.Issued!.Value.AddSeconds(61.234));
        next.Identifier[0].Value += "7";
        if (next.Effective is FhirDateTime effective)
        {
            // As the factory writes it ("…Z"), which the point's time does not rebuild: kept in the template.
            next.Effective = new FhirDateTime(ObservationFactory.FormatInstant(effective.ToDateTimeOffset(TimeSpan.Zero).AddMinutes(5)));
        }

        if (next.Value is Quantity { Value: { } value } quantity)
        {
            quantity.Value = value + 1;
        }

        return next;
    }

    private static string Line(Observation observation, TemplateJsonCache cache)
    {
        using var writer = new LineProtocolWriter();
        ObservationPoint.Write(writer, observation, cache);
        return writer.ToString();
    }
}
