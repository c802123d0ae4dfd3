using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage;

namespace TeleSuivi.Server.Hosting;

/// <summary>
/// An exclusive lock on <c>{DataDirectory}/telesuivi.lock</c>, held by <c>serve</c>, <c>demo</c> and
/// <c>patients erase</c> for as long as they run: the erasure rewrites the spool and the registry, which a running
/// server keeps open and mirrored in memory. The operating system releases the lock when the process ends, however it
/// ends (an advisory <c>flock</c> on Linux).
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    public const string FileName = "telesuivi.lock";

    private readonly FileStream file;

    private DataFolderLock(FileStream file) => this.file = file;

    /// <summary>Takes the lock, or throws <see cref="ConfigurationException"/> saying that another process holds it.</summary>
    public static DataFolderLock Acquire(string dataDirectory, string purpose)
    {
        var directory = Path.GetFullPath(dataDirectory);
        var path = Path.Combine(directory, FileName);
        try
        {
            Directory.CreateDirectory(directory);
            return new DataFolderLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException ex)
        {
            throw new ConfigurationException(
                $"cannot {purpose}: another TeleSuivi process (serve, demo or patients erase) is using the data folder {directory} ({ex.Message})", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new ConfigurationException($"cannot {purpose}: cannot lock {path}: {ex.Message}", ex);
        }
    }

    public void Dispose() => file.Dispose();
}

/// <summary>Holds the <see cref="DataFolderLock"/> while the server runs; registered before anything opens the data folder.</summary>
public sealed class DataFolderGuard(IOptions<StoreOptions> options) : IHostedService, IDisposable
{
    private DataFolderLock? held;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        held = DataFolderLock.Acquire(options.Value.DataDirectory, "start");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => held?.Dispose();
}
