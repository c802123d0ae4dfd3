using TeleSuivi.Server.Broker;

namespace TeleSuivi.Tests.Broker;

/// <summary>The device secrets' hashes, checked against the real mosquitto_passwd of the mosquitto package.</summary>
public sealed class BrokerSecretsTests
{
    [Fact]
    public async Task Verify_HashMadeByMosquittoPasswd_AcceptsItsPasswordOnly()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("telesuivi-passwd-").FullName, "passwords");
        await MosquittoWithGeneratedAcl.MosquittoPasswdAsync("-c", "-b", file, "bp-0042", "s3cret-from-mosquitto");
        var line = (await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken)).Trim();
        var hash = line["bp-0042:".Length..];

        Assert.StartsWith("$7$", hash, StringComparison.Ordinal);
        Assert.True(BrokerSecrets.IsWellFormed(hash));
        Assert.True(BrokerSecrets.Verify("s3cret-from-mosquitto", hash));
        Assert.False(BrokerSecrets.Verify("s3cret-from-mosquittO", hash));
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
    }

    [Fact]
    public void Hash_OfNewSecret_IsSaltedMosquittoFormatWithTheDocumentedIterations()
    {
        var secret = BrokerSecrets.NewSecret();

        var first = BrokerSecrets.Hash(secret);
        var second = BrokerSecrets.Hash(secret);

        Assert.Equal(43, secret.Length);
        Assert.StartsWith($"$7${BrokerSecrets.Iterations}$", first, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        Assert.True(BrokerSecrets.Verify(secret, first));
        Assert.True(BrokerSecrets.Verify(secret, second));
        Assert.False(BrokerSecrets.Verify(BrokerSecrets.NewSecret(), first));
    }

    [Theory]
    [InlineData("")]
    [InlineData("$6$abc$def")]
    [InlineData("$7$0$c2FsdA==$aGFzaA==")]
    [InlineData("$7$101$not base64$aGFzaA==")]
    [InlineData("$7$101$c2FsdA==$dG9vIHNob3J0")]
    public void Verify_MalformedHash_IsFalseNotAnError(string stored)
    {
        Assert.False(BrokerSecrets.IsWellFormed(stored));
        Assert.False(BrokerSecrets.Verify("anything", stored));
    }

    [Theory]
    [InlineData("bp-0042", true)]
    [InlineData("SN.123-x", true)]
    [InlineData("a/b", false)]
    [InlineData("a+b", false)]
    [InlineData("a#", false)]
    [InlineData("user:x", false)]
    [InlineData("with space", false)]
    [InlineData("$SYS", false)]
    [InlineData("", false)]
    public void Problem_OfAccountName_RefusesWhatCannotBeOneTopicLevelOrUsername(string name, bool usable)
    {
        Assert.Equal(usable, BrokerAccounts.Problem(name, "device id") is null);
    }
}
