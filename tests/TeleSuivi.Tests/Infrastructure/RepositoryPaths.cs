namespace TeleSuivi.Tests.Infrastructure;

/// <summary>Finds the repository the tests were built from, so they can use its scripts and data folders.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> LazyRoot = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TeleSuivi.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"TeleSuivi.sln not found above {AppContext.BaseDirectory}");
    });

    public static string Root => LazyRoot.Value;

    public static string Infra => Path.Combine(Root, "infra");

    public static string Ingest => Path.Combine(Root, "ingest");
}
