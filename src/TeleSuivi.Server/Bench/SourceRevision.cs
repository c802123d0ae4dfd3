using System.Diagnostics;
using System.Reflection;

namespace TeleSuivi.Server.Bench;

/// <summary>The commit that benchmark figures belong to.</summary>
public static class SourceRevision
{
    public const string Unknown = "unknown";

    // As `git rev-parse --short` prints it in this repository, so that the binary's and a folder's commits compare.
    private const int ShortLength = 7;

    /// <summary>
    /// The commit this binary was built from: the short commit, "+dirty" when the sources differed from it at build
    /// time; "unknown" for a build outside a git clone. Written by the build into <c>AssemblyInformationalVersion</c>
    /// (<c>1.0.0+&lt;commit&gt;[+dirty]</c>, see TeleSuivi.Server.csproj): the figures of <c>telesuivi bench</c> are those
    /// of the binary that ran, whatever folder it ran in.
    /// </summary>
    public static string OfBinary() =>
        FromInformationalVersion(typeof(SourceRevision).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    /// <summary>The revision part of an informational version (<c>VERSION+COMMIT[+dirty]</c>), shortened; "unknown" when it has none.</summary>
    internal static string FromInformationalVersion(string? informationalVersion)
    {
        var plus = informationalVersion?.IndexOf('+', StringComparison.Ordinal) ?? -1;
        if (plus < 0)
        {
            return Unknown;
        }

        var revision = informationalVersion![(plus + 1)..];
        var end = revision.IndexOf('+', StringComparison.Ordinal);
        var commit = end < 0 ? revision : revision[..end];
        if (commit.Length == 0 || !commit.All(char.IsAsciiHexDigit))
        {
            return Unknown;
        }

        return commit[..Math.Min(commit.Length, ShortLength)] + (end < 0 ? string.Empty : revision[end..]);
    }

    /// <summary>The short commit of the clone holding <paramref name="directory"/>, "+dirty" when the measured code differs from it; "unknown" outside a clone.</summary>
    public static string Describe(string directory)
    {
        var head = Git(directory, $"rev-parse --short={ShortLength} HEAD");
        if (head is null)
        {
            return Unknown;
        }

        var changes = Git(directory, "status --porcelain -- src ingest Directory.Build.props Directory.Packages.props");
        return string.IsNullOrWhiteSpace(changes) ? head : head + "+dirty";
    }

    /// <summary>
    /// A sentence for the report when the folder the bench ran in is not the code the binary was built from (another
    /// commit, or the same with other changes); null when they agree or either cannot be told. Two "+dirty" of one
    /// commit may still differ: the sentence says they cannot be told apart.
    /// </summary>
    public static string? FolderMismatch(string binary, string folder)
    {
        ArgumentNullException.ThrowIfNull(binary);
        ArgumentNullException.ThrowIfNull(folder);
        if (binary == Unknown || folder == Unknown)
        {
            return null;
        }

        var (binaryCommit, binaryChanges) = Split(binary);
        var (folderCommit, folderChanges) = Split(folder);

        // git lengthens a short commit that would be ambiguous: one may be a longer spelling of the other.
        var sameCommit = binaryCommit.StartsWith(folderCommit, StringComparison.Ordinal) || folderCommit.StartsWith(binaryCommit, StringComparison.Ordinal);
        if (!sameCommit || !string.Equals(binaryChanges, folderChanges, StringComparison.Ordinal))
        {
            return $"the folder the bench ran in is at {folder}, not {binary}: the figures are those of the binary ({binary})";
        }

        return binaryChanges.Length > 0
            ? $"the binary and the folder are both {binary}: their uncommitted changes may differ"
            : null;
    }

    private static (string Commit, string Changes) Split(string revision)
    {
        var plus = revision.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (revision, string.Empty) : (revision[..plus], revision[plus..]);
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
