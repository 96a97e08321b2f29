using System.Diagnostics;
using System.Net.Sockets;

namespace EdgeKws.Device.Tests.Uplink;

/// <summary>
/// A real Mosquitto process on 127.0.0.1 with a generated config in a private temp directory. Missing
/// binaries fail the test (they are part of the test environment: Debian package <c>mosquitto</c>).
/// </summary>
internal sealed class MosquittoBroker : IAsyncDisposable
{
    private Process? _process;

    private MosquittoBroker(string directory, int port, string configPath)
    {
        Directory = directory;
        Port = port;
        ConfigPath = configPath;
    }

    public string Directory { get; }

    public int Port { get; }

    public string ConfigPath { get; }

    public string LogPath => Path.Combine(Directory, "mosquitto.log");

    public string Log => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "(no log)";

    /// <summary>
    /// Writes a config: a listener on <see cref="Port"/>, persistence in the temp directory (so a restarted broker
    /// still holds the subscriber's session and queued messages), then <paramref name="extraConfig"/>
    /// (which may refer to files in the directory via the <c>{dir}</c> placeholder).
    /// </summary>
    public static MosquittoBroker Create(string globalConfig, string? listenerConfig = null, Action<string>? prepareDirectory = null)
    {
        string dir = System.IO.Directory.CreateTempSubdirectory("edgekws-mosquitto-").FullName;
        prepareDirectory?.Invoke(dir);
        int port = UplinkTestKit.FreePort();
        string config = string.Join('\n',
            "user root", // do not drop privileges: the temp directory belongs to the test's user
            "persistence true",
            $"persistence_location {dir}/",
            "max_queued_messages 100000",
            $"log_dest file {dir}/mosquitto.log",
            "log_type all",
            globalConfig.Replace("{dir}", dir, StringComparison.Ordinal),
            $"listener {port} 127.0.0.1",
            (listenerConfig ?? string.Empty).Replace("{dir}", dir, StringComparison.Ordinal),
            string.Empty);
        string configPath = Path.Combine(dir, "mosquitto.conf");
        File.WriteAllText(configPath, config);
        return new MosquittoBroker(dir, port, configPath);
    }

    public static string Executable(string name)
    {
        string[] dirs = [.. (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'), "/usr/sbin", "/usr/local/sbin", "/sbin"];
        foreach (string d in dirs)
        {
            string candidate = Path.Combine(d, name);
            if (d.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }
        Assert.Fail($"'{name}' is not installed (searched PATH, /usr/sbin, /usr/local/sbin). These interop tests need a real Mosquitto: "
            + "install the Debian package with `apt-get install -y mosquitto` (it provides mosquitto and mosquitto_passwd).");
        return string.Empty;
    }

    /// <summary>Adds a user to a password file with <c>mosquitto_passwd -b</c>.</summary>
    public static void AddPassword(string passwordFile, string user, string password)
    {
        var psi = new ProcessStartInfo(Executable("mosquitto_passwd")) { RedirectStandardError = true, RedirectStandardOutput = true };
        if (!File.Exists(passwordFile))
        {
            psi.ArgumentList.Add("-c");
        }
        psi.ArgumentList.Add("-b");
        psi.ArgumentList.Add(passwordFile);
        psi.ArgumentList.Add(user);
        psi.ArgumentList.Add(password);
        using Process p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"mosquitto_passwd failed ({p.ExitCode}): {err}");
    }

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo(Executable("mosquitto")) { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(ConfigPath);
        _process = Process.Start(psi)!;
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"mosquitto exited at start with code {_process.ExitCode}; config:\n{File.ReadAllText(ConfigPath)}\nlog:\n{Log}");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (sw.Elapsed < TimeSpan.FromSeconds(60)) // liveness only
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>SIGTERM: the broker dies mid-stream but writes its persistence file, as on a service restart.</summary>
    public async Task TerminateAsync()
    {
        Process p = _process ?? throw new InvalidOperationException("not started");
        using (Process kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        p.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort; it is a temp directory.
        }
    }
}
