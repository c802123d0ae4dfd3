using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace TeleSuivi.Tests.Storage;

/// <summary>Observations shaped as the ingestion makes them (LOINC + MDC codes, UCUM units, deterministic ids), and odd ones.</summary>
public static class SampleObservations
{
    public const string Loinc = "http://loinc.org";
    public const string Mdc = "urn:iso:std:iso:11073:10101";
    public const string Ucum = "http://unitsofmeasure.org";
    public const string Snomed = "http://snomed.info/sct";
    public const string HeartRateCode = Loinc + "|8867-4";
    public const string BloodPressureCode = Loinc + "|85354-9";
    public const string BodyWeightCode = Loinc + "|29463-7";

    public static readonly DateTimeOffset Morning = new(2026, 1, 15, 8, 0, 0, 123, TimeSpan.Zero);

    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>The FHIR JSON of a resource: equal texts mean the very same Observation.</summary>
    public static string Json(Base resource) => Serializer.SerializeToString(resource);

    public static Observation HeartRate(string patient, DateTimeOffset time, decimal beatsPerMinute, string device = "Device/oximeter-1") =>
        Quantity(patient, device, time, "8867-4", "Heart rate", "149546", "MDC_PULS_RATE_NON_INV", beatsPerMinute, "beats/minute", "/min");

    public static Observation BodyWeight(string patient, DateTimeOffset time, decimal kilograms, string device = "Device/scale-1") =>
        Quantity(patient, device, time, "29463-7", "Body weight", "188736", "MDC_MASS_BODY_ACTUAL", kilograms, "kg", "kg");

    public static Observation BloodPressure(string patient, DateTimeOffset time, decimal systolic, decimal diastolic, decimal mean, string device = "Device/bp-1")
    {
        var observation = Base(patient, device, time, "85354-9", "Blood pressure panel with all children optional", "150020", "MDC_PRESS_BLD_NONINV");
        observation.Code.Text = "Blood pressure";
        observation.BodySite = new CodeableConcept(Snomed, "368209003", "Right upper arm structure");
        observation.Method = new CodeableConcept(Snomed, "37931006", "Auscultation");
        observation.Component.Add(Component("8480-6", "Systolic blood pressure", "150021", "MDC_PRESS_BLD_NONINV_SYS", systolic));
        observation.Component.Add(Component("8462-4", "Diastolic blood pressure", "150022", "MDC_PRESS_BLD_NONINV_DIA", diastolic));
        observation.Component.Add(Component("8478-0", "Mean blood pressure", "150023", "MDC_PRESS_BLD_NONINV_MEAN", mean));
        return observation;
    }

    private static Observation Quantity(
        string patient, string device, DateTimeOffset time, string loinc, string display, string mdc, string mdcDisplay, decimal value, string unit, string ucum)
    {
        var observation = Base(patient, device, time, loinc, display, mdc, mdcDisplay);
        observation.Value = new Quantity { Value = value, Unit = unit, System = Ucum, Code = ucum };
        return observation;
    }

    private static Observation Base(string patient, string device, DateTimeOffset time, string loinc, string display, string mdc, string mdcDisplay)
    {
        var stamp = time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var deviceId = device[(device.IndexOf('/', StringComparison.Ordinal) + 1)..];
        return new Observation
        {
            Id = $"obs-{deviceId}-{loinc}-{stamp}",
            Identifier = { new Identifier("urn:telesuivi:reading", $"{deviceId}/{loinc}/{stamp}") },
            Status = ObservationStatus.Final,
            Category = { new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs") },
            Code = new CodeableConcept
            {
                Coding =
                {
                    new Coding(Loinc, loinc, display),
                    new Coding(Mdc, mdc, mdcDisplay),
                },
            },
            Subject = new ResourceReference(patient),
            Effective = new FhirDateTime(time.ToUniversalTime()),
            Device = new ResourceReference(device),
        };
    }

    private static Observation.ComponentComponent Component(string loinc, string display, string mdc, string mdcDisplay, decimal value) => new()
    {
        Code = new CodeableConcept { Coding = { new Coding(Loinc, loinc, display), new Coding(Mdc, mdc, mdcDisplay) } },
        Value = new Quantity { Value = value, Unit = "mmHg", System = Ucum, Code = "mm[Hg]" },
    };
}
