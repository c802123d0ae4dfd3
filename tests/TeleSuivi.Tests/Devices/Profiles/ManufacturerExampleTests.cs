namespace TeleSuivi.Tests.Devices.Profiles;

/// <summary>Every example payload of every manufacturer folder, discovered from ingest/ at test time.</summary>
public sealed class ManufacturerExampleTests
{
    /// <summary>Set to 1 to write a missing NAME.expected.json from the current output, to be checked by hand before committing.</summary>
    private const string WriteExpectedVariable = "TELESUIVI_WRITE_EXPECTED";

    public static TheoryData<string> ValidExamples() => [.. IngestExamples.Payloads().Where(p => !IngestExamples.IsInvalid(p))];

    public static TheoryData<string> InvalidExamples() => [.. IngestExamples.Payloads().Where(IngestExamples.IsInvalid)];

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
