using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Tests.Devices.Profiles;

/// <summary>Every example payload of every manufacturer folder, discovered from ingest/ at test time.</summary>
public sealed class ManufacturerExampleTests
{
    /// <summary>Set to 1 to write a missing NAME.expected.json from the current output, to be checked by hand before committing.</summary>
    private const string WriteExpectedVariable = "TELESUIVI_WRITE_EXPECTED";

    public static TheoryData<string> ValidExamples() => [.. IngestExamples.Payloads().Where(p => !IngestExamples.IsInvalid(p))];

    public static TheoryData<string> InvalidExamples() => [.. IngestExamples.Payloads().Where(IngestExamples.IsInvalid)];

    /// <summary>The invalid examples that decode, and whose readings are rejected one by one by the normalisation.</summary>
    public static TheoryData<string> RejectedReadingExamples() =>
        [.. IngestExamples.Payloads().Where(IngestExamples.IsInvalid).Where(p => IngestExamples.Normalise(p).Outcomes.Any(o => !o.Succeeded))];

    [Theory]
    [MemberData(nameof(ValidExamples))]
    public void Decode_ValidExample_ProducesExpectedObservations(string example)
    {
        var (observations, errors) = IngestExamples.Run(example);
        Assert.Empty(errors);

        var expectedPath = IngestExamples.Stem(example) + ".expected.json";
        var actual = IngestExamples.Canonical(observations);
        if (!File.Exists(expectedPath))
        {
            if (Environment.GetEnvironmentVariable(WriteExpectedVariable) == "1")
            {
                File.WriteAllText(expectedPath, actual);
            }

            Assert.Fail($"{expectedPath} is missing (set {WriteExpectedVariable}=1 to draft it from the current output, then check every value by hand)");
        }

        Assert.Equal(IngestExamples.Canonical(IngestExamples.ReadExpected(expectedPath)), actual);
    }

    [Theory]
    [MemberData(nameof(InvalidExamples))]
    public void Decode_InvalidExample_FailsWithExpectedReason(string example)
    {
        var expectedPath = IngestExamples.Stem(example) + ".expected-error.txt";
        Assert.True(File.Exists(expectedPath), $"{expectedPath} is missing");
        var expected = File.ReadAllText(expectedPath).Trim();

        var (_, errors) = IngestExamples.Run(example);

        Assert.NotEmpty(errors);
        Assert.Contains(errors, error => error.Contains(expected, StringComparison.Ordinal));
    }

    /// <summary>
    /// What the French board shows of the example's rejected readings: each reason is in French, led by the measure's
    /// French name. (A payload its decoder cannot read keeps its technical reason in English, behind "message
    /// illisible", MessageNormalizerTests.)
    /// </summary>
    [Theory]
    [MemberData(nameof(RejectedReadingExamples))]
    public void Normalise_InvalidExample_EveryRejectedReadingHasItsReasonInFrench(string example)
    {
        var (_, outcomes) = IngestExamples.Normalise(example);

        var rejected = outcomes.Where(outcome => !outcome.Succeeded).ToList();

        Assert.NotEmpty(rejected);
        Assert.All(rejected, outcome =>
        {
            Assert.NotNull(outcome.ErrorFr);
            Assert.NotEqual(outcome.Error, outcome.ErrorFr);
            Assert.True(
                outcome.ErrorFr.StartsWith('\'') || MeasureCatalog.All.Any(d => outcome.ErrorFr.StartsWith(d.NameFr + " ", StringComparison.Ordinal)),
                $"'{outcome.ErrorFr}' does not begin with a measure's French name");
        });
    }

    [Fact]
    public void Load_IngestDirectory_HasEveryManufacturerWithExamples()
    {
        var manufacturers = IngestExamples.Registry.Manufacturers;

        Assert.True(manufacturers.Count >= 10, $"only {manufacturers.Count} manufacturers");
        foreach (var manufacturer in manufacturers)
        {
            var folder = Path.Combine(IngestExamples.IngestDirectory, manufacturer);
            Assert.True(File.Exists(Path.Combine(folder, "README.md")), $"{manufacturer} has no README.md");
            Assert.Contains(IngestExamples.Payloads(), p => p.StartsWith(manufacturer + "/", StringComparison.Ordinal) && !IngestExamples.IsInvalid(p));
        }
    }
}
