using Microsoft.Extensions.Configuration;
using TeleSuivi.Server;
using TeleSuivi.Server.Hosting;
using TeleSuivi.Tests.Infrastructure;

namespace TeleSuivi.Tests.ScaleOut;

/// <summary><c>Node:Roles</c>: what one process runs when several share the work.</summary>
public sealed class NodeRolesTests
{
    [Theory]
    [InlineData(null, NodeRoles.All)]
    [InlineData("", NodeRoles.All)]
    [InlineData("all", NodeRoles.All)]
    [InlineData("ingest", NodeRoles.Ingest)]
    [InlineData("Web", NodeRoles.Web)]
    [InlineData(" ingest , web ", NodeRoles.All)]
    public void Read_Setting_GivesTheRoles(string? setting, NodeRoles expected) =>
        Assert.Equal(expected, NodeRoleSettings.Read(Configuration(setting)));

    [Theory]
    [InlineData("ingest,board", "'board' is not a role")]
    [InlineData(",", "names no role")]
    public void Read_UnknownOrNoRole_IsAConfigurationError(string setting, string reason)
    {
        var error = Assert.Throws<ConfigurationException>(() => NodeRoleSettings.Read(Configuration(setting)));

        Assert.Contains("Node:Roles", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_UnknownRole_ExitsWithStartFailedNamingTheSetting()
    {
        await using var node = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string> { ["TELESUIVI_NODE__ROLES"] = "worker" });

        await node.WaitForExitAsync(TimeSpan.FromSeconds(60), "telesuivi to exit");

        Assert.Equal(ExitCodes.StartFailed, node.ExitCode);
        Assert.Contains("Node:Roles 'worker' is not valid", node.Output, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(string? roles) =>
        new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>(NodeRoleSettings.Key, roles)]).Build();
}
