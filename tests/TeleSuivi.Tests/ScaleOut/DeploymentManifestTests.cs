using System.Diagnostics;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary>
/// The Kubernetes manifests of infra/deploy, checked without a cluster by infra/deploy/check-manifests.py: YAML that
/// parses, and names that resolve (Services to pods and ports, pods to ConfigMaps and Secrets, generators to files
/// in the repository or written by make-secrets.sh). Whether a real cluster accepts them is not tested here.
/// </summary>
public sealed class DeploymentManifestTests
{
    [Theory]
    [InlineData("deploy")]
    [InlineData("deploy/scaleout")]
    public async Task CheckManifests_Kustomization_FindsNoProblem(string folder)
    {
        var (exitCode, output) = await CheckAsync(Path.Combine(RepositoryPaths.Infra, folder));

        Assert.True(exitCode == 0, output);
        Assert.StartsWith("ok: ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckManifests_PodReadingAnUndefinedSecret_IsReported()
    {
        var copy = Directory.CreateTempSubdirectory("telesuivi-manifests-").FullName;
        try
        {
            foreach (var folder in new[] { "kubernetes", "scaleout" })
            {
                Directory.CreateDirectory(Path.Combine(copy, folder));
                foreach (var file in Directory.GetFiles(Path.Combine(RepositoryPaths.Infra, "deploy", folder), "*.yaml"))
                {
                    File.Copy(file, Path.Combine(copy, folder, Path.GetFileName(file)));
                }
            }

            var redis = Path.Combine(copy, "scaleout", "redis.yaml");
            var text = await File.ReadAllTextAsync(redis, TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(redis, text.Replace("name: redis-credentials", "name: redis-passwords", StringComparison.Ordinal), TestContext.Current.CancellationToken);

            var (exitCode, output) = await CheckAsync(Path.Combine(copy, "scaleout"), "--secrets-script", Path.Combine(RepositoryPaths.Infra, "deploy", "make-secrets.sh"));

            Assert.Equal(1, exitCode);
            Assert.Contains("reads secretRef redis-passwords, which nothing defines", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> CheckAsync(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepositoryPaths.Infra, "deploy", "check-manifests.py"));
        start.ArgumentList.Add(folder);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start python3");
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, (await output + await error).Trim());
    }
}
