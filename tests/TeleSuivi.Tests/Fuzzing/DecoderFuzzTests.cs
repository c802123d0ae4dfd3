using System.Text;
using Microsoft.Extensions.Options;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Devices.Profiles;

namespace TeleSuivi.Tests.Fuzzing;

/// <summary>
/// Every decoder a message meets, fed mutations of the documented examples: each input is decoded to readings (then
/// coded, converted and validated) or refused with a reason, never an exception, and with memory in proportion to
/// the input. The GATT decoders also have their own structure-aware fuzz test (Devices/Gatt/GattFuzzTests).
/// </summary>
public sealed class DecoderFuzzTests
{
    private static readonly DateTimeOffset ReceivedAt = IngestExamples.DefaultReceivedAt;
    private static readonly int MaxPayloadBytes = new IngestOptions().MaxPayloadBytes;

    public static TheoryData<string> Manufacturers() => [.. IngestExamples.Registry.Manufacturers];

    [Theory]
    [MemberData(nameof(Manufacturers))]
    public void ProfileDecoder_MutatedExamples_DecodeOrRefuseWithAReason(string manufacturer)
    {
        Assert.True(IngestExamples.Registry.TryGet(manufacturer, out var decoder));
        var examples = IngestExamples.Payloads().Where(p => IngestExamples.ManufacturerOf(p) == manufacturer)
            .Select(p => File.ReadAllBytes(IngestExamples.FullPath(p))).ToList();
        Assert.NotEmpty(examples);
        var factory = new ObservationFactory(IngestExamples.ClockPolicy);

        Run(manufacturer, examples, Fuzz.Cases(60), input =>
        {
            var outcome = decoder.Decode(input, new DecodeContext(IngestExamples.DeviceId, ReceivedAt));
            if (!outcome.Succeeded)
            {
                return outcome.Error;
            }

            var normalized = factory.CreateAll(outcome.Readings, new ObservationContext(IngestExamples.DeviceId, IngestExamples.PatientId, ReceivedAt, manufacturer));
            Assert.All(normalized.Rejections, reason => Assert.False(string.IsNullOrWhiteSpace(reason)));
            return null;
        });
    }

    [Fact]
    public void EnvironmentDecoder_MutatedContractPayloads_StoreOrRefuseWithAReason()
    {
        var decoder = new EnvironmentDecoder(Options.Create(new IngestOptions()));
        byte[][] examples =
        [
            """{"time":"2026-01-15T08:00:00Z","pm25":12.5,"pm10":20.1,"no2":31.0,"o3":48.2,"temperatureC":3.5,"humidity":81,"pollenIndex":0}"""u8.ToArray(),
            """[{"time":"2026-01-15T08:00:00Z","pm25":12.5},{"time":"2026-01-15T08:10:00Z","humidity":80,"pollenIndex":5}]"""u8.ToArray(),
        ];

        Run("environment", examples, Fuzz.Cases(2_000), input =>
        {
            var outcome = decoder.Normalize("75011", input, ReceivedAt);
            return outcome.Rejected ? outcome.Reason : null;
        });
    }

    [Fact]
    public void GattDecoder_MutatedAndHugePayloads_DecodeOrRefuseWithAReason()
    {
        // Random and huge inputs for every supported characteristic (the structure-aware cases are GattFuzzTests').
        var payload = GattEncoder.Encode(new BloodPressureMeasurement(PressureUnit.MillimetreOfMercury, Ieee11073Value.Number(120, 0), Ieee11073Value.Number(80, 0), Ieee11073Value.Number(93, 0)));
        foreach (var uuid in GattCharacteristics.Supported)
        {
            Run($"gatt/{uuid:x4}", [payload], Fuzz.Cases(300), input =>
            {
                var outcome = GattDecoder.Decode(uuid, input, TimeZoneInfo.Utc);
                return outcome.Succeeded ? null : outcome.Error;
            });
        }
    }

    [Fact]
    public void MessageNormalizer_PayloadOverMaxPayloadBytes_IsDeadLetteredAsTooLargeWithoutDecoding()
    {
        var data = Directory.CreateTempSubdirectory("telesuivi-fuzz-").FullName;
        try
        {
            var ingest = Options.Create(new IngestOptions { ProfilesDirectory = IngestExamples.IngestDirectory });
            var normalizer = new MessageNormalizer(ingest, new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = data })), new EnvironmentDecoder(ingest));
            var huge = new Fuzz(Fuzz.Seed).Huge(File.ReadAllBytes(IngestExamples.FullPath("and/examples/two-lines.csv")));

            var before = GC.GetAllocatedBytesForCurrentThread();
            var outcome = normalizer.Normalize(new IngestMessage("telesuivi/v1/devices/and/d1", huge, ReceivedAt, _ => Task.CompletedTask));

            Assert.Equal(RejectionCodes.TooLarge, outcome.ReasonCode);
            Assert.Contains("Ingest:MaxPayloadBytes", outcome.Reason, StringComparison.Ordinal);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "a refused payload is not decoded");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>
    /// Runs <paramref name="cases"/> inputs through <paramref name="decode"/>, which answers null (accepted) or the
    /// reason of the refusal. Fails on an exception, an empty reason, or allocations out of proportion to the input.
    /// </summary>
    private static void Run(string what, IReadOnlyList<byte[]> examples, int cases, Func<byte[], string?> decode)
    {
        var fuzz = Fuzz.For(what);
        for (var i = 0; i < cases; i++)
        {
            var input = fuzz.Input(examples[fuzz.Next(examples.Count)]);
            if (input.Length > MaxPayloadBytes)
            {
                // Never reaches a decoder: the normalizer dead-letters it as too-large (test above).
                input = input[..MaxPayloadBytes];
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            string? reason;
            try
            {
                reason = decode(input);
            }
            catch (Exception ex)
            {
                Assert.Fail($"{what}, seed {Fuzz.Seed}, case {i}: {ex.GetType().Name}: {ex.Message}\ninput {Fuzz.Describe(input)}\n{(input.Length <= 16 * 1024 ? Fuzz.Whole(input) : Encoding.UTF8.GetString(input.AsSpan(0, 300)))}");
                throw;
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(reason is null || reason.Trim().Length > 0, $"{what}, case {i}: refused without a reason");
            // Decoding may multiply a payload (a CSV line becomes FHIR resources), but in proportion to it, and only up to MaxPayloadBytes.
            Assert.True(allocated <= (2_000L * input.Length) + (16L << 20), $"{what}, case {i}: {allocated:N0} bytes allocated for an input of {input.Length:N0}");
        }
    }
}
