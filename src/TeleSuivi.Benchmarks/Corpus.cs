using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Gatt;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Devices.Profiles;

namespace TeleSuivi.Benchmarks;

/// <summary>One MQTT message as the ingest worker gets it: the payload, its decoder and its receive time.</summary>
public sealed class Message
{
    private readonly IPayloadDecoder? profile;
    private readonly string? characteristic;

    private Message(byte[] payload, IPayloadDecoder? profile, string? characteristic, DateTimeOffset receivedAt, string source)
    {
        Payload = payload;
        this.profile = profile;
        this.characteristic = characteristic;
        ReceivedAt = receivedAt;
        Source = source;
        Context = new ObservationContext(Corpus.DeviceId, Corpus.PatientId, receivedAt, source);
    }

    public byte[] Payload { get; }

    public DateTimeOffset ReceivedAt { get; }

    /// <summary>"withings", "gatt/2a35": <c>meta.source</c> of the Observations.</summary>
    public string Source { get; }

    public ObservationContext Context { get; }

    public static Message OfProfile(IPayloadDecoder profile, byte[] payload, DateTimeOffset receivedAt) =>
        new(payload, profile, null, receivedAt, profile.Name);

    public static Message OfGatt(string uuid16, byte[] payload, DateTimeOffset receivedAt) =>
        new(payload, null, uuid16, receivedAt, "gatt/" + uuid16);

    /// <summary>What the ingest worker calls for this topic: the manufacturer's profile, or the GATT decoder (device clock in UTC, the default).</summary>
    public DecodeOutcome Decode() =>
        profile is not null
            ? profile.Decode(Payload, new DecodeContext(Corpus.DeviceId, ReceivedAt))
            : GattDecoder.Decode(characteristic!, Payload);
}

/// <summary>
/// A benchmark case: the messages of one format (every valid example of one manufacturer, or one GATT characteristic),
/// and how many Observations one pass over them gives, which turns a time per pass into readings per second.
/// </summary>
public sealed class ReadingCase(string name, string format, IReadOnlyList<Message> messages)
{
    public string Name { get; } = name;

    /// <summary>"json", "csv" or "gatt".</summary>
    public string Format { get; } = format;

    public IReadOnlyList<Message> Messages { get; } = messages;

    /// <summary>Observations produced by one pass over <see cref="Messages"/>.</summary>
    public int Readings { get; internal set; }

    /// <summary>What BenchmarkDotNet prints in the parameter column, and the key of a row of BENCHMARKS.md.</summary>
    public override string ToString() => Name;
}

/// <summary>
/// The payloads the benchmarks run: every valid example of every manufacturer folder of <c>ingest/</c> (the same
/// files the example tests check, with the same receive time and clock policy) and one complete value of every GATT
/// characteristic. Loading checks each case once against its expected FHIR, so a benchmark never times a path that
/// produces something else than the specification.
/// </summary>
public static class Corpus
{
    public const string DeviceId = "example-device";
    public const string PatientId = "example-patient";

    /// <summary>The receive time of the ingest examples (ingest/README.md) unless a NAME.context.json says otherwise.</summary>
    public static readonly DateTimeOffset DefaultReceivedAt = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);

    /// <summary>The clock policy the examples are specified with: 10 minutes of drift, 30 days of history.</summary>
    public static readonly ObservationFactoryOptions ClockPolicy = new() { MaxFutureSkew = TimeSpan.FromMinutes(10), MaxAge = TimeSpan.FromDays(30) };

    /// <summary>GATT values with every optional field present, as a full-featured device sends them (times: 2026-01-15 08:30).</summary>
    private static readonly (string Uuid, string Name, string Hex)[] GattValues =
    [
        ("2a35", "blood pressure", "1E 78 00 50 00 5D 00 EA 07 01 0F 08 1E 00 48 00 01 04 00"),
        ("2a36", "intermediate cuff pressure", "1E 96 00 FF 07 FF 07 EA 07 01 0F 08 1E 00 48 00 01 04 00"),
        ("2a37", "heart rate", "1E 48 10 27 A8 03"),
        ("2a5e", "PLX spot-check", "1F 62 00 48 00 EA 07 01 0F 08 1E 00 00 01 20 00 00 19 F0"),
        ("2a5f", "PLX continuous", "1F 61 00 46 00 60 00 4B 00 61 00 45 00 20 00 00 20 00 19 F0"),
        ("2a1c", "temperature", "07 DA 03 00 FF EA 07 01 0F 08 1E 00 09"),
        ("2a1e", "intermediate temperature", "06 6E 01 00 FF EA 07 01 0F 08 1E 00 09"),
        ("2a9d", "weight", "0E A4 38 EA 07 01 0F 08 1E 00 02 ED 00 D6 06"),
        ("2a18", "glucose", "1F 17 00 EA 07 01 0F 07 1E 00 3C 00 5F B0 11 01 00"),
    ];

    private static readonly Lazy<string> Root = new(FindRepositoryRoot);
    private static readonly Lazy<ProfileRegistry> Registry = new(() => ProfileRegistry.Load(Path.Combine(Root.Value, "ingest")));
    private static readonly Lazy<IReadOnlyList<ReadingCase>> ProfileCaseList = new(LoadProfileCases);
    private static readonly Lazy<IReadOnlyList<ReadingCase>> GattCaseList = new(LoadGattCases);

    public static string RepositoryRoot => Root.Value;

    /// <summary>One case per manufacturer folder: all its valid examples, JSON and CSV.</summary>
    public static IReadOnlyList<ReadingCase> ProfileCases => ProfileCaseList.Value;

    /// <summary>One case per supported GATT characteristic.</summary>
    public static IReadOnlyList<ReadingCase> GattCases => GattCaseList.Value;

    public static ReadingCase Find(string name) =>
        ProfileCases.Concat(GattCases).FirstOrDefault(c => c.Name == name)
            ?? throw new ArgumentException($"no benchmark case '{name}'", nameof(name));

    /// <summary>Decodes every message of <paramref name="readingCase"/>; the number of readings decoded.</summary>
    public static int Decode(ReadingCase readingCase)
    {
        var readings = 0;
        foreach (var message in readingCase.Messages)
        {
            readings += message.Decode().Readings.Count;
        }

        return readings;
    }

    /// <summary>
    /// Decodes and normalises every message into compact values (<see cref="NormalisedObservation"/>): checked, coded,
    /// converted, rounded, with their ids, but no FHIR tree; the number of values.
    /// </summary>
    public static int DecodeAndNormalise(ReadingCase readingCase, ObservationFactory factory)
    {
        var normalised = 0;
        foreach (var message in readingCase.Messages)
        {
            foreach (var reading in message.Decode().Readings)
            {
                if (factory.Normalise(reading, message.Context).Value is not null)
                {
                    normalised++;
                }
            }
        }

        return normalised;
    }

    /// <summary>Decodes and normalises every message into Hl7.Fhir.R4 Observations, as the ingest worker does; the number of Observations.</summary>
    public static int DecodeNormaliseAndBuildPocos(ReadingCase readingCase, ObservationFactory factory)
    {
        var observations = 0;
        foreach (var message in readingCase.Messages)
        {
            foreach (var reading in message.Decode().Readings)
            {
                if (factory.Create(reading, message.Context).Observation is not null)
                {
                    observations++;
                }
            }
        }

        return observations;
    }

    /// <summary>The decoded readings of a case with their context, for the normalisation-only benchmark.</summary>
    public static IReadOnlyList<(DecodedReading Reading, ObservationContext Context)> DecodedReadings(ReadingCase readingCase) =>
        [.. readingCase.Messages.SelectMany(m => m.Decode().Readings.Select(r => (r, m.Context)))];

    private static List<ReadingCase> LoadProfileCases()
    {
        var ingest = Path.Combine(Root.Value, "ingest");
        var cases = new List<ReadingCase>();
        foreach (var manufacturer in Registry.Value.Manufacturers)
        {
            Registry.Value.TryGet(manufacturer, out var decoder);
            var examples = Path.Combine(ingest, manufacturer, "examples");
            if (!Directory.Exists(examples))
            {
                continue;
            }

            var messages = new List<Message>();
            var expected = new List<Observation>();
            string? format = null;
            foreach (var file in Directory.EnumerateFiles(examples).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(file);
                if (name.Contains(".expected", StringComparison.Ordinal) || name.Contains(".invalid", StringComparison.Ordinal)
                    || name.EndsWith(".context.json", StringComparison.Ordinal) || name.StartsWith('.'))
                {
                    continue;
                }

                var stem = file[..^Path.GetExtension(file).Length];
                messages.Add(Message.OfProfile(decoder!, File.ReadAllBytes(file), ReceivedAt(stem)));
                expected.AddRange(ReadExpected(stem + ".expected.json"));
                format ??= Path.GetExtension(file) == ".csv" ? "csv" : "json";
            }

            if (messages.Count > 0)
            {
                cases.Add(Checked(new ReadingCase(manufacturer, format!, messages), expected));
            }
        }

        return cases;
    }

    private static List<ReadingCase> LoadGattCases()
    {
        var cases = new List<ReadingCase>();
        foreach (var (uuid, name, hex) in GattValues)
        {
            var payload = Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
            var message = Message.OfGatt(uuid, payload, DefaultReceivedAt);
            cases.Add(Checked(new ReadingCase($"gatt {uuid} {name}", "gatt", [message]), expected: null));
        }

        return cases;
    }

    /// <summary>Runs the case once: every reading must give an Observation, equal to the expected ones when given.</summary>
    private static ReadingCase Checked(ReadingCase readingCase, List<Observation>? expected)
    {
        var factory = new ObservationFactory(ClockPolicy);
        var produced = new List<Observation>();
        foreach (var message in readingCase.Messages)
        {
            var decoded = message.Decode();
            if (decoded.Error is { } error)
            {
                throw new InvalidOperationException($"{readingCase.Name}: {error}");
            }

            foreach (var reading in decoded.Readings)
            {
                var outcome = factory.Create(reading, message.Context);
                produced.Add(outcome.Observation ?? throw new InvalidOperationException($"{readingCase.Name}: {outcome.Error}"));
            }
        }

        if (expected is not null && Canonical(produced) != Canonical(expected))
        {
            throw new InvalidOperationException($"{readingCase.Name}: the Observations differ from the expected ones of ingest/{readingCase.Name}/examples");
        }

        readingCase.Readings = produced.Count;
        return readingCase;
    }

    private static string Canonical(IEnumerable<Observation> observations)
    {
        var serializer = new FhirJsonSerializer();
        return string.Join('\n', observations.Select(o => serializer.SerializeToString(o, pretty: true)));
    }

    private static List<Observation> ReadExpected(string path)
    {
        var deserializer = new FhirJsonDeserializer(new DeserializerSettings());
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.ValueKind == JsonValueKind.Array
            ? [.. document.RootElement.EnumerateArray().Select(e => deserializer.Deserialize<Observation>(e.GetRawText()))]
            : [.. deserializer.Deserialize<Bundle>(document.RootElement.GetRawText()).Entry.Select(e => (Observation)e.Resource!)];
    }

    private static DateTimeOffset ReceivedAt(string stem)
    {
        var sidecar = stem + ".context.json";
        if (!File.Exists(sidecar))
        {
            return DefaultReceivedAt;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(sidecar));
        return document.RootElement.GetProperty("receivedAt").GetDateTimeOffset();
    }

    private static string FindRepositoryRoot()
    {
        // BenchmarkDotNet runs each benchmark from a generated project below bin/: the repository is further up.
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "TeleSuivi.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new InvalidOperationException($"no TeleSuivi.sln above {AppContext.BaseDirectory} nor {Environment.CurrentDirectory}");
    }
}
