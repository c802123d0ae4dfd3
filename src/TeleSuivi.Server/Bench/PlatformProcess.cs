using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;

namespace TeleSuivi.Server.Bench;

/// <summary>
/// <c>telesuivi serve</c> as a child process of the bench, as an operator runs it: its own data folder, HTTP and
/// embedded broker on the given ports, an admin API key set through <c>Security:BootstrapApiKey</c>, its output in a
/// log file of the data folder. Its CPU time and memory are read from <c>/proc/PID/stat</c> and <c>/proc/PID/status</c>.
/// </summary>
public sealed class PlatformProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StreamWriter log;
    private bool closed;

    private PlatformProcess(Process process, StreamWriter log, Uri baseUrl, string apiKey, string logPath)
    {
        this.process = process;
        this.log = log;
        BaseUrl = baseUrl;
        LogPath = logPath;
        Http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public Uri BaseUrl { get; }

    public string LogPath { get; }

    public int Id => process.Id;

    public HttpClient Http { get; }

    public static PlatformProcess Start(IEnumerable<string> arguments, IDictionary<string, string> environment, Uri baseUrl, string apiKey, string logPath)
    {
        // Started as "dotnet telesuivi.dll" or as the apphost "telesuivi": the child is started the same way.
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell the path of this executable");
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (string.Equals(Path.GetFileNameWithoutExtension(host), "dotnet", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "telesuivi.dll"));
        }

        start.ArgumentList.Add("serve");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start telesuivi serve");
        var writer = new StreamWriter(logPath) { AutoFlush = true };
        var platform = new PlatformProcess(process, writer, baseUrl, apiKey, logPath);
        process.OutputDataReceived += (_, e) => platform.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => platform.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return platform;
    }

    /// <summary>Waits for <c>/health/ready</c>; a process that exits or never gets ready is an error with the end of its log.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"telesuivi serve exited with code {process.ExitCode} before it was ready: {Tail()}");
            }

            try
            {
                using var response = await Http.GetAsync(new Uri("/health/ready", UriKind.Relative), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"telesuivi serve was not ready within {timeout.TotalSeconds:F0} s: {Tail()}");
    }

    /// <summary>User + system CPU time so far, from <c>/proc/PID/stat</c> (fields 14 and 15, in clock ticks of 1/100 s on Linux).</summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: count fields from the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    /// <summary>(VmRSS, VmHWM) in bytes from <c>/proc/PID/status</c>: the resident memory now and its peak since start.</summary>
    public (long Resident, long Peak) Memory()
    {
        long resident = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                resident = Kilobytes(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line);
            }
        }

        return (resident, peak);
    }

    private static long Kilobytes(string line) =>
        1024 * long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    public bool HasExited => process.HasExited;

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                if (!closed)
                {
                    log.WriteLine(line);
                }
            }
        }
    }

    private string Tail()
    {
        lock (log)
        {
            log.Flush();
        }

        var lines = File.ReadLines(LogPath).TakeLast(10).ToList();
        return lines.Count == 0 ? "(no output)" : string.Join(Environment.NewLine, lines);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!process.HasExited)
        {
            // SIGTERM: serve drains, flushes and exits 0; killed only if it does not within the grace period.
            using (var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
            {
                if (term is not null)
                {
                    await term.WaitForExitAsync();
                }
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        process.Dispose();
        lock (log)
        {
            closed = true;
            log.Dispose();
        }
    }
}
