using System.Net;
using System.Net.Sockets;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Hosting;

public sealed class LoopbackPortTests
{
    [Fact]
    public void Free_ManyDraws_EachAPortNobodyListensOnBelowTheOutgoingRangeNeverTwice()
    {
        var outgoingFrom = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 200).Select(_ => LoopbackPort.Free()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1024, outgoingFrom - 1));
        Assert.All(ports, port => Assert.False(port is >= 20_000 and <= 31_999, $"{port} is in the range infra/services/lib.sh draws from"));
        foreach (var port in ports.Take(20))
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }
}
