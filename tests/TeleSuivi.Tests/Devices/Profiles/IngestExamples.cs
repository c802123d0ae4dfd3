using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Devices.Profiles;

namespace TeleSuivi.Tests.Devices.Profiles;

/// <summary>
/// The examples of every manufacturer folder, run exactly as ingest/README.md describes: payload
/// <c>examples/NAME.EXT</c>, expected Observations <c>examples/NAME.expected.json</c> or expected error
/// <c>examples/NAME.expected-error.txt</c> (for <c>NAME</c> containing ".invalid"), optional receive time
/// <c>examples/NAME.context.json</c>.
/// </summary>
internal static class IngestExamples
{
    public const string DeviceId = "example-device";
    public const string PatientId = "example-patient";
    public static readonly DateTimeOffset DefaultReceivedAt = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);

    /// <summary>The clock policy the examples run with: 10 minutes of device clock drift, 30 days of history.</summary>
    public static readonly ObservationFactoryOptions ClockPolicy = new() { MaxFutureSkew = TimeSpan.FromMinutes(10), MaxAge = TimeSpan.FromDays(30) };

    private static readonly Lazy<string> Root = new(FindRepositoryRoot);
    private static readonly Lazy<ProfileRegistry> LoadedRegistry = new(() => ProfileRegistry.Load(IngestDirectory));

    public static string IngestDirectory => Path.Combine(Root.Value, "ingest");

    public static ProfileRegistry Registry => LoadedRegistry.Value;

    /// <summary>Payload paths relative to ingest/, e.g. "withings/examples/bp-batch.json".</summary>
    public static IEnumerable<string> Payloads()
    {
        foreach (var examples in Directory.EnumerateDirectories(IngestDirectory, "examples", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            foreach (var file in Directory.EnumerateFiles(examples).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(file);
                if (!name.Contains(".expected.", StringComparison.Ordinal) && !name.EndsWith(".expected-error.txt", StringComparison.Ordinal)
                    && !name.EndsWith(".context.json", StringComparison.Ordinal) && !name.StartsWith('.'))
                {
                    yield return Path.GetRelativePath(IngestDirectory, file).Replace('\\', '/');
                }
            }
        }
    }

    public static string FullPath(string relative) => Path.Combine(IngestDirectory, relative);

    /// <summary>"withings/examples/bp-batch.json" → "withings/examples/bp-batch", the stem of the sidecar files.</summary>
    public static string Stem(string relative) => FullPath(relative)[..^Path.GetExtension(relative).Length];

    public static string ManufacturerOf(string relative) => relative[..relative.IndexOf('/', StringComparison.Ordinal)];

    public static bool IsInvalid(string relative) => Path.GetFileName(relative).Contains(".invalid", StringComparison.Ordinal);

    /// <summary>Decodes and normalises one example: the Observations, or every reason it was rejected.</summary>
    public static (List<Observation> Observations, List<string> Errors) Run(string relative)
    {
        var (decodeError, outcomes) = Normalise(relative);
        return decodeError is not null
            ? ([], [decodeError])
            : ([.. outcomes.Where(o => o.Succeeded).Select(o => o.Observation!)], [.. outcomes.Where(o => !o.Succeeded).Select(o => o.Error!)]);
    }

    /// <summary>Decodes one example and normalises each of its readings: the decoder's error, or an outcome per reading.</summary>
    public static (string? DecodeError, List<ObservationOutcome> Outcomes) Normalise(string relative)
    {
        var manufacturer = ManufacturerOf(relative);
        Assert.True(Registry.TryGet(manufacturer, out var decoder), $"no profile for {manufacturer}");
        var receivedAt = ReceivedAt(relative);
        var outcome = decoder.Decode(File.ReadAllBytes(FullPath(relative)), new DecodeContext(DeviceId, receivedAt));
        if (outcome.Error is { } decodeError)
        {
            return (decodeError, []);
        }

        var factory = new ObservationFactory(ClockPolicy);
        var context = new ObservationContext(DeviceId, PatientId, receivedAt, manufacturer);
        return (null, [.. outcome.Readings.Select(reading => factory.Create(reading, context))]);
    }

    /// <summary>Expected Observations from a JSON array of Observation resources or from a Bundle.</summary>
    public static List<Observation> ReadExpected(string path)
    {
        // The strict deserializer fails on anything that is not valid FHIR R4 JSON: expected files are real FHIR.
        var deserializer = new FhirJsonDeserializer(new DeserializerSettings());
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        if (document.RootElement.ValueKind == JsonValueKind.Array)
        {
            return [.. document.RootElement.EnumerateArray().Select(element => deserializer.Deserialize<Observation>(element.GetRawText()))];
        }

        var bundle = deserializer.Deserialize<Bundle>(document.RootElement.GetRawText());
        return [.. bundle.Entry.Select(entry => (Observation)entry.Resource!)];
    }

    public static string Canonical(IEnumerable<Observation> observations)
    {
        var serializer = new FhirJsonSerializer();
        return "[\n" + string.Join(",\n", observations.Select(o => serializer.SerializeToString(o, pretty: true))) + "\n]\n";
    }

    private static DateTimeOffset ReceivedAt(string relative)
    {
        var sidecar = Stem(relative) + ".context.json";
        if (!File.Exists(sidecar))
        {
            return DefaultReceivedAt;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(sidecar));
        return document.RootElement.GetProperty("receivedAt").GetDateTimeOffset();
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TeleSuivi.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no TeleSuivi.sln above {AppContext.BaseDirectory}");
    }
}
