using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>
/// The real <c>telesuivi</c> executable run as a child process on free ports with its own data folder,
/// as an operator would run it. Its console output is kept for assertions and failure messages.
/// </summary>
public sealed class TeleSuiviProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();
    private readonly string dataDirectory;
    private readonly bool ownsDataDirectory;

    private TeleSuiviProcess(Process process, Uri baseUrl, int mqttPort, string dataDirectory, bool ownsDataDirectory)
    {
        this.process = process;
        BaseUrl = baseUrl;
        MqttPort = mqttPort;
        this.dataDirectory = dataDirectory;
        this.ownsDataDirectory = ownsDataDirectory;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>
    /// The admin key every process of this test run accepts (<c>Security:BootstrapApiKey</c>, as automation would set
    /// it), random per run. Commands run with <see cref="RunToExitAsync(TimeSpan, string[])"/> send it too (<c>TELESUIVI_API_KEY</c>).
    /// </summary>
    public static readonly string AdminApiKey = "test-admin-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    public Uri BaseUrl { get; }

    /// <summary>The port given to the embedded broker (unused with an external one).</summary>
    public int MqttPort { get; }

    public string DataDirectory => dataDirectory;

    public string Output => string.Join('\n', output);

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <summary>
    /// Starts <c>telesuivi COMMAND --urls http://127.0.0.1:FREE --mqtt-port FREE --data TEMP [arguments]</c>;
    /// an option given in <paramref name="arguments"/> replaces the fixture's.
    /// </summary>
    public static TeleSuiviProcess Start(string command, IEnumerable<string>? arguments = null, string? dataDirectory = null, IDictionary<string, string>? environment = null)
    {
        var httpPort = LoopbackPort.Free();
        var mqttPort = LoopbackPort.Free();
        var ownsData = dataDirectory is null;
        dataDirectory ??= Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var baseUrl = new Uri($"http://127.0.0.1:{httpPort}");
        var start = StartInfo(command);
        var given = (arguments ?? []).ToList();
        var defaults = new (string Option, string Value)[]
        {
            ("--urls", baseUrl.ToString().TrimEnd('/')),
            ("--mqtt-port", mqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("--data", dataDirectory),
        };
        foreach (var (option, value) in defaults.Where(d => !given.Contains(d.Option)))
        {
            start.ArgumentList.Add(option);
            start.ArgumentList.Add(value);
        }

        foreach (var argument in given)
        {
            start.ArgumentList.Add(argument);
        }

        // Each process is its own ingest worker: a shared broker must keep a session and a shared-subscription
        // group per test, or the tests would split each other's messages.
        var worker = $"test-{Guid.NewGuid():N}";
        start.Environment["TELESUIVI_BROKER__CLIENTID"] = worker;
        start.Environment["TELESUIVI_BROKER__SHAREDGROUP"] = worker;
        start.Environment["TELESUIVI_SECURITY__BOOTSTRAPAPIKEY"] = AdminApiKey;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start telesuivi");
        return new TeleSuiviProcess(process, baseUrl, mqttPort, dataDirectory, ownsData);
    }

    /// <summary>Runs <c>telesuivi ARGUMENTS</c> to completion: (exit code, stdout, stderr).</summary>
    public static Task<(int ExitCode, string Output, string Error)> RunToExitAsync(TimeSpan timeout, params string[] arguments) =>
        RunToExitAsync(timeout, new Dictionary<string, string>(), arguments);

    /// <summary>Runs <c>telesuivi ARGUMENTS</c> to completion with <paramref name="environment"/> added: (exit code, stdout, stderr).</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunToExitAsync(TimeSpan timeout, IDictionary<string, string> environment, params string[] arguments)
    {
        var start = StartInfo(arguments[0]);
        start.Environment["TELESUIVI_API_KEY"] = AdminApiKey;
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start telesuivi");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"telesuivi {string.Join(' ', arguments)} did not exit within {timeout.TotalSeconds:F0} s: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>An HTTP client of this process signed in as an admin (the run's bootstrap API key).</summary>
    public HttpClient CreateClient(TimeSpan? timeout = null) => CreateClient(BaseUrl, timeout);

    /// <summary>An admin HTTP client of any process of this run, for helpers that only know its address.</summary>
    public static HttpClient CreateClient(Uri baseUrl, TimeSpan? timeout = null) => WithKey(baseUrl, AdminApiKey, timeout);

    /// <summary>
    /// An HTTP client with a real API key of <paramref name="role"/> limited to <paramref name="teams"/>, created in this
    /// process's security store as <c>telesuivi apikey create</c> does: for tests of what a nurse, physician or
    /// metrics scraper may see.
    /// </summary>
    public async Task<HttpClient> CreateClientAsync(string role, params string[] teams)
    {
        var accounts = new AccountStore(DataDirectory);
        await accounts.InitializeAsync(CancellationToken.None);
        var (_, secret) = await accounts.CreateApiKeyAsync($"test-{role}", role, teams, DateTimeOffset.UtcNow, CancellationToken.None);
        return WithKey(BaseUrl, secret, null);
    }

    private static HttpClient WithKey(Uri baseUrl, string key, TimeSpan? timeout)
    {
        var http = new HttpClient { BaseAddress = baseUrl, Timeout = timeout ?? TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200, or fails with the process output.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"telesuivi exited with code {process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Slow start on a loaded machine; the deadline decides.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"telesuivi was not ready within {timeout.TotalSeconds:F0} s:\n{Output}");
    }

    /// <summary>
    /// Waits for the process to exit by itself and for the end of its output: <see cref="HasExited"/> turns true before the
    /// last lines are read, so a test that polled it could find <see cref="Output"/> still without the error it printed.
    /// </summary>
    public async Task WaitForExitAsync(TimeSpan timeout, string what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:F0} s:\n{Output}");
        }
    }

    /// <summary>SIGKILL: the process dies on the spot, as in a power cut, with nothing flushed or acknowledged.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>Sends SIGTERM, as a service manager does, and waits for the process to exit.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill!.WaitForExitAsync();
            using var deadline = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(deadline.Token);
        }

        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            try
            {
                await StopAsync(TimeSpan.FromSeconds(15));
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        process.Dispose();
        if (ownsDataDirectory)
        {
            try
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean in /tmp.
            }
        }
    }

    private static ProcessStartInfo StartInfo(string command)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "telesuivi.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.ArgumentList.Add(executable);
        start.ArgumentList.Add(command);
        // The tests' own environment must not leak settings into the process under test.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("TELESUIVI_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        return start;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        output.Enqueue(line);
        while (output.Count > 2000 && output.TryDequeue(out _))
        {
        }
    }
}
