using System.Diagnostics;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>Runs one of the repository's infra scripts, the same ones developers use by hand.</summary>
public static class ShellScript
{
    public static Task<string> RunAsync(string script, params string[] arguments) => RunAsync(script, new Dictionary<string, string>(), arguments);

    public static async Task<string> RunAsync(string script, IDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(RepositoryPaths.Infra, script));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {script}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await error}{await output}");
        }

        return await output;
    }

    /// <summary>The value of a <c>NAME=value</c> line a start script printed.</summary>
    public static string Value(string output, string name) =>
        output.Split('\n').Select(line => line.Trim()).FirstOrDefault(line => line.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..]
        ?? throw new InvalidOperationException($"no {name}= line in: {output}");
}
