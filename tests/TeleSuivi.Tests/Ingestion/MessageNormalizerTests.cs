using Microsoft.Extensions.Options;
using TeleSuivi.Server.DeadLetters;
using TeleSuivi.Server.Ingestion;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Devices.Profiles;
using TeleSuivi.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace TeleSuivi.Tests.Ingestion;

/// <summary>The reasons a message is dead-lettered with, in English and in French, as the board shows them.</summary>
public sealed class MessageNormalizerTests : IAsyncDisposable
{
    private static readonly DateTimeOffset ReceivedAt = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);
    private readonly string data = Directory.CreateTempSubdirectory("telesuivi-normalizer-").FullName;
    private readonly DeviceRegistry registry;
    private readonly MessageNormalizer normalizer;

    public MessageNormalizerTests()
    {
        var ingest = Options.Create(new IngestOptions { ProfilesDirectory = IngestExamples.IngestDirectory });
        registry = new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = data }));
        normalizer = new MessageNormalizer(ingest, registry, new EnvironmentDecoder(ingest));
    }

    public ValueTask DisposeAsync()
    {
        registry.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public void Normalize_PayloadTheDecoderCannotRead_FrenchReasonSaysSoAndKeepsTheTechnicalDetail()
    {
        var outcome = normalizer.Normalize(Message("telesuivi/v1/devices/withings/d-1", "{\"measuregrps\": "));

        Assert.Equal(RejectionCodes.Unparseable, outcome.ReasonCode);
        Assert.Equal($"message illisible : {outcome.Reason}", outcome.ReasonFr);
    }

    [Fact]
    public async Task Normalize_TwoOfThreeReadingsRejected_BothReasonsInEachLanguage()
    {
        await RegisterAsync("d-1", "p-1");
        var message = WithingsMessage.Of(
            (ReceivedAt.AddMinutes(-10), 54, 150), // SpO2 150 %
            (ReceivedAt.AddMinutes(-9), 54, 96),
            (ReceivedAt.AddHours(2), 54, 95)); // two hours ahead of the receive time

        var outcome = normalizer.Normalize(Message("telesuivi/v1/devices/withings/d-1", message));

        Assert.Single(outcome.Observations);
        Assert.Equal(RejectionCodes.Implausible, outcome.ReasonCode);
        Assert.StartsWith("2 of 3 readings rejected: oxygen-saturation 150 % is impossible", outcome.Reason, StringComparison.Ordinal);
        Assert.StartsWith("2 mesures sur 3 rejetées : saturation en oxygène (SpO2) 150 % impossible", outcome.ReasonFr, StringComparison.Ordinal);
        Assert.Contains(" ; saturation en oxygène (SpO2) : mesure datée du 2026-01-15T11:00:00Z, 2 h après sa réception", outcome.ReasonFr, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_UnknownDevice_HasNoFrenchReason()
    {
        // No patient to alert about: the letter is for the engineers, in English.
        var outcome = normalizer.Normalize(Message("telesuivi/v1/devices/withings/d-unknown", WithingsMessage.Of((ReceivedAt, 54, 96))));

        Assert.Equal(RejectionCodes.UnknownDevice, outcome.ReasonCode);
        Assert.Null(outcome.ReasonFr);
    }

    private async Task RegisterAsync(string device, string patient)
    {
        await registry.InitializeAsync(TestContext.Current.CancellationToken);
        await registry.ApplyAsync(
            new RegistryChanges(
                [new RegisteredPatient(patient, null, $$"""{"resourceType":"Patient","id":"{{patient}}"}""")],
                [new RegisteredDevice(device, [], $$"""{"resourceType":"Device","id":"{{device}}"}""")],
                [new Assignment(device, patient, ReceivedAt.AddDays(-1), null, $"DeviceUseStatement/{device}-use")]),
            TestContext.Current.CancellationToken);
    }

    private static IngestMessage Message(string topic, string payload) =>
        new(topic, System.Text.Encoding.UTF8.GetBytes(payload), ReceivedAt, _ => Task.CompletedTask);
}
