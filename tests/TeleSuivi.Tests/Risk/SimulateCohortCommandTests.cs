using System.Security.Cryptography;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.CommandLine;

namespace TeleSuivi.Tests.Risk;

public sealed class SimulateCohortCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "telesuivi-cohort-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Hash(string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));

    [Fact]
    public async Task InvokeAsync_SimulateCohort_WritesEveryFileDeterministically()
    {
        var first = Path.Combine(directory, "a");
        var second = Path.Combine(directory, "b");
        Assert.Equal(0, await TeleSuiviCommandLine.InvokeAsync(["simulate", "cohort", "--patients", "12", "--days", "20", "--seed", "5", "--out", first]));
        Assert.Equal(0, await TeleSuiviCommandLine.InvokeAsync(["simulate", "cohort", "--patients", "12", "--days", "20", "--seed", "5", "--out", second]));
        string[] files = ["patients.csv", "readings.csv", "events.csv", "labels.csv", "environment.csv"];
        foreach (var file in files)
        {
            Assert.Equal(Hash(Path.Combine(first, file)), Hash(Path.Combine(second, file)));
        }

        Assert.Equal(13, File.ReadAllLines(Path.Combine(first, "patients.csv")).Length);
        Assert.Equal(1 + (12 * 20), File.ReadAllLines(Path.Combine(first, "labels.csv")).Length);
        Assert.Equal(1 + (12 * 20 * 24), File.ReadAllLines(Path.Combine(first, "environment.csv")).Length);
        Assert.StartsWith("patient_id,device,measure,time,received_at,value,artifact", File.ReadLines(Path.Combine(first, "readings.csv")).First(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvokeAsync_SimulateCohortZeroPatients_UsageError() =>
        Assert.Equal(2, await TeleSuiviCommandLine.InvokeAsync(["simulate", "cohort", "--patients", "0", "--out", directory]));

    [Fact]
    public void Write_Jsonl_ReadingsAndEnvironmentAsJsonLines()
    {
        var cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = 3, Days = 5 }, 1);
        var done = new List<int>();
        var summary = CohortWriter.Write(cohort, directory, CohortFileFormat.Jsonl, done.Add, TestContext.Current.CancellationToken);
        Assert.Equal([1, 2, 3], done);
        var readings = File.ReadAllLines(Path.Combine(directory, "readings.jsonl"));
        Assert.Equal(summary.Readings, readings.Length);
        Assert.All(readings, line => System.Text.Json.JsonDocument.Parse(line).Dispose());
        var environment = File.ReadLines(Path.Combine(directory, "environment.jsonl")).First();
        using var json = System.Text.Json.JsonDocument.Parse(environment);
        Assert.True(json.RootElement.TryGetProperty("pm25", out _));
        Assert.True(json.RootElement.TryGetProperty("temperatureC", out _));
    }
}
