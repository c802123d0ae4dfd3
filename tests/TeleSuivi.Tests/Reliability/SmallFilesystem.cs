using System.Diagnostics;

namespace TeleSuivi.Tests.Reliability;

/// <summary>
/// A real, tiny tmpfs mounted for one test, so that the spool meets a real ENOSPC rather than a simulated limit.
/// Mounting needs root (CAP_SYS_ADMIN): where the test runs without it, the test is skipped and says why; the
/// Store:SpoolMaxBytes variant of the same test still runs.
/// </summary>
public sealed class SmallFilesystem : IAsyncDisposable
{
    private SmallFilesystem(string path) => Path = path;

    public string Path { get; }

    private string Filler => System.IO.Path.Combine(Path, "filler");

    public static async Task<SmallFilesystem> MountAsync(long bytes)
    {
        var path = Directory.CreateTempSubdirectory("telesuivi-tmpfs-").FullName;
        var (exitCode, error) = await RunAsync("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", path);
        if (exitCode != 0)
        {
            Directory.Delete(path);
            Assert.Skip($"cannot mount a small tmpfs here ({error.Trim()}): a real full filesystem needs root; the Store:SpoolMaxBytes variant covers the back-pressure");
        }

        return new SmallFilesystem(path);
    }

    /// <summary>Writes a filler file until no more than <paramref name="freeBytes"/> remain free.</summary>
    public void FillUpTo(long freeBytes)
    {
        var free = new DriveInfo(Path).AvailableFreeSpace;
        using var filler = File.Create(Filler);
        var block = new byte[4096];
        for (long written = 0; written < free - freeBytes; written += block.Length)
        {
            filler.Write(block);
        }
    }

    public void FreeFiller() => File.Delete(Filler);

    /// <summary>The free space and every file with its size, for a failure message.</summary>
    public string Describe()
    {
        var files = Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories)
            .Select(f => $"{System.IO.Path.GetRelativePath(Path, f)} {new FileInfo(f).Length} B");
        return $"{Path}: {new DriveInfo(Path).AvailableFreeSpace} B free; files: {string.Join(", ", files)}";
    }

    public async ValueTask DisposeAsync()
    {
        await RunAsync("umount", "-l", Path);
        Directory.Delete(Path, recursive: true);
    }

    private static async Task<(int ExitCode, string Error)> RunAsync(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start)!;
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, error);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }
}
