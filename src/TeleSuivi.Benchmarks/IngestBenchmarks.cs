using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Hl7.Fhir.Model;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Benchmarks;

// One benchmark invocation is one pass over the messages of a case; the Readings/s and B/reading columns divide by
// the Observations of that pass (ReadingCase.Readings), so every figure is per reading, on the one core BenchmarkDotNet
// runs on.

/// <summary>Manufacturer profiles (JSON and CSV): every valid example of <c>ingest/{manufacturer}/examples</c>.</summary>
[MemoryDiagnoser]
public class ProfileBenchmarks
{
    private ObservationFactory factory = null!;

    [ParamsSource(nameof(Cases))]
    public ReadingCase Case { get; set; } = null!;

    public static IEnumerable<ReadingCase> Cases => Corpus.ProfileCases;

    [GlobalSetup]
    public void Setup() => factory = new ObservationFactory(Corpus.ClockPolicy);

    /// <summary>
    /// The reference of the same run: reading every token (JSON) or every line and cell boundary (CSV) of the payloads
    /// once, without building anything: what any decoder of these bytes costs at least.
    /// </summary>
    [Benchmark(Baseline = true, Description = "Tokenise (reference)")]
    public int Tokenise() => Case.Format == "csv" ? References.ScanCsv(Case) : References.ScanJson(Case);

    [Benchmark(Description = "Decode")]
    public int Decode() => Corpus.Decode(Case);

    /// <summary>What the target judges: decoded, checked, coded, converted, rounded and identified, without a FHIR tree.</summary>
    [Benchmark(Description = "Decode + normalise (compact)")]
    public int DecodeAndNormalise() => Corpus.DecodeAndNormalise(Case, factory);

    /// <summary>The same, and the Hl7.Fhir.R4 Observation built from each value, as the ingest pipeline does today.</summary>
    [Benchmark(Description = "Decode + normalise + POCO")]
    public int DecodeNormaliseAndBuildPocos() => Corpus.DecodeNormaliseAndBuildPocos(Case, factory);
}

/// <summary>Bluetooth GATT characteristics: one complete value (every optional field present) per characteristic.</summary>
[MemoryDiagnoser]
public class GattBenchmarks
{
    private ObservationFactory factory = null!;

    [ParamsSource(nameof(Cases))]
    public ReadingCase Case { get; set; } = null!;

    public static IEnumerable<ReadingCase> Cases => Corpus.GattCases;

    [GlobalSetup]
    public void Setup() => factory = new ObservationFactory(Corpus.ClockPolicy);

    [Benchmark(Baseline = true, Description = "Decode")]
    public int Decode() => Corpus.Decode(Case);

    /// <summary>What the target judges: decoded, checked, coded, converted, rounded and identified, without a FHIR tree.</summary>
    [Benchmark(Description = "Decode + normalise (compact)")]
    public int DecodeAndNormalise() => Corpus.DecodeAndNormalise(Case, factory);

    /// <summary>The same, and the Hl7.Fhir.R4 Observation built from each value, as the ingest pipeline does today.</summary>
    [Benchmark(Description = "Decode + normalise + POCO")]
    public int DecodeNormaliseAndBuildPocos() => Corpus.DecodeNormaliseAndBuildPocos(Case, factory);
}

/// <summary>Normalisation alone, from readings decoded beforehand: panels, plain quantities, scores, specimens, qualifiers.</summary>
[MemoryDiagnoser]
public class NormaliseBenchmarks
{
    private ObservationFactory factory = null!;
    private (DecodedReading Reading, ObservationContext Context)[] readings = [];
    private Observation[] observations = [];

    [ParamsSource(nameof(Cases))]
    public ReadingCase Case { get; set; } = null!;

    public static IEnumerable<ReadingCase> Cases =>
    [
        Corpus.Find("withings"), Corpus.Find("omron"), Corpus.Find("patient-app"), Corpus.Find("rochediabetes"),
        Corpus.Find("gatt 2a35 blood pressure"), Corpus.Find("gatt 2a37 heart rate"),
    ];

    [GlobalSetup]
    public void Setup()
    {
        factory = new ObservationFactory(Corpus.ClockPolicy);
        readings = [.. Corpus.DecodedReadings(Case)];
        observations = [.. readings.Select(r => factory.Create(r.Reading, r.Context).Observation!)];
    }

    /// <summary>
    /// The reference: copying the case's finished Observations (Firely's generated DeepCopy), i.e. allocating and
    /// filling the same POCO trees with nothing to look up, convert, format or hash.
    /// </summary>
    [Benchmark(Baseline = true, Description = "Copy the POCO trees (reference)")]
    public int CopyTrees()
    {
        var copied = 0;
        foreach (var observation in observations)
        {
            copied += observation.DeepCopy() is null ? 0 : 1;
        }

        return copied;
    }

    [Benchmark(Description = "Normalise (compact)")]
    public int NormaliseCompact()
    {
        var normalised = 0;
        foreach (var (reading, context) in readings)
        {
            if (factory.Normalise(reading, context).Value is not null)
            {
                normalised++;
            }
        }

        return normalised;
    }

    [Benchmark(Description = "Normalise")]
    public int Normalise()
    {
        var observations = 0;
        foreach (var (reading, context) in readings)
        {
            if (factory.Create(reading, context).Observation is not null)
            {
                observations++;
            }
        }

        return observations;
    }
}

/// <summary>
/// What one heart-rate Observation costs at the least with Hl7.Fhir.R4 POCOs, against the factory and its parts: the
/// floor below which normalising into POCOs cannot go, whatever the factory does.
/// </summary>
[MemoryDiagnoser]
public class ObservationFloorBenchmarks
{
    private static readonly DateTimeOffset Measured = new(2026, 1, 15, 8, 30, 0, TimeSpan.Zero);
    private readonly ObservationFactory factory = new(Corpus.ClockPolicy);
    private readonly DecodedReading reading = DecodedReading.OfValue("heart-rate", Measured, 72, "/min");
    private readonly ObservationContext context = new(Corpus.DeviceId, Corpus.PatientId, Corpus.DefaultReceivedAt, "gatt/2a37");
    private readonly string naturalKey = "example-device|8867-4|2026-01-15T08:30:00Z";
    private readonly DateTimeOffset measured = Measured;
    private Observation created = null!;
    private NormalisedObservation normalised = null!;

    [GlobalSetup]
    public void Setup()
    {
        created = factory.Create(reading, context).Observation!;
        normalised = factory.Normalise(reading, context).Value!;
    }

    /// <summary>The same Observation as the factory's, every string a literal: allocating and filling the POCO tree only.</summary>
    [Benchmark(Baseline = true, Description = "POCO tree alone (reference)")]
    public Observation HandBuilt() => References.HandBuiltHeartRate(naturalKey);

    /// <summary>Firely's DeepCopy of the factory's Observation: the same tree again, to compare with the hand-built one.</summary>
    [Benchmark(Description = "DeepCopy of the factory's Observation")]
    public Observation Copy() => (Observation)created.DeepCopy();

    [Benchmark(Description = "ObservationFactory.Create")]
    public Observation? Factory() => factory.Create(reading, context).Observation;

    [Benchmark(Description = "ObservationFactory.Normalise (compact)")]
    public NormalisedObservation? Normalise() => factory.Normalise(reading, context).Value;

    [Benchmark(Description = "NormalisedObservation.ToObservation")]
    public Observation ToObservation() => normalised.ToObservation();

    [Benchmark(Description = "Deterministic id (SHA-256)")]
    public string Id() => ObservationFactory.IdOf(naturalKey);

    /// <summary>The same id with the one-shot SHA256.HashData, as IdOf computed it before: the cost of a native digest context per call.</summary>
    [Benchmark(Description = "Deterministic id, one-shot SHA-256")]
    public string OneShotId() => References.OneShotId(naturalKey);

    [Benchmark(Description = "FormatInstant")]
    public string Instant() => ObservationFactory.FormatInstant(measured);
}

/// <summary>The references the benchmarks are compared with in the same run.</summary>
public static class References
{
    public static int ScanJson(ReadingCase readingCase)
    {
        var tokens = 0;
        foreach (var message in readingCase.Messages)
        {
            var reader = new Utf8JsonReader(message.Payload, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            while (reader.Read())
            {
                tokens += reader.ValueSpan.Length > 0 ? 2 : 1;
            }
        }

        return tokens;
    }

    public static int ScanCsv(ReadingCase readingCase)
    {
        var boundaries = 0;
        foreach (var message in readingCase.Messages)
        {
            ReadOnlySpan<byte> rest = message.Payload;
            int next;
            while ((next = rest.IndexOfAny((byte)'\n', (byte)',', (byte)';')) >= 0)
            {
                boundaries++;
                rest = rest[(next + 1)..];
            }
        }

        return boundaries;
    }

    public static string OneShotId(string naturalKey)
    {
        Span<byte> utf8 = stackalloc byte[naturalKey.Length * 3];
        var length = Encoding.UTF8.GetBytes(naturalKey, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    public static Observation HandBuiltHeartRate(string naturalKey)
    {
        var observation = new Observation
        {
            Id = "0d5bd8b1a1c48d5a4c1ee1b6e4d2a9f0",
            Meta = new Meta { Source = "https://telesuivi.org/fhir/ingest/gatt/2a37", Profile = ["http://hl7.org/fhir/StructureDefinition/heartrate"] },
            Identifier = [new Identifier("https://telesuivi.org/fhir/observation-id", naturalKey)],
            Status = ObservationStatus.Final,
            Category = [Concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")],
            Code = Concept("http://loinc.org", "8867-4", "Heart rate"),
            Subject = new ResourceReference("Patient/example-patient"),
            Effective = new FhirDateTime("2026-01-15T08:30:00Z"),
            IssuedElement = new Instant(new DateTimeOffset(2026, 1, 15, 9, 0, 0, TimeSpan.Zero)),
            Device = new ResourceReference("Device/example-device"),
            Value = new Quantity { Value = 72m, Unit = "beats/minute", System = "http://unitsofmeasure.org", Code = "/min" },
        };
        observation.Code.Coding.Add(new Coding("urn:iso:std:iso:11073:10101", "149546", "MDC_PULS_RATE_NON_INV"));
        return observation;
    }

    private static CodeableConcept Concept(string system, string code, string display)
    {
        var concept = new CodeableConcept { Text = display };
        concept.Coding.Add(new Coding(system, code, display));
        return concept;
    }
}

/// <summary>
/// <c>dotnet run -c Release --project src/TeleSuivi.Benchmarks -- ingest-batches [case name ...]</c>: the decode and
/// normalise stages of every GATT case (or the named cases) timed in-process in a few hundred batches of about a
/// millisecond each. On a shared machine the fastest batch is the one least disturbed by other processes, nearer to
/// an idle core than BenchmarkDotNet's best iteration of 10 ms or more; BENCHMARKS.md keeps BenchmarkDotNet's figures.
/// </summary>
public static class IngestBatches
{
    private const int Batches = 400;
    private static readonly TimeSpan BatchLength = TimeSpan.FromMilliseconds(1);

    public static int Run(IReadOnlyList<string> caseNames)
    {
        var factory = new ObservationFactory(Corpus.ClockPolicy);
        var stages = new (string Name, Func<ReadingCase, int> Pass)[]
        {
            ("decode", Corpus.Decode),
            ("decode + normalise (compact)", c => Corpus.DecodeAndNormalise(c, factory)),
            ("decode + normalise + poco", c => Corpus.DecodeNormaliseAndBuildPocos(c, factory)),
        };
        IReadOnlyList<ReadingCase> cases = caseNames.Count == 0 ? Corpus.GattCases : [.. caseNames.Select(Corpus.Find)];
        Console.WriteLine($"| case | stage | readings/s (fastest of {Batches} batches) | readings/s (median batch) |");
        Console.WriteLine("| --- | --- | ---: | ---: |");
        foreach (var readingCase in cases)
        {
            foreach (var (name, pass) in stages)
            {
                var (fastest, median) = Time(readingCase, pass);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {readingCase.Name} | {name} | {readingCase.Readings * 1e9 / fastest:N0} | {readingCase.Readings * 1e9 / median:N0} |"));
            }
        }

        return 0;
    }

    /// <summary>Nanoseconds per pass: of the fastest batch and of the median one.</summary>
    private static (double Fastest, double Median) Time(ReadingCase readingCase, Func<ReadingCase, int> pass)
    {
        // Warm up past tiered compilation, then size a batch to about BatchLength.
        var passes = 1;
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            var batch = Stopwatch.StartNew();
            for (var i = 0; i < passes; i++)
            {
                pass(readingCase);
            }

            if (batch.Elapsed < BatchLength)
            {
                passes *= 2;
            }
        }

        var times = new double[Batches];
        for (var b = 0; b < Batches; b++)
        {
            var batch = Stopwatch.StartNew();
            for (var i = 0; i < passes; i++)
            {
                pass(readingCase);
            }

            times[b] = batch.Elapsed.TotalNanoseconds / passes;
        }

        Array.Sort(times);
        return (times[0], times[Batches / 2]);
    }
}
