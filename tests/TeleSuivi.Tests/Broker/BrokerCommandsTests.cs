using Microsoft.Extensions.Options;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Registry;
using TeleSuivi.Server.Simulation;
using TeleSuivi.Server.Storage;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Broker;

/// <summary><c>telesuivi devices|stations credentials</c> and <c>broker mosquitto-config</c>, run as an operator runs them.</summary>
public sealed class BrokerCommandsTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string root = Directory.CreateTempSubdirectory("telesuivi-accounts-").FullName;

    private string Data => Path.Combine(root, "data");

    [Fact]
    public async Task MosquittoConfig_OfAnEmptyRegistry_IsTheCommittedDeployAcl()
    {
        await CreateRegistryAsync();

        var run = await TeleSuiviProcess.RunToExitAsync(Timeout, "broker", "mosquitto-config", "--data", Data, "--out", Path.Combine(root, "out"));

        Assert.True(run.ExitCode == 0, run.Error);
        var generated = await File.ReadAllTextAsync(Path.Combine(root, "out", "mosquitto-acl"), TestContext.Current.CancellationToken);
        var committed = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Infra, "deploy", "mosquitto", "acl"), TestContext.Current.CancellationToken);
        Assert.Equal(committed, generated);
        Assert.Equal(string.Empty, await File.ReadAllTextAsync(Path.Combine(root, "out", "mosquitto-passwords"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Credentials_Missing_WritesABatchCsvWhoseSecretsMatchTheRegistry()
    {
        await ImportDevicesAsync("batch-1", "batch-2", "batch-3");
        var single = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "batch-1", "--data", Data);
        var csv = Path.Combine(root, "batch.csv");

        var batch = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "--missing", "--out", csv, "--data", Data);
        var again = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "--missing", "--data", Data);

        Assert.True(single.ExitCode == 0, single.Error);
        Assert.True(batch.ExitCode == 0, batch.Error);
        var lines = await File.ReadAllLinesAsync(csv, TestContext.Current.CancellationToken);
        Assert.Equal("username,kind,subject,secret,issued_at", lines[0]);
        Assert.Equal(["batch-2", "batch-3"], lines.Skip(1).Select(l => l.Split(',')[0]));
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(csv));
        }

        Assert.Contains("nothing to issue", again.Error, StringComparison.Ordinal);
        // simulate --credentials reads the same file.
        Assert.Equal(lines.Skip(1).Select(l => l.Split(',')[3]), SimulatedConnections.ReadCredentials(csv).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value));
        using var registry = await OpenRegistryAsync();
        foreach (var fields in lines.Skip(1).Select(l => l.Split(',')))
        {
            var stored = await registry.FindCredentialAsync(fields[0], TestContext.Current.CancellationToken);
            Assert.True(BrokerSecrets.Verify(fields[3], stored!.SecretHash));
            Assert.DoesNotContain(fields[3], stored.SecretHash, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Credentials_WhenRefused_SayWhyAndIssueNothing()
    {
        await ImportDevicesAsync("known-1", "known-2");
        await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "known-1", "--data", Data);
        var existing = Path.Combine(root, "existing.csv");
        await File.WriteAllTextAsync(existing, "keep me", TestContext.Current.CancellationToken);

        var unknown = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "known-2", "nobody", "--out", Path.Combine(root, "new.csv"), "--data", Data);
        var again = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "known-1", "--data", Data);
        var many = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "known-2", "known-1", "--rotate", "--data", Data);
        var overwrite = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "known-2", "--out", existing, "--data", Data);
        var noRegistry = await TeleSuiviProcess.RunToExitAsync(Timeout, "devices", "credentials", "known-2", "--data", Path.Combine(root, "typo"));

        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("device 'nobody' is not registered", unknown.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(root, "new.csv")));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("'known-1' already has a broker account: --rotate", again.Error, StringComparison.Ordinal);
        Assert.Equal(2, many.ExitCode);
        Assert.Contains("--out FILE.csv", many.Error, StringComparison.Ordinal);
        Assert.Equal(1, overwrite.ExitCode);
        Assert.Equal("keep me", await File.ReadAllTextAsync(existing, TestContext.Current.CancellationToken));
        Assert.Equal(3, noRegistry.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(root, "typo")));
        using var registry = await OpenRegistryAsync();
        Assert.Equal(["known-1"], (await registry.CredentialsAsync(TestContext.Current.CancellationToken)).Select(c => c.UserName));
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    private async Task ImportDevicesAsync(params string[] devices)
    {
        foreach (var device in devices)
        {
            var bundle = Path.Combine(root, $"{device}.json");
            await File.WriteAllTextAsync(bundle, RegistryBundles.PatientWithDevice($"p-{device}", device, DateTimeOffset.UtcNow.AddDays(-1)), TestContext.Current.CancellationToken);
            var run = await TeleSuiviProcess.RunToExitAsync(Timeout, "import", bundle, "--data", Data);
            Assert.True(run.ExitCode == 0, run.Error);
        }
    }

    private async Task CreateRegistryAsync()
    {
        using var registry = await OpenRegistryAsync();
    }

    private async Task<DeviceRegistry> OpenRegistryAsync()
    {
        var registry = new DeviceRegistry(Options.Create(new StoreOptions { DataDirectory = Data }));
        await registry.InitializeAsync(TestContext.Current.CancellationToken);
        return registry;
    }
}
