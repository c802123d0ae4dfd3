using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Tests.Devices.Normalization;

public sealed class NormalisedObservationTests
{
    private static readonly DateTimeOffset Received = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Measured = new(2026, 1, 15, 9, 30, 0, 250, TimeSpan.FromHours(1));
    private static readonly ObservationContext Context = new("dev-1", "pat-1", Received, "gatt/2a35");
    private readonly ObservationFactory factory = new(new ObservationFactoryOptions { MaxFutureSkew = TimeSpan.FromMinutes(5), MaxAge = TimeSpan.FromDays(30) });

    [Fact]
    public void Normalise_BloodPressureInKilopascal_HoldsCanonicalComponentsTimesAndReferences()
    {
        var reading = new DecodedReading("blood-pressure", Measured,
            [new DecodedValue("systolic-pressure", 16.0, "kPa"), new DecodedValue("diastolic-pressure", 10.7, "kPa")])
        {
            Qualifiers = new Dictionary<string, string> { [QualifierKeys.DeviceStatus] = "irregular-pulse", [QualifierKeys.BatteryPercent] = "15" },
        };

        var value = factory.Normalise(reading, Context).Value!;

        Assert.Equal("blood-pressure", value.Definition.Key);
        Assert.Equal("85354-9", value.Code.Code);
        Assert.Equal(new DateTimeOffset(2026, 1, 15, 8, 30, 0, 250, TimeSpan.Zero), value.Effective);
        Assert.Equal(Received, value.Issued);
        Assert.True(value.TryGetComponent("systolic-pressure", out var systolic));
        Assert.Equal(120m, systolic);
        Assert.True(value.TryGetComponent("diastolic-pressure", out var diastolic));
        Assert.Equal(80.3m, diastolic);
        Assert.False(value.TryGetComponent("mean-arterial-pressure", out _));
        Assert.False(value.TryGetComponent("heart-rate", out _));
        Assert.Throws<InvalidOperationException>(() => value.Value);
        Assert.Equal(("dev-1", "pat-1", "gatt/2a35"), (value.DeviceId, value.PatientId, value.Source));
        Assert.Equal("irregular-pulse,battery-low", value.DeviceStatus);
        Assert.Equal("dev-1|85354-9|2026-01-15T08:30:00.250Z", value.NaturalKey);
    }

    [Fact]
    public void FhirId_AnyReading_IsTheFirst128BitsOfTheSha256OfTheNaturalKey()
    {
        var value = factory.Normalise(DecodedReading.OfValue("heart-rate", Measured, 72, "/min"), Context).Value!;

        var sha256 = SHA256.HashData(Encoding.UTF8.GetBytes("dev-1|8867-4|2026-01-15T08:30:00.250Z"));
        Assert.Equal(Convert.ToHexStringLower(sha256.AsSpan(0, 16)), value.FhirId);
        Assert.Equal(BinaryPrimitives.ReadUInt128BigEndian(sha256), value.Id);
        Assert.Equal(ObservationFactory.IdOf(value.NaturalKey), value.FhirId);
    }

    [Theory]
    [InlineData("dev-1")]
    [InlineData("capteur-salle-de-bain-é-ü-漢字-🩺")]
    [InlineData("a-device-id-longer-than-the-stack-buffer-")]
    public void Normalise_AnyDeviceId_HashesTheSameKeyAsIdOf(string deviceId)
    {
        // Long enough for the key to leave the stack buffer and take the pooled-array path.
        var device = deviceId.EndsWith('-') ? string.Concat(Enumerable.Repeat(deviceId, 20)) : deviceId;
        foreach (var milliseconds in new[] { 0, 1, 999 })
        {
            var measured = new DateTimeOffset(2026, 1, 15, 8, 30, 59, milliseconds, TimeSpan.Zero);
            var value = factory.Normalise(DecodedReading.OfValue("body-weight", measured, 70.5, "kg"), Context with { DeviceId = device }).Value!;

            var key = $"{device}|29463-7|{ObservationFactory.FormatInstant(measured)}";
            Assert.Equal(key, value.NaturalKey);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 16)), value.FhirId);
        }
    }

    [Fact]
    public void ToObservation_CalledTwice_BuildsTreesThatShareNothingMutable()
    {
        var value = factory.Normalise(DecodedReading.OfValue("heart-rate", Measured, 72, "/min"), Context).Value!;
        var first = value.ToObservation();
        var second = value.ToObservation();

        Assert.IsType<Quantity>(first.Value).Value = 300;
        first.Code.Coding[0].Code = "changed";
        first.Category.Clear();
        first.Meta!.Source = "changed";

        var serializer = new FhirJsonSerializer();
        Assert.Equal(serializer.SerializeToString(value.ToObservation()), serializer.SerializeToString(second));
        Assert.Equal(72m, Assert.IsType<Quantity>(second.Value).Value);
        Assert.Equal(72m, value.Value);
    }

    [Theory]
    [InlineData("cat-score", 17, "{score}", "17")]
    [InlineData("medication-dose-taken", 1, "1", "true")]
    [InlineData("body-temperature", 98.6, "[degF]", "37.00")]
    public void ToObservation_EveryValueKind_WritesTheValueOfTheCompactValue(string measure, double reading, string unit, string written)
    {
        var value = factory.Normalise(DecodedReading.OfValue(measure, Measured, reading, unit), Context).Value!;

        var observation = value.ToObservation();

        var text = observation.Value switch
        {
            Quantity quantity => quantity.Value!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Integer integer => integer.Value!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            FhirBoolean boolean => boolean.Value!.Value ? "true" : "false",
            _ => "unexpected " + observation.Value?.TypeName,
        };
        Assert.Equal(written, text);
        Assert.Equal(value.FhirId, observation.Id);
    }

    [Fact]
    public void Normalise_ImpossibleValue_IsRejectedWithTheReasonCreateGives()
    {
        var reading = DecodedReading.OfValue("oxygen-saturation", Measured, 101, "%");

        var normalised = factory.Normalise(reading, Context);
        var created = factory.Create(reading, Context);

        Assert.Null(normalised.Value);
        Assert.Equal(RejectionKind.Invalid, normalised.Kind);
        Assert.Equal(created.Error, normalised.Error);
        Assert.Contains("is impossible", normalised.Error, StringComparison.Ordinal);
    }
}
