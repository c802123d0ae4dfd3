using System.Diagnostics;

namespace TeleSuivi.Benchmarks.Storage;

/// <summary>
/// The one influxd of a benchmark run, started with infra/services/start-influxd.sh (as developers and the tests start
/// it) in a temporary folder on a free loopback port when a storage benchmark first needs it, and stopped with
/// stop.sh at the end of the run (or when the process exits). The storage benchmarks run in the host process, so the
/// raw-rate reference and the platform's writes go to the very same server.
/// </summary>
public static class BenchmarkInfluxd
{
    private static readonly Lock Gate = new();
    private static string? directory;
    private static Uri? url;

    /// <summary>The base URL of the run's influxd, started on first use.</summary>
    public static Uri Url
    {
        get
        {
            lock (Gate)
            {
                if (url is null)
                {
                    directory = Directory.CreateTempSubdirectory("telesuivi-bench-influxd-").FullName;
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
                    var output = RunScript("start-influxd.sh", directory);
                    var line = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("INFLUX_URL=", StringComparison.Ordinal))
                        ?? throw new InvalidOperationException($"start-influxd.sh printed no INFLUX_URL: {output}");
                    url = new Uri(line["INFLUX_URL=".Length..]);
                }

                return url;
            }
        }
    }

    /// <summary>The store address of a database of the run's influxd.</summary>
    public static string StoreUrl(string database) => $"influxdb://{Url.Host}:{Url.Port}/{database}";

    /// <summary>Stops influxd and deletes its data, if it was started; safe to call twice.</summary>
    public static void Stop()
    {
        lock (Gate)
        {
            if (directory is null)
            {
                return;
            }

            RunScript("stop.sh", directory);
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean in /tmp.
            }

            directory = null;
            url = null;
        }
    }

    private static string RunScript(string script, string argument)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(Corpus.RepositoryRoot, "infra", "services", script));
        start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {script}");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"infra/services/{script} {argument} failed ({process.ExitCode}): {error.Result}{output}");
        }

        return output;
    }
}
