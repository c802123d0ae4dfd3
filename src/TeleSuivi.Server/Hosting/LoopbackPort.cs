using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TeleSuivi.Server.Hosting;

/// <summary>
/// A loopback TCP port nobody listens on, for a server this process is about to start (the bench's platform, the
/// tests' servers), never the same twice in one process.
/// </summary>
/// <remarks>
/// Drawn below the kernel's range for outgoing connections: a port the kernel hands out for bind(0) lies in that range,
/// and any outgoing connection on the machine can take it before the server binds it (seen in the test suite: a
/// private influxd failing with "address already in use"). Also apart from infra/services/lib.sh's draws
/// (20000–31999), so that a service script cannot pick it either.
/// </remarks>
public static class LoopbackPort
{
    private const int FirstDrawn = 10_000;
    private const int LastDrawn = 19_999;
    private static readonly HashSet<int> Drawn = [];
    private static readonly int LowestOutgoing = LowestOutgoingPort();

    public static int Free()
    {
        if (LowestOutgoing <= LastDrawn)
        {
            // An unusual ip_local_port_range: no range is safe from outgoing connections, so let the kernel choose.
            using var any = new TcpListener(IPAddress.Loopback, 0);
            any.Start();
            return ((IPEndPoint)any.LocalEndpoint).Port;
        }

        lock (Drawn)
        {
            for (var attempt = 0; attempt < 500; attempt++)
            {
                var port = Random.Shared.Next(FirstDrawn, LastDrawn + 1);
                if (Drawn.Contains(port) || !IsFree(port))
                {
                    continue;
                }

                Drawn.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"no free TCP port on 127.0.0.1 between {FirstDrawn} and {LastDrawn}"));
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the kernel's range for outgoing connections (Linux's default is 32768).</summary>
    private static int LowestOutgoingPort()
    {
        const string Range = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(Range)
            && int.TryParse(File.ReadAllText(Range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture, out var low)
            ? low
            : 32_768;
    }
}
