using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TeleSuivi.Devices.Normalization;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Reliability;

/// <summary>One Withings weight reading as a device published it, and what the platform must make of it.</summary>
public sealed record PublishedReading(string Device, DateTimeOffset Time, int Centigrams, string? ExpectedRejection = null)
{
    public string Topic => $"telesuivi/v1/devices/withings/{Device}";

    public string Payload => string.Create(CultureInfo.InvariantCulture, $$"""{"measuregrps":[{"date":{{Time.ToUnixTimeSeconds()}},"measures":[{"value":{{Centigrams}},"type":1,"unit":-2}]}]}""");

    /// <summary>The deterministic id the platform gives its Observation (device | LOINC body weight | instant).</summary>
    public string ObservationId => ObservationFactory.IdOf($"{Device}|29463-7|{ObservationFactory.FormatInstant(Time)}");

    public StoredReading AsStored => new(ObservationId, Centigrams / 100m, Time.ToUnixTimeMilliseconds());
}

/// <summary>An Observation as the FHIR API answers it: id, value, effective time (Unix ms).</summary>
public sealed record StoredReading(string Id, decimal Value, long TimeMs)
{
    public string Line => string.Create(CultureInfo.InvariantCulture, $"{Id}\t{Value:0.##########}\t{TimeMs}");
}

/// <summary>
/// The exact accounting of a fault-injection test: every reading published is stored exactly once or dead-lettered
/// exactly once, with the expected outcome, nothing else is stored, and the SHA-256 of the sorted (id, value, time)
/// of what the FHIR API returns equals that of what was published. Counts alone could hide a lost reading behind a
/// duplicate; the checksum could not.
/// </summary>
public sealed class ReadingLedger
{
    private readonly List<PublishedReading> published = [];
    private readonly Lock gate = new();

    public int Count
    {
        get
        {
            lock (gate)
            {
                return published.Count;
            }
        }
    }

    public IReadOnlyList<PublishedReading> Published
    {
        get
        {
            lock (gate)
            {
                return [.. published];
            }
        }
    }

    /// <summary>Recorded once the broker acknowledged the publication (PUBACK): the platform is responsible for it from then on.</summary>
    public void Record(PublishedReading reading)
    {
        lock (gate)
        {
            published.Add(reading);
        }
    }

    private static async Task<bool> Pause()
    {
        await Task.Delay(250, TestContext.Current.CancellationToken);
        return true;
    }

    public static string Checksum(IEnumerable<StoredReading> readings)
    {
        var text = string.Join('\n', readings.Select(r => r.Line).Order(StringComparer.Ordinal));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Every Observation of the patient, read page by page through <c>GET /fhir/Observation</c>.</summary>
    public static async Task<List<StoredReading>> StoredAsync(Uri host, string patient)
    {
        using var http = TeleSuiviProcess.CreateClient(host, TimeSpan.FromSeconds(30));
        var stored = new List<StoredReading>();
        Uri? next = new($"/fhir/Observation?subject=Patient/{patient}&_count=1000", UriKind.Relative);
        while (next is not null)
        {
            using var bundle = JsonDocument.Parse(await http.GetStringAsync(next));
            foreach (var entry in bundle.RootElement.TryGetProperty("entry", out var entries) ? entries.EnumerateArray() : default)
            {
                var resource = entry.GetProperty("resource");
                stored.Add(new StoredReading(
                    resource.GetProperty("id").GetString()!,
                    resource.GetProperty("valueQuantity").GetProperty("value").GetDecimal(),
                    DateTimeOffset.Parse(resource.GetProperty("effectiveDateTime").GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds()));
            }

            next = bundle.RootElement.GetProperty("link").EnumerateArray()
                .Where(l => l.GetProperty("relation").GetString() == "next")
                .Select(l => new Uri(l.GetProperty("url").GetString()!))
                .FirstOrDefault();
        }

        return stored;
    }

    /// <summary>Dead letters whose topic is one of the published readings' topics (replayed ones included).</summary>
    public async Task<List<(string ReasonCode, string Payload)>> DeadLettersAsync(Uri host)
    {
        var topics = Published.Select(r => r.Topic).ToHashSet(StringComparer.Ordinal);
        return [.. (await StoredData.DeadLettersAsync(host, includeReplayed: true))
            .Where(l => topics.Contains(l.GetProperty("topic").GetString()!))
            .Select(l => (l.GetProperty("reasonCode").GetString()!, l.GetProperty("payloadText").GetString()!))];
    }

    /// <summary>Waits until everything published is accounted for, then checks the accounting exactly.</summary>
    public async Task AssertExactlyAccountedAsync(Uri host, string patient, TimeSpan timeout)
    {
        var readings = Published;
        var expectedStored = readings.Where(r => r.ExpectedRejection is null).ToList();
        var expectedLetters = readings.Count - expectedStored.Count;
        Accounted now;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            now = new Accounted(await StoredAsync(host, patient), await DeadLettersAsync(host));
        }
        while (now.Stored.Count + now.Letters.Count < readings.Count && clock.Elapsed < timeout && await Pause());

        var (stored, letters) = now;
        var storedIds = stored.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var letterPayloads = letters.Select(l => l.Payload).ToHashSet(StringComparer.Ordinal);
        var missing = readings.Where(r => !storedIds.Contains(r.ObservationId) && !letterPayloads.Contains(r.Payload)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {readings.Count} readings neither stored nor dead-lettered within {timeout.TotalSeconds:F0} s ({now}), e.g. {string.Join(", ", missing.Take(5))}");

        Assert.Equal(readings.Count, readings.Select(r => r.ObservationId).Distinct().Count()); // the test's own readings are distinct
        Assert.Equal(stored.Count, stored.Select(s => s.Id).Distinct().Count()); // no duplicate Observation
        var byPayload = letters.GroupBy(l => l.Payload, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        Assert.All(byPayload, pair => Assert.Single(pair.Value)); // no reading dead-lettered twice
        foreach (var reading in readings.Where(r => r.ExpectedRejection is not null))
        {
            Assert.True(byPayload.TryGetValue(reading.Payload, out var letter), $"reading of {reading.Time:O} was neither stored nor dead-lettered");
            Assert.Equal(reading.ExpectedRejection, letter[0].ReasonCode);
        }

        Assert.Equal(expectedLetters, letters.Count);
        Assert.Equal(expectedStored.Count, stored.Count);
        Assert.Equal(readings.Count, stored.Count + letters.Count);
        Assert.Equal(Checksum(expectedStored.Select(r => r.AsStored)), Checksum(stored));
    }
}

/// <summary>What the platform holds of a ledger's readings at one moment.</summary>
public sealed record Accounted(List<StoredReading> Stored, List<(string ReasonCode, string Payload)> Letters)
{
    public override string ToString() =>
        $"{Stored.Count} stored ({Stored.Select(s => s.Id).Distinct().Count()} distinct), {Letters.Count} dead-lettered ({string.Join(", ", Letters.GroupBy(l => l.ReasonCode).Select(g => $"{g.Key}: {g.Count()}"))})";
}
