using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeKws.LocalServers;

/// <summary>Loopback ports for servers a test or a bench starts: picked so that parallel test processes never collide.</summary>
public static class LoopbackPorts
{
    private static readonly Lock PortGate = new();
    private static readonly HashSet<int> HandedOut = [];
    private static readonly List<FileStream> Reservations = [];
    private static readonly string ReservationDirectory = Path.Combine(Path.GetTempPath(), "edgekws-test-ports");

    /// <summary>
    /// A TCP port that was free on 127.0.0.1 a moment ago, for a server the caller starts afterwards.
    /// </summary>
    /// <remarks>
    /// The port is picked at random BELOW the kernel's ephemeral range (ip_local_port_range), not by binding
    /// port 0: a port 0 bind hands out an ephemeral port, and between releasing it and the server binding it
    /// (seconds on a loaded machine) any outgoing connection of a test running in parallel (an MQTT client
    /// retrying every 50 ms, an HTTP client) may be given that same port as its source port, and the server
    /// then fails with "address in use". Outgoing connections never take a port outside the ephemeral range.
    /// A process never hands out the same port twice (a broker restarted on its port keeps it); other test
    /// processes skip it too: each pick is reserved with an exclusive lock on a file named after it in a shared temp
    /// directory, held until this process exits (the kernel drops it even on a crash), so a port a test relies on
    /// being silent (an agent pointed at no broker) never gets another process's server. A pick is also checked
    /// free by binding it.
    /// </remarks>
    public static int Free()
    {
        (int low, int high) = NonEphemeralRange();
        lock (PortGate)
        {
            for (int attempt = 0; attempt < 200; attempt++)
            {
                int port = Random.Shared.Next(low, high);
                if (HandedOut.Contains(port) || !TryReserve(port, out FileStream? reservation))
                {
                    continue;
                }
                if (!CanBind(port))
                {
                    reservation?.Dispose();
                    continue;
                }
                if (reservation is not null)
                {
                    Reservations.Add(reservation);
                }
                HandedOut.Add(port);
                return port;
            }
        }
        // Practically unreachable; the kernel's choice is still a free port.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// False when another process holds <paramref name="port"/>'s reservation. .NET enforces FileShare.None on Unix
    /// with an advisory flock, which every test process honours. A directory that cannot be used (another user's)
    /// reserves nothing and refuses nothing.
    /// </summary>
    private static bool TryReserve(int port, out FileStream? reservation)
    {
        reservation = null;
        string path = Path.Combine(ReservationDirectory, port.ToString(CultureInfo.InvariantCulture) + ".lock");
        try
        {
            Directory.CreateDirectory(ReservationDirectory);
            reservation = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false; // locked by another test process
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static bool CanBind(int port)
    {
        try
        {
            // No SO_REUSEADDR: a port with a listener or a connection in any state is refused here.
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>[low, high) of user ports outside the ephemeral range: 10000 up to its start (32768 by default on Linux).</summary>
    private static (int Low, int High) NonEphemeralRange()
    {
        int ephemeralLow = 32768;
        try
        {
            string[] range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            ephemeralLow = int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Not Linux, or unreadable: assume the IANA/Linux default start.
        }
        // A machine whose ephemeral range starts low leaves no room below it: pick above 1024 and below it anyway.
        return ephemeralLow > 12000 ? (10000, ephemeralLow) : (1025, Math.Max(2000, ephemeralLow));
    }
}
