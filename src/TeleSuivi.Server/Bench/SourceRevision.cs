using System.Diagnostics;

namespace TeleSuivi.Server.Bench;

/// <summary>The commit that benchmark figures belong to.</summary>
public static class SourceRevision
{
    /// <summary>The short commit of the clone holding <paramref name="directory"/>, "+dirty" when the measured code differs from it; "unknown" outside a clone.</summary>
    public static string Describe(string directory)
    {
        var head = Git(directory, "rev-parse --short HEAD");
        if (head is null)
        {
            return "unknown";
        }

        var changes = Git(directory, "status --porcelain -- src ingest Directory.Build.props Directory.Packages.props");
        return string.IsNullOrWhiteSpace(changes) ? head : head + "+dirty";
    }

    private static string? Git(string directory, string arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git", $"-C \"{directory}\" {arguments}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
