using System.Diagnostics;
using System.Globalization;

namespace EdgeKws.LocalServers;

/// <summary>
/// A real Mosquitto 2 broker for tests and the ingest bench, on a free loopback port with a generated config (password
/// file and ACL when given), killed by its PID on dispose. Fails with a clear message when Mosquitto is not installed.
/// </summary>
public sealed class LocalMosquitto : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private LocalMosquitto(Process process, string dir, int port, int tlsPort)
    {
        _process = process;
        _dir = dir;
        Port = port;
        TlsPort = tlsPort;
    }

    /// <summary>The loopback port.</summary>
    public int Port { get; }

    /// <summary>The loopback TLS port (0: no TLS listener).</summary>
    public int TlsPort { get; }

    /// <summary>The broker's log file.</summary>
    public string LogPath => Path.Combine(_dir, "mosquitto.log");

    /// <summary>The broker's log so far.</summary>
    public string Log() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;

    /// <summary>Finds the mosquitto executable.</summary>
    public static string? FindExecutable() =>
        new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto" }.FirstOrDefault(File.Exists);

    /// <summary>Starts the broker with authentication from <paramref name="passwordFile"/> and <paramref name="aclFile"/>
    /// (both null: anonymous access). With <paramref name="tls"/> it also opens a TLS listener on <see cref="TlsPort"/> with that
    /// server certificate (no client certificate required; the same authentication applies).</summary>
    public static LocalMosquitto Start(string? passwordFile, string? aclFile, BrokerTlsFiles? tls = null)
    {
        string exe = FindExecutable() ?? throw new InvalidOperationException(
            "mosquitto was not found in /usr/sbin or /usr/bin: install it with 'apt-get install -y mosquitto'");
        string dir = Path.Combine(Path.GetTempPath(), "edgekws-mosquitto-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        int port = LoopbackPorts.Free();
        var config = new List<string>
        {
            "per_listener_settings false",
            $"listener {port.ToString(CultureInfo.InvariantCulture)} 127.0.0.1",
            "persistence false",
            // A shared-subscription member that is down keeps its share queued in its session: never drop it.
            "max_queued_messages 0",
            $"log_dest file {Path.Combine(dir, "mosquitto.log")}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        };
        int tlsPort = 0;
        if (tls is not null)
        {
            tlsPort = LoopbackPorts.Free();
            config.Add($"listener {tlsPort.ToString(CultureInfo.InvariantCulture)} 127.0.0.1");
            config.Add("cafile " + tls.CaPemPath);
            config.Add("certfile " + tls.ServerPemPath);
            config.Add("keyfile " + tls.ServerKeyPath);
        }
        if (ServerProcess.IsRoot)
        {
            config.Add("user root"); // read the generated files without handing them to the mosquitto user
        }
        if (passwordFile is null && aclFile is null)
        {
            config.Add("allow_anonymous true");
        }
        else
        {
            config.Add("allow_anonymous false");
            if (passwordFile is not null)
            {
                config.Add("password_file " + passwordFile);
            }
            if (aclFile is not null)
            {
                config.Add("acl_file " + aclFile);
            }
        }
        string conf = Path.Combine(dir, "mosquitto.conf");
        File.WriteAllLines(conf, config);
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(conf);
        Process p = Process.Start(psi) ?? throw new InvalidOperationException("could not start mosquitto");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var broker = new LocalMosquitto(p, dir, port, tlsPort);
        try
        {
            ServerProcess.WaitForPort(port, TimeSpan.FromSeconds(60), () => (p.HasExited ? $"mosquitto exited with {p.ExitCode}; " : string.Empty) + broker.Log());
            if (tlsPort != 0)
            {
                ServerProcess.WaitForPort(tlsPort, TimeSpan.FromSeconds(60), () => (p.HasExited ? $"mosquitto exited with {p.ExitCode}; " : string.Empty) + broker.Log());
            }
            return broker;
        }
        catch
        {
            broker.Dispose();
            throw;
        }
    }

    /// <summary>Adds or replaces a user in a Mosquitto password file with the real <c>mosquitto_passwd</c> tool.</summary>
    public static void AddPassword(string passwordFile, string user, string password) =>
        ServerProcess.Run("mosquitto_passwd", ["-b", passwordFile, user, password]);

    /// <summary>Kills the broker by its PID and deletes its directory.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp directory must not fail a test
        }
    }
}

/// <summary>PEM files of a broker's TLS listener: the CA clients trust, the server certificate and its private key.</summary>
public sealed record BrokerTlsFiles(string CaPemPath, string ServerPemPath, string ServerKeyPath);
