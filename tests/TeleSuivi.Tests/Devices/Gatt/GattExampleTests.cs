using TeleSuivi.Devices.Gatt;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Tests.Devices.Profiles;

namespace TeleSuivi.Tests.Devices.Gatt;

/// <summary>
/// A complete value of every GATT characteristic, decoded and normalised into the FHIR Observations of
/// <c>examples/NAME.expected.json</c> beside this file, byte for byte, as the manufacturer examples of ingest/ are.
/// </summary>
public sealed class GattExampleTests
{
    private static readonly string ExamplesDirectory = Path.Combine(Path.GetDirectoryName(IngestExamples.IngestDirectory)!,
        "tests", "TeleSuivi.Tests", "Devices", "Gatt", "examples");

    /// <summary>Name, characteristic, value (times 2026-01-15 08:30, device clock in UTC) and whether the device is assigned.</summary>
    private static readonly (string Name, string Uuid, string Hex, bool Assigned)[] Values =
    [
        ("2a35-blood-pressure-mmhg", "2a35", "1E 78 00 50 00 5D 00 EA 07 01 0F 08 1E 00 48 00 01 04 00", true),
        ("2a35-blood-pressure-kpa", "2a35", "1F A0 F0 6B F0 83 F0 EA 07 01 0F 08 1E 00 48 00 01 04 00", true),
        ("2a36-intermediate-cuff-pressure", "2a36", "1E 96 00 FF 07 FF 07 EA 07 01 0F 08 1E 00 48 00 01 04 00", true),
        ("2a37-heart-rate", "2a37", "1E 48 10 27 A8 03", true),
        ("2a37-heart-rate-unassigned", "2a37", "1E 48 10 27 A8 03", false),
        ("2a5e-plx-spot-check", "2a5e", "1F 62 00 48 00 EA 07 01 0F 08 1E 00 00 01 20 00 00 19 F0", true),
        ("2a5f-plx-continuous", "2a5f", "1F 61 00 46 00 60 00 4B 00 61 00 45 00 20 00 00 20 00 19 F0", true),
        ("2a1c-temperature-fahrenheit", "2a1c", "07 DA 03 00 FF EA 07 01 0F 08 1E 00 09", true),
        ("2a1e-intermediate-temperature", "2a1e", "06 6E 01 00 FF EA 07 01 0F 08 1E 00 09", true),
        ("2a9d-weight-kg", "2a9d", "0E A4 38 EA 07 01 0F 08 1E 00 02 ED 00 D6 06", true),
        ("2a9d-weight-lb", "2a9d", "0F A4 38 EA 07 01 0F 08 1E 00 02 ED 00 BC 02", true),
        ("2a18-glucose", "2a18", "1F 17 00 EA 07 01 0F 07 1E 00 3C 00 5F B0 11 01 00", true),
    ];

    public static TheoryData<string> Names() => [.. Values.Select(v => v.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void Normalise_GattValue_BuildsExpectedObservations(string name)
    {
        var (_, uuid, hex, assigned) = Values.Single(v => v.Name == name);
        var decoded = GattDecoder.Decode(uuid, GattTestSupport.Bytes(hex));
        Assert.True(decoded.Succeeded, decoded.Error);

        var context = new ObservationContext(IngestExamples.DeviceId, assigned ? IngestExamples.PatientId : null,
            IngestExamples.DefaultReceivedAt, "gatt/" + uuid);
        var result = new ObservationFactory(IngestExamples.ClockPolicy).CreateAll(decoded.Readings, context);
        Assert.Empty(result.Rejections);

        var expectedPath = Path.Combine(ExamplesDirectory, name + ".expected.json");
        var actual = IngestExamples.Canonical(result.Observations);
        if (!File.Exists(expectedPath) && Environment.GetEnvironmentVariable("TELESUIVI_WRITE_EXPECTED") == "1")
        {
            Directory.CreateDirectory(ExamplesDirectory);
            File.WriteAllText(expectedPath, actual);
        }

        Assert.True(File.Exists(expectedPath), $"{expectedPath} is missing (TELESUIVI_WRITE_EXPECTED=1 drafts it, to be checked by hand)");
        Assert.Equal(IngestExamples.Canonical(IngestExamples.ReadExpected(expectedPath)), actual);
    }
}
