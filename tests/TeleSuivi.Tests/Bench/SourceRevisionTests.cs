using TeleSuivi.Server.Bench;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.Bench;

/// <summary>The commit a bench's figures are recorded under: the binary's, built into it, and the folder's beside it.</summary>
public sealed class SourceRevisionTests
{
    [Theory]
    [InlineData("1.0.0+cc042656584c6e3c9d1671f57506de7a9a1a67e4", "cc04265")]
    [InlineData("1.0.0+cc042656584c6e3c9d1671f57506de7a9a1a67e4+dirty", "cc04265+dirty")]
    [InlineData("1.0.0+cc042656584c6e3c9d1671f57506de7a9a1a67e4+unchecked", "cc04265+unchecked")]
    [InlineData("1.0.0", "unknown")]
    [InlineData("1.0.0+", "unknown")]
    [InlineData("1.0.0+not-a-commit", "unknown")]
    [InlineData(null, "unknown")]
    public void FromInformationalVersion_AsTheBuildWritesIt_IsTheShortCommitAndItsState(string? informationalVersion, string expected) =>
        Assert.Equal(expected, SourceRevision.FromInformationalVersion(informationalVersion));

    /// <summary>The test assembly and telesuivi are built together from this clone, just before the tests run.</summary>
    [Fact]
    public void OfBinary_BuiltInThisClone_IsTheCloneCommit()
    {
        var folder = SourceRevision.Describe(RepositoryPaths.Root);
        Assert.SkipWhen(folder == SourceRevision.Unknown, "the tests were built outside a git clone");

        var binary = SourceRevision.OfBinary();

        Assert.NotEqual(SourceRevision.Unknown, binary);
        Assert.Equal(folder.Split('+')[0], binary.Split('+')[0]);
    }

    [Theory]
    [InlineData("abc1234", "abc1234", null)]
    [InlineData("abc1234", "abc12345", null)]
    [InlineData("abc1234", "unknown", null)]
    [InlineData("unknown", "abc1234", null)]
    [InlineData("abc1234", "def5678", "the folder the bench ran in is at def5678, not abc1234: the figures are those of the binary (abc1234)")]
    [InlineData("abc1234", "abc1234+dirty", "the folder the bench ran in is at abc1234+dirty, not abc1234: the figures are those of the binary (abc1234)")]
    [InlineData("abc1234+dirty", "abc1234+dirty", "the binary and the folder are both abc1234+dirty: their uncommitted changes may differ")]
    public void FolderMismatch_BinaryAndFolder_SaysWhenTheyDiffer(string binary, string folder, string? expected) =>
        Assert.Equal(expected, SourceRevision.FolderMismatch(binary, folder));

    [Fact]
    public void Table_FolderAtAnotherCommit_SaysTheFiguresAreTheBinarys()
    {
        var report = BenchTargetsTests.Report() with { Commit = "abc1234", FolderCommit = "def5678" };

        var table = BenchOutput.Table(report);

        Assert.Contains("commit abc1234 (the folder the bench ran in is at def5678, not abc1234: the figures are those of the binary (abc1234))", table, StringComparison.Ordinal);
    }
}
